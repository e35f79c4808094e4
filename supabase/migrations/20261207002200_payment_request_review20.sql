-- Review 20 of payment requests (issue 20): what closing a request must hold once money is in flight.
--
-- 1. A request expired while a share was still processing, whose every share then ends paid, is paid
--    after all (completed_at, payment_request_completed and, for a track, add_project, once each): the
--    members paid what was asked. Expiry itself no longer expires a request whose only unpaid shares are
--    processing (outcome in_flight: a later pass decides, once the debits settle).
-- 2. A share paid on a request that stays canceled or expired (a bank debit that settled late, a card
--    confirmed on a PaymentIntent reopened by a failed debit) is logged as
--    payment_request.share_paid_on_closed_request, which the ops alert of that name reads until the share
--    is refunded. payment_request_close_share() retires such a reopened PaymentIntent's attempt and its
--    unpaid share order, after the janitor canceled it at Stripe (server/paymentRequests/expire.ts).

-- ================================================================================================
-- 1 and 2: the request's state follows its share orders, as in 20261207001700_payment_requests.sql,
-- with the closed requests' two cases.
-- ================================================================================================
create or replace function payment_request_on_share_order() returns trigger language plpgsql as $$
declare
  m payment_request_members;
  r payment_requests;
  v_member_status text := payment_request_member_status(new.status);
  v_request_status text;
  v_count integer;
  v_paid integer;
  v_active integer;
begin
  select * into m from payment_request_members where order_id = new.id for update;
  if not found then
    return null;
  end if;
  select * into r from payment_requests where id = m.payment_request_id for update;
  if m.status is distinct from v_member_status then
    update payment_request_members
       set status = v_member_status,
           paid_at = case when v_member_status = 'paid' then coalesce(paid_at, now()) else paid_at end,
           updated_at = now()
     where id = m.id;
    perform payment_log_for_order(new, 'payment_request.member_' || v_member_status, v_member_status, jsonb_build_object(
      'actor', 'system', 'payment_request_id', r.id, 'payment_request_member_id', m.id,
      'previous_status', m.status, 'order_status', new.status));
  end if;
  if r.status in ('paid', 'canceled', 'expired') then
    select count(*), count(*) filter (where status = 'paid') into v_count, v_paid
      from payment_request_members where payment_request_id = r.id;
    -- Every share of an expired request paid after all (a debit processing at expiry that settled):
    -- the request is complete, below. Otherwise a closed request keeps its status.
    if not (r.status = 'expired' and v_paid = v_count) then
      if v_member_status = 'paid' and m.status is distinct from 'paid' and r.status <> 'paid' then
        -- Money taken for a request that will not complete: staff refund it (the ops alert
        -- SHARE_PAID_ON_CLOSED_REQUEST reads these entries while the share is not refunded).
        perform payment_log_for_order(new, 'payment_request.share_paid_on_closed_request', v_member_status, jsonb_build_object(
          'actor', 'system', 'payment_request_id', r.id, 'payment_request_member_id', m.id, 'request_status', r.status,
          'amount', new.amount, 'currency', new.currency));
      end if;
      return null;
    end if;
  end if;
  select count(*), count(*) filter (where status = 'paid'), count(*) filter (where status in ('paid', 'processing', 'refunded'))
    into v_count, v_paid, v_active
    from payment_request_members where payment_request_id = r.id;
  v_request_status := case when v_paid = v_count then 'paid' when v_active > 0 then 'partially_paid' else 'open' end;
  if v_request_status = r.status then
    return null;
  end if;
  update payment_requests
     set status = v_request_status,
         completed_at = case when v_request_status = 'paid' then now() end,
         updated_at = now()
   where id = r.id;
  perform payment_log_for_order(new, 'payment_request.' || v_request_status, v_request_status, jsonb_build_object(
    'actor', 'system', 'payment_request_id', r.id, 'payment_request_member_id', m.id, 'previous_status', r.status));
  if v_request_status = 'paid' then
    -- Once each: the dedupe keys are the request's, whatever order the members' payments land in.
    perform make_enqueue('payment_request_completed', r.id::text, null, null, r.id::text, payment_request_make_data(r.id));
    if r.product_id is not null then
      perform make_enqueue('add_project', 'payment_request:' || r.id, null, null, r.id::text, payment_request_make_data(r.id));
    end if;
  end if;
  return null;
end
$$;
revoke execute on function payment_request_on_share_order() from public, anon, authenticated;

-- Expiry, as in 20261207001720_payment_request_pay.sql, and one more outcome: in_flight when every share
-- not paid is processing (a bank debit on its way): nothing is changed, and a later pass expires the
-- request if a debit fails (that share is then unpaid) or finds it paid.
create or replace function payment_request_expire(p jsonb) returns jsonb language plpgsql as $$
declare
  r payment_requests;
  o orders;
  v_request uuid := (p->>'request_id')::uuid;
  v_unpaid constant text[] := array['pending', 'requires_action', 'failed'];
  v_paid constant text[] := array['paid', 'partially_refunded', 'disputed'];
  v_canceled integer := 0;
begin
  perform 1 from orders where payment_request_id = v_request order by id for update;
  perform 1 from payment_request_members where payment_request_id = v_request order by id for update;
  select * into r from payment_requests where id = v_request for update;
  if not found or r.status not in ('open', 'partially_paid') or r.expires_at is null or r.expires_at > (p->>'now')::timestamptz then
    return jsonb_build_object('outcome', 'unchanged', 'status', r.status);
  end if;
  if exists (select 1 from orders x join payment_attempts a on a.order_id = x.id
              where x.payment_request_id = v_request and x.status = any (v_unpaid) and a.status in ('creating', 'open')) then
    return jsonb_build_object('outcome', 'live_attempt', 'status', r.status);
  end if;
  if exists (select 1 from orders where payment_request_id = v_request and status = 'processing')
     and not exists (select 1 from orders where payment_request_id = v_request and status <> 'processing' and not (status = any (v_paid))) then
    return jsonb_build_object('outcome', 'in_flight', 'status', r.status);
  end if;

  update payment_requests set status = 'expired', updated_at = now() where id = v_request;
  for o in update orders set status = 'canceled', updated_at = now()
            where payment_request_id = v_request and status = any (v_unpaid)
           returning * loop
    v_canceled := v_canceled + 1;
    update payment_request_members set status = 'canceled', updated_at = now()
     where order_id = o.id and status <> 'canceled';
    perform payment_log_for_order(o, 'payment_request.share_canceled', 'canceled',
      jsonb_build_object('actor', p->>'actor', 'reason', 'expired', 'payment_request_id', v_request,
                         'payment_request_member_id', (select id from payment_request_members where order_id = o.id)));
  end loop;
  return jsonb_build_object('outcome', 'expired', 'status', 'expired', 'shares_canceled', v_canceled);
end
$$;
revoke execute on function payment_request_expire(jsonb) from public, anon, authenticated;

-- The open PaymentIntents of unpaid shares of closed (canceled or expired) requests: reopened after the
-- request closed (a failed bank debit reopens its attempt, money_path.sql checkout.attempt_reopened), so
-- still payable with the client secret the member's page holds. The janitor cancels each at Stripe.
create function payment_request_stale_share_attempts(p_limit integer) returns table (
  attempt_id uuid, order_id uuid, attempt integer, stripe_object_id text, payment_request_id uuid
) language sql stable as $$
  select a.id, a.order_id, a.attempt, a.stripe_object_id, o.payment_request_id
    from payment_requests r
    join orders o on o.payment_request_id = r.id
    join payment_attempts a on a.order_id = o.id
   where r.status in ('canceled', 'expired')
     and o.status in ('pending', 'requires_action', 'failed')
     and a.kind = 'payment_intent' and a.status = 'open' and a.stripe_object_id is not null
   order by o.id, a.attempt
   limit p_limit
$$;

-- After its PaymentIntent was canceled at Stripe: under the locks (the share order, its member, the
-- request), the attempt is canceled and the unpaid share order canceled (its member follows). p:
-- attempt_id, actor. Answers {outcome: closed | unchanged}: unchanged when the request is open again
-- (it cannot be) or the share was paid meanwhile (applied by whoever saw it).
create function payment_request_close_share(p jsonb) returns jsonb language plpgsql as $$
declare
  a payment_attempts;
  o orders;
  m payment_request_members;
  r payment_requests;
begin
  perform checkout_lock_attempt_order((p->>'attempt_id')::uuid);
  select * into a from payment_attempts where id = (p->>'attempt_id')::uuid for update;
  select * into o from orders where id = a.order_id;
  select * into m from payment_request_members where order_id = o.id for update;
  select * into r from payment_requests where id = o.payment_request_id for update;
  if r.id is null or r.status not in ('canceled', 'expired') or o.status not in ('pending', 'requires_action', 'failed') then
    return jsonb_build_object('outcome', 'unchanged', 'order_status', o.status);
  end if;
  update payment_attempts set status = 'canceled', last_error = 'payment request ' || r.status, updated_at = now()
   where id = a.id and status in ('open', 'needs_cleanup');
  perform payment_log_for_order(o, 'checkout.attempt_canceled', 'canceled',
    jsonb_build_object('actor', p->>'actor', 'attempt', a.attempt, 'stripe_object_id', a.stripe_object_id, 'error', 'payment request ' || r.status));
  update orders set status = 'canceled', updated_at = now() where id = o.id returning * into o;
  perform payment_log_for_order(o, 'payment_request.share_canceled', 'canceled',
    jsonb_build_object('actor', p->>'actor', 'reason', 'request_' || r.status, 'payment_request_id', r.id, 'payment_request_member_id', m.id));
  return jsonb_build_object('outcome', 'closed');
end
$$;
revoke execute on function payment_request_stale_share_attempts(integer), payment_request_close_share(jsonb) from public, anon, authenticated;
