-- One lock order for an order and its attempts: the order's row first, then the attempt's.
--
-- checkout_begin and order_apply_payment lock the order (FOR UPDATE) and then write its attempts, but
-- checkout_record_attempt locked the attempt first and then updated the order, and
-- checkout_mark_attempt updated the attempt first and then inserted a payment log row (whose foreign
-- key takes a KEY SHARE lock on the order). On PostgreSQL, twelve concurrent checkouts of one order
-- (each retiring the same stale attempt and starting the next) met in a deadlock, and one of them
-- answered INTERNAL. Both functions now take the order's lock before touching the attempt, so every
-- path that writes an attempt is serialised on its order in the same order. Bodies are otherwise as in
-- 20261207000500_money_path.sql (record) and 20261122000200_checkout.sql (mark).

-- The order a live attempt belongs to, locked; null when the attempt does not exist.
create or replace function checkout_lock_attempt_order(p_attempt_id uuid) returns uuid language plpgsql as $$
declare
  v_order uuid;
begin
  select order_id into v_order from payment_attempts where id = p_attempt_id;
  if v_order is not null then
    perform 1 from orders where id = v_order for update;
  end if;
  return v_order;
end
$$;
revoke execute on function checkout_lock_attempt_order(uuid) from public, anon, authenticated;

create or replace function checkout_record_attempt(p jsonb) returns jsonb language plpgsql as $$
declare
  a payment_attempts;
  o orders;
begin
  perform checkout_lock_attempt_order((p->>'attempt_id')::uuid);
  select * into a from payment_attempts where id = (p->>'attempt_id')::uuid for update;
  if not found then
    raise exception 'payment attempt % does not exist', p->>'attempt_id';
  end if;
  if a.stripe_object_id is not null and a.stripe_object_id <> p->>'object_id' then
    raise exception 'payment attempt % already holds Stripe object %, not %', a.id, a.stripe_object_id, p->>'object_id';
  end if;
  if a.status = 'creating' then
    update payment_attempts
       set status = 'open', stripe_object_id = p->>'object_id', client_secret = p->>'client_secret',
           url = p->>'url', expires_at = (p->>'expires_at')::timestamptz, last_error = null, updated_at = now()
     where id = a.id
     returning * into a;
    update orders
       set payment_intent_id = case when a.kind = 'payment_intent' then a.stripe_object_id end,
           checkout_session_id = case when a.kind = 'checkout_session' then a.stripe_object_id end,
           updated_at = now()
     where id = a.order_id
       and status in ('pending', 'requires_action', 'failed') -- a paid order keeps the ids of what paid it
     returning * into o;
    if o.id is null then
      select * into o from orders where id = a.order_id;
    end if;
    perform payment_log_for_order(o,
      case a.kind when 'payment_intent' then 'checkout.payment_intent_created' else 'checkout.session_created' end,
      a.status,
      jsonb_build_object('actor', p->>'actor', 'attempt', a.attempt, 'stripe_object_id', a.stripe_object_id));
  end if;
  if p->>'key' is not null then
    update idempotency_keys
       set status = 'completed', attempt_id = a.id, completed_at = now()
     where scope = p->>'scope' and key = p->>'key' and status = 'in_progress';
  end if;
  return jsonb_build_object('attempt', to_jsonb(a), 'order', order_view(a.order_id));
end
$$;

create or replace function checkout_mark_attempt(p jsonb) returns jsonb language plpgsql as $$
declare
  a payment_attempts;
  o orders;
begin
  perform checkout_lock_attempt_order((p->>'attempt_id')::uuid);
  update payment_attempts
     set status = coalesce(p->>'status', status), last_error = left(p->>'error', 1000),
         stripe_object_id = coalesce(stripe_object_id, p->>'object_id'), updated_at = now()
   where id = (p->>'attempt_id')::uuid and status in ('creating', 'open', 'needs_cleanup')
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
