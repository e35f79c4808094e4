-- Issue 20: a member pays their share (payMemberShare, option C), and an expired request is closed.
--
-- A share's PaymentIntents are its order's payment_attempts, so recording one (checkout_record_attempt),
-- marking it (checkout_mark_attempt) and applying its payment (order_apply_payment, from a webhook or a
-- retrieve) are the order path's own functions. What is the member's: which attempt the token opens, the
-- Stripe key `member_share:<member id>:<attempt>`, the attempt count, and the member's current
-- PaymentIntent id. Lock order as everywhere for requests: the share's order, its member, the request.

-- The member's pay page, as server/paymentRequests/service.ts MemberShareView has it.
create function payment_request_share_view(p_member uuid) returns jsonb language sql stable as $$
  select jsonb_build_object(
    'member_id', m.id, 'payment_request_id', r.id, 'title', r.title, 'description', r.description,
    'track_name', p.name, 'member_name', coalesce(m.name, m.email), 'amount_pence', m.amount_pence,
    'currency', r.currency, 'status', m.status, 'request_status', r.status, 'expires_at', r.expires_at)
    from payment_request_members m
    join payment_requests r on r.id = m.payment_request_id
    left join products p on p.id = r.product_id
   where m.id = p_member
$$;
revoke execute on function payment_request_share_view(uuid) from public, anon, authenticated;

-- payMemberShare, step 1: the token's member, the caller's key (scope member:<member id>) and the share
-- order's live attempt, made when there is none. p: token_hash, key, operation, request_hash, now (Stripe's
-- clock), actor. A refusal claims no key and writes nothing. Outcomes: not_found; refused (error, share);
-- conflict (operation); replay (attempt, share: the key's first answer); attempt (attempt, order, share).
create function payment_request_pay_begin(p jsonb) returns jsonb language plpgsql as $$
declare
  m payment_request_members;
  r payment_requests;
  o orders;
  a payment_attempts;
  k idempotency_keys;
  v_scope text;
  v_attempt integer;
begin
  select * into m from payment_request_members where token_hash = p->>'token_hash';
  if not found then
    return jsonb_build_object('outcome', 'not_found');
  end if;
  v_scope := 'member:' || m.id;

  select * into k from idempotency_keys where scope = v_scope and key = p->>'key';
  if found and k.request_hash <> p->>'request_hash' then
    return jsonb_build_object('outcome', 'conflict', 'operation', k.operation);
  end if;
  if found and k.status = 'completed' then
    select * into a from payment_attempts where id = k.attempt_id;
    return jsonb_build_object('outcome', 'replay', 'attempt', to_jsonb(a), 'share', payment_request_share_view(m.id));
  end if;

  select * into o from orders where id = m.order_id for update;
  select * into m from payment_request_members where id = m.id for update;
  select * into r from payment_requests where id = m.payment_request_id for update;
  -- The token may have been replaced by a reminder while this call waited for the locks.
  if m.token_hash <> p->>'token_hash' then
    return jsonb_build_object('outcome', 'not_found');
  end if;

  if r.status in ('canceled', 'expired', 'paid') or (r.expires_at is not null and r.expires_at <= (p->>'now')::timestamptz) then
    return jsonb_build_object('outcome', 'refused', 'error', 'REQUEST_NOT_PAYABLE', 'share', payment_request_share_view(m.id));
  end if;
  -- The order is the truth of the share's payment (the member follows it).
  if o.status = 'processing' or m.status = 'processing' then
    return jsonb_build_object('outcome', 'refused', 'error', 'SHARE_PROCESSING', 'share', payment_request_share_view(m.id));
  end if;
  if o.status in ('paid', 'partially_refunded', 'refunded', 'disputed') or m.status in ('paid', 'refunded') then
    return jsonb_build_object('outcome', 'refused', 'error', 'SHARE_ALREADY_PAID', 'share', payment_request_share_view(m.id));
  end if;
  if o.status not in ('pending', 'requires_action', 'failed') or m.status = 'canceled' then
    return jsonb_build_object('outcome', 'refused', 'error', 'REQUEST_NOT_PAYABLE', 'share', payment_request_share_view(m.id));
  end if;

  if k.scope is null then
    insert into idempotency_keys (scope, key, operation, request_hash, order_id)
    values (v_scope, p->>'key', p->>'operation', p->>'request_hash', o.id)
    on conflict do nothing;
    if not found then
      -- Cannot happen under the order's lock unless the key was claimed for another operation meanwhile.
      select * into k from idempotency_keys where scope = v_scope and key = p->>'key';
      if k.request_hash <> p->>'request_hash' then
        return jsonb_build_object('outcome', 'conflict', 'operation', k.operation);
      end if;
    end if;
  end if;

  -- One live attempt per order (payment_attempts_one_live_per_order): a second press, with any key,
  -- finds the first one's attempt here and sends Stripe the same key.
  select * into a from payment_attempts where order_id = o.id and status in ('creating', 'open');
  if not found then
    select coalesce(max(attempt), 0) + 1 into v_attempt from payment_attempts where order_id = o.id;
    insert into payment_attempts (order_id, attempt, kind, stripe_idempotency_key)
    values (o.id, v_attempt, 'payment_intent', format('member_share:%s:%s', m.id, v_attempt))
    returning * into a;
    update payment_request_members
       set payment_attempt_count = payment_attempt_count + 1, updated_at = now()
     where id = m.id;
    perform payment_log_for_order(o, 'checkout.attempt_started', a.status,
      jsonb_build_object('actor', p->>'actor', 'attempt', a.attempt, 'kind', a.kind, 'stripe_idempotency_key', a.stripe_idempotency_key,
                         'payment_request_id', r.id, 'payment_request_member_id', m.id));
  end if;
  return jsonb_build_object('outcome', 'attempt', 'attempt', to_jsonb(a), 'order', order_view(o.id), 'share', payment_request_share_view(m.id),
                            'payment_request_id', r.id, 'member_id', m.id, 'scope', v_scope);
end
$$;
revoke execute on function payment_request_pay_begin(jsonb) from public, anon, authenticated;

-- The member's current PaymentIntent is the one its share order's attempt holds, however the attempt was
-- recorded (payMemberShare, the janitor adopting it): set where the attempt's object is recorded, under
-- the order's lock those paths take first, so the member row comes after the order.
create function payment_request_member_intent() returns trigger language plpgsql as $$
begin
  if new.kind = 'payment_intent' and new.stripe_object_id is not null and new.stripe_object_id is distinct from old.stripe_object_id then
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
create trigger payment_request_member_intent after update of stripe_object_id on payment_attempts
  for each row execute function payment_request_member_intent();

-- Expiry, the last step (server/paymentRequests/expire.ts cancels the open PaymentIntents at Stripe
-- first). p: request_id, now, actor. Under the locks (the share orders in id order, their members, the
-- request): a request still open or partially paid and past expires_at becomes expired, and its unpaid
-- shares (orders and members) canceled; a share paid or processing stays as it is. Outcome 'live_attempt'
-- while an unpaid share still has an attempt being created or open: nothing is changed, a later pass ends it.
create function payment_request_expire(p jsonb) returns jsonb language plpgsql as $$
declare
  r payment_requests;
  o orders;
  v_request uuid := (p->>'request_id')::uuid;
  v_unpaid constant text[] := array['pending', 'requires_action', 'failed'];
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
