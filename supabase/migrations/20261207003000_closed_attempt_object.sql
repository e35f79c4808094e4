-- An attempt the janitor abandoned while Stripe was still making its object X (checkout_record_attempt
-- refuses it: 55000, attempt_closed_meanwhile) stayed `abandoned` with no object: the caller closed X at
-- Stripe, but checkout_mark_attempt only touched creating/open/needs_cleanup attempts, so neither X nor a
-- failed cancel (needs_cleanup, for the janitor to retry) was recorded. Then X's canceled/expired event
-- found the abandoned attempt by X's metadata and order_apply_payment set it `open` beside the order's
-- next, live attempt: 23505 on payment_attempts_one_live_per_order, the event retried and finally failed.
--
-- 1. checkout_mark_attempt records a closed (or to-be-closed) object on an abandoned attempt that has
--    none: status canceled/expired/needs_cleanup with the object id. Lock order as before: the order's
--    row (checkout_lock_attempt_order), then the attempt.
-- 2. order_apply_payment never brings a dead attempt (abandoned, canceled, expired) back to `open`: an
--    attempt found by metadata gets the object's id, and becomes `open` only from `creating`; a
--    canceled/expired event settles an abandoned attempt it just recorded the object of. Otherwise the
--    body is as in supabase/schema.sql before this migration (20261207002400_storefront_sync_state.sql).

create or replace function checkout_mark_attempt(p jsonb) returns jsonb language plpgsql as $$
declare
  a payment_attempts;
  o orders;
begin
  perform checkout_lock_attempt_order((p->>'attempt_id')::uuid);
  update payment_attempts
     set status = coalesce(p->>'status', status), last_error = left(p->>'error', 1000),
         stripe_object_id = coalesce(stripe_object_id, p->>'object_id'), updated_at = now()
   where id = (p->>'attempt_id')::uuid
     and (status in ('creating', 'open', 'needs_cleanup')
          -- Abandoned while Stripe was making its object: the object, closed (or to be closed by the
          -- janitor) by whoever made it, is recorded on it.
          or (status = 'abandoned' and stripe_object_id is null and p->>'object_id' is not null
              and p->>'status' in ('canceled', 'expired', 'needs_cleanup')))
   returning * into a;
  if not found then
    select * into a from payment_attempts where id = (p->>'attempt_id')::uuid;
    return to_jsonb(a);
  end if;
  select * into o from orders where id = a.order_id;
  perform payment_log_for_order(o,
    case when p->>'status' is null then 'checkout.attempt_error' else 'checkout.attempt_' || a.status end,
    a.status,
    jsonb_build_object('actor', p->>'actor', 'attempt', a.attempt, 'stripe_object_id', a.stripe_object_id, 'error', left(p->>'error', 500)));
  return to_jsonb(a);
end
$$;
revoke execute on function checkout_mark_attempt(jsonb) from public, anon, authenticated;

CREATE OR REPLACE FUNCTION public.order_apply_payment(p jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
AS $function$
declare
  a payment_attempts;
  o orders;
  pay payments;
  v_order_id uuid;
  v_status text := p->>'order_status';
  v_at timestamptz := (p->>'event_created')::timestamptz;
  v_pi text := p->>'payment_intent_id';
  v_amount bigint := (p->>'amount')::bigint;
  v_money boolean := p->>'order_status' in ('paid', 'processing');
  v_finding text;
  v_becomes_paid boolean;
  v_sync text;
  v_event text;
  v_unpaid constant text[] := array['pending', 'requires_action', 'processing', 'failed'];
  v_dead_recorded boolean := false;
  -- The webhook applier does not read the order back: building its view costs more than the change.
  v_view constant boolean := p->>'source' is distinct from 'webhook';
begin
  select * into a from payment_attempts where stripe_object_id = p->>'object_id';
  if not found and p->>'order_id' is not null and p->>'attempt' is not null then
    -- The Stripe call succeeded but its record step never ran (a crash): the metadata we sent finds it.
    select * into a from payment_attempts
     where order_id = (p->>'order_id')::uuid and attempt = (p->>'attempt')::integer
       and kind = p->>'kind' and stripe_object_id is null;
  end if;
  if a.id is null and p->>'kind' = 'payment_intent' then
    -- A PaymentIntent Checkout created for one of our sessions: the order by the PaymentIntent or our
    -- metadata, and the session's attempt.
    v_order_id := payment_order_id(p);
    if v_order_id is not null then
      select * into a from payment_attempts
       where order_id = v_order_id and kind = 'checkout_session'
         and (p->>'attempt' is null or attempt = (p->>'attempt')::integer)
       order by attempt desc limit 1;
    end if;
  end if;
  if a.id is null and v_order_id is null then
    return jsonb_build_object('outcome', 'error', 'error', 'unknown_payment');
  end if;

  select * into o from orders where id = coalesce(a.order_id, v_order_id) for update;
  if p->>'user_id' is not null
     and not exists (select 1 from customers where id = o.customer_id and user_id = (p->>'user_id')::uuid) then
    return jsonb_build_object('outcome', 'error', 'error', 'order_of_another_customer', 'order_id', o.id);
  end if;

  -- ---- What this payment is: a mismatch (now, or flagged by an earlier event: it stays one), a
  -- duplicate (another PaymentIntent already holds the order's money), or the order's payment.
  if v_pi is not null then
    select * into pay from payments where stripe_payment_intent_id = v_pi;
  end if;
  v_finding := case
    when pay.finding = 'amount_mismatch' or v_amount is distinct from o.amount or p->>'currency' is distinct from o.currency
      then 'amount_mismatch'
    when pay.finding = 'duplicate' then 'duplicate'
    when v_money and v_pi is not null and exists (
           select 1 from payments x
            where x.order_id = o.id and x.stripe_payment_intent_id <> v_pi and x.finding is null
              and x.status in ('succeeded', 'processing', 'requires_capture'))
      then 'duplicate'
  end;

  if v_finding = 'amount_mismatch' then
    -- Recorded with what Stripe took (so our payments add up to what Stripe holds), never raising the
    -- order: staff must look (sync state failed), and nothing goes to fulfilment.
    if v_pi is not null and (v_money or pay.id is not null) then
      insert into payments (order_id, stripe_payment_intent_id, stripe_charge_id, amount, currency, status, finding)
      values (o.id, v_pi, p->>'charge_id', v_amount, p->>'currency', coalesce(p->>'payment_status', 'processing'), 'amount_mismatch')
      on conflict (stripe_payment_intent_id) do update
        set stripe_charge_id = coalesce(excluded.stripe_charge_id, payments.stripe_charge_id),
            status = case when payments.status = 'succeeded' then payments.status else excluded.status end,
            finding = 'amount_mismatch', updated_at = now();
    end if;
    if pay.finding is distinct from 'amount_mismatch' or o.sync_state is distinct from 'failed' then
      update orders set sync_state = 'failed', updated_at = now() where id = o.id returning * into o;
      perform payment_log_for_order(o, 'payment.amount_mismatch', o.status, jsonb_build_object(
        'source', p->>'source', 'stripe_object_id', p->>'object_id', 'payment_intent_id', v_pi,
        'stripe_amount', p->'amount', 'stripe_currency', p->>'currency'));
    end if;
    return jsonb_build_object('outcome', 'error', 'error', 'amount_mismatch', 'order_id', o.id);
  end if;

  if a.id is not null and a.stripe_object_id is null then
    -- Found by our metadata: the attempt gets its object. Only a `creating` attempt becomes `open`; a
    -- dead one (abandoned while Stripe was making the object) is never revived beside the order's
    -- next, live attempt (payment_attempts_one_live_per_order).
    v_dead_recorded := a.status = 'abandoned';
    update payment_attempts
       set stripe_object_id = p->>'object_id', status = case when status = 'creating' then 'open' else status end, updated_at = now()
     where id = a.id returning * into a;
  end if;
  if p->>'attempt_status' in ('canceled', 'expired') then
    -- The object can no longer be paid: the next request for the order starts a new attempt.
    -- (A PaymentIntent Checkout made is canceled with its session: the session's own event says so.)
    -- An abandoned attempt whose object this event just recorded is settled as the object is.
    if a.id is null or (a.status not in ('creating', 'open') and not v_dead_recorded) or a.kind <> p->>'kind' then
      return jsonb_build_object('outcome', 'unchanged', 'order', case when v_view then order_view(o.id) end);
    end if;
    update payment_attempts set status = p->>'attempt_status', updated_at = now() where id = a.id returning * into a;
    perform payment_log_for_order(o, 'checkout.attempt_' || a.status, a.status, jsonb_build_object(
      'source', p->>'source', 'actor', p->>'actor', 'attempt', a.attempt, 'stripe_object_id', a.stripe_object_id));
    return jsonb_build_object('outcome', 'applied', 'order', case when v_view then order_view(o.id) end);
  end if;
  if a.id is not null and v_money and a.status in ('creating', 'open', 'needs_cleanup')
     and (v_finding is null or a.stripe_object_id = p->>'object_id') then
    update payment_attempts set status = 'succeeded', updated_at = now() where id = a.id returning * into a;
  end if;

  -- ---- A PaymentIntent of ours back at requires_payment_method after it was processing (a bank debit
  -- that failed): it can be paid again, so its attempt is live again and the next checkout reuses it
  -- rather than making a second object someone could pay too. Stripe's word only (webhook, janitor),
  -- and only while the order is unpaid and has no other live attempt.
  if p->>'payment_status' = 'requires_payment_method' and p->>'source' is distinct from 'storefront'
     and a.id is not null and a.kind = 'payment_intent' and a.stripe_object_id = p->>'object_id'
     and a.status = 'succeeded' and o.status = any (v_unpaid)
     and not exists (select 1 from payment_attempts x where x.order_id = o.id and x.status in ('creating', 'open')) then
    update payment_attempts set status = 'open', updated_at = now() where id = a.id returning * into a;
    perform payment_log_for_order(o, 'checkout.attempt_reopened', a.status, jsonb_build_object(
      'source', p->>'source', 'actor', p->>'actor', 'attempt', a.attempt, 'stripe_object_id', a.stripe_object_id));
  end if;

  if v_pi is not null and v_money then
    insert into payments (order_id, stripe_payment_intent_id, stripe_charge_id, amount, currency, status, finding)
    values (o.id, v_pi, p->>'charge_id', v_amount, p->>'currency', p->>'payment_status', v_finding)
    on conflict (stripe_payment_intent_id) do update
      -- Until it succeeds, the PaymentIntent's latest charge (a declined card, then a bank debit, …);
      -- once it has, the charge that paid.
      set stripe_charge_id = case when excluded.status = 'succeeded' and excluded.stripe_charge_id is not null then excluded.stripe_charge_id
                                  when payments.status = 'succeeded' then coalesce(payments.stripe_charge_id, excluded.stripe_charge_id)
                                  else coalesce(excluded.stripe_charge_id, payments.stripe_charge_id) end,
          status = case when payments.status = 'succeeded' then payments.status else excluded.status end,
          finding = coalesce(payments.finding, excluded.finding),
          updated_at = now();
  elsif pay.id is not null and pay.status <> 'succeeded' and p->>'payment_status' in ('requires_payment_method', 'canceled') then
    -- ---- The payment follows its PaymentIntent: a debit that failed holds no money.
    update payments set status = p->>'payment_status', updated_at = now() where id = pay.id;
  end if;

  if v_finding = 'duplicate' then
    -- ---- The order is already paid by another PaymentIntent: this one's money is to be refunded.
    -- Flagged once (the first event that shows it), never changing what the order is.
    if pay.finding is distinct from 'duplicate' then
      update orders set sync_state = 'failed', updated_at = now() where id = o.id returning * into o;
      perform payment_log_for_order(o, 'payment.duplicate', o.status, jsonb_build_object(
        'source', p->>'source', 'actor', p->>'actor', 'stripe_object_id', p->>'object_id', 'payment_intent_id', v_pi,
        'stripe_amount', p->'amount', 'stripe_currency', p->>'currency', 'payment_status', p->>'payment_status',
        'attempt', a.attempt, 'to_refund', true));
      return jsonb_build_object('outcome', 'applied', 'order', case when v_view then order_view(o.id) end);
    end if;
    return jsonb_build_object('outcome', 'unchanged', 'order', case when v_view then order_view(o.id) end);
  end if;

  -- Which status wins. Paid and what follows it (refunds, disputes) are never undone here. Before
  -- payment, an event orders by its time; a caller without one (the storefront) only raises.
  if not (v_status = any (v_unpaid) and o.status = any (v_unpaid)) then
    if order_status_rank(v_status) <= order_status_rank(o.status) then
      v_status := o.status;
    end if;
  elsif v_at is null then
    if order_status_rank(v_status) <= order_status_rank(o.status) then
      v_status := o.status;
    end if;
  elsif o.payment_state_at is not null
        and (v_at < o.payment_state_at
             or (v_at = o.payment_state_at and order_status_rank(v_status) <= order_status_rank(o.status))) then
    v_status := o.status;
  end if;
  v_sync := case
    when v_status not in ('paid', 'processing', 'failed') then o.sync_state
    -- ---- An open finding (a duplicate not yet refunded) keeps the order for staff: the real
    -- payment's later events confirm the payment, not the order as a whole.
    when o.sync_state = 'failed' and exists (
           select 1 from payments x where x.order_id = o.id and x.finding is not null
              and x.status in ('succeeded', 'processing') and x.amount_refunded < x.amount) then 'failed'
    -- The storefront's word on a status the webhooks already confirmed keeps it confirmed; a new
    -- status (a payment after a confirmed decline) is provisional until its own webhook comes.
    when p->>'source' = 'storefront' then case when v_status = o.status then coalesce(o.sync_state, 'provisional') else 'provisional' end
    when v_status = 'failed' and v_status = o.status then o.sync_state
    else 'confirmed'
  end;
  if v_status = o.status and v_sync is not distinct from o.sync_state then
    if v_at > coalesce(o.payment_state_at, '-infinity') and o.status = any (v_unpaid) then
      -- The same status, said again later: a still earlier event must not move the order now.
      update orders set payment_state_at = v_at where id = o.id;
    end if;
    return jsonb_build_object('outcome', 'unchanged', 'order', case when v_view then order_view(o.id) end);
  end if;

  -- ---- The object that pays the order is the one its ids name (a switch between Elements and
  -- Checkout leaves the other object cancelled behind): the PaymentIntent, and the session when the
  -- PaymentIntent is a session's.
  v_becomes_paid := v_status in ('paid', 'processing') and o.status = any (v_unpaid) and o.status <> v_status;
  v_event := case when v_status = o.status then 'payment.' || v_sync else 'payment.' || v_status end;
  update orders
     set status = v_status,
         sync_state = v_sync,
         payment_intent_id = case when v_becomes_paid and v_pi is not null then v_pi else coalesce(payment_intent_id, v_pi) end,
         checkout_session_id = case
           when not v_becomes_paid or v_pi is null then checkout_session_id
           when p->>'kind' = 'checkout_session' then p->>'object_id'
           when a.kind = 'checkout_session' then a.stripe_object_id
         end,
         -- ---- Stripe's clock only: the storefront has no Stripe time for what it saw.
         payment_state_at = case when v_at is null then payment_state_at else greatest(payment_state_at, v_at) end,
         updated_at = now()
   where id = o.id
   returning * into o;
  perform payment_log_for_order(o, v_event, o.status, jsonb_strip_nulls(jsonb_build_object(
    'source', p->>'source', 'actor', p->>'actor', 'sync_state', o.sync_state, 'stripe_object_id', p->>'object_id',
    'payment_intent_id', v_pi, 'attempt', a.attempt, 'failure', p->'failure')));
  return jsonb_build_object('outcome', 'applied', 'order', case when v_view then order_view(o.id) end);
end
$function$;
revoke execute on function order_apply_payment(jsonb) from public, anon, authenticated;

-- 3. A share's PaymentIntent (payment_request_members.stripe_payment_intent_id) is its live one: the late
--    object now recorded on an abandoned attempt (above) is dead, and never replaces it. Otherwise as in
--    20261207001720_payment_request_pay.sql.
create or replace function payment_request_member_intent() returns trigger language plpgsql as $$
begin
  if new.kind = 'payment_intent' and new.stripe_object_id is not null and new.stripe_object_id is distinct from old.stripe_object_id
     and old.status is distinct from 'abandoned' then
    update payment_request_members m
       set stripe_payment_intent_id = new.stripe_object_id, updated_at = now()
      from orders o
     where o.id = new.order_id and o.payment_request_id is not null and m.order_id = o.id
       and m.stripe_payment_intent_id is distinct from new.stripe_object_id;
  end if;
  return null;
end
$$;
revoke execute on function payment_request_member_intent() from public, anon, authenticated;
