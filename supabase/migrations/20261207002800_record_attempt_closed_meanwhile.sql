-- The record step refuses an attempt closed while Stripe was making its object, for every order.
--
-- 20261207002200_payment_request_review20.sql (section 12) made checkout_record_attempt refuse a
-- payment request share's attempt closed meanwhile. An ordinary order had the same gap: the janitor's
-- step 2 abandons an attempt left `creating` for over 5 minutes when Stripe has nothing under its key,
-- and a create that was merely slow then came back, found the attempt no longer `creating`, recorded
-- nothing, and still completed the caller's idempotency key with the dead attempt. The storefront got
-- no PaymentIntent (and the same key answered that for good), while the PaymentIntent Stripe made
-- stayed payable, known to us by nobody. Now a dead attempt (abandoned, canceled, expired,
-- needs_cleanup) is refused with errcode 55000, hint attempt_closed_meanwhile; the share check keeps
-- its own hint and runs first. Otherwise the body is as in 20261207002200 section 12.
--
-- Lock order as before: the order's row (checkout_lock_attempt_order), then its attempt.

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
  -- A payment request share whose attempt was closed while Stripe was making its object (the janitor
  -- abandoned it, then the request was canceled or expired): recording nothing and completing the
  -- caller's key would leave a payable PaymentIntent on a closed share, unknown to us. Refused; the caller
  -- (createAtStripe) cancels the object at Stripe and payMemberShare answers REQUEST_NOT_PAYABLE.
  select * into o from orders where id = a.order_id;
  if o.payment_request_id is not null and p->>'object_id' is not null
     and ((a.status <> 'creating' and a.stripe_object_id is null) or (a.status = 'creating' and o.status = 'canceled')) then
    raise exception 'payment attempt % of share order % is % (order %): its Stripe object % is not recorded', a.id, o.id, a.status, o.status, p->>'object_id'
      using errcode = '55000', hint = 'share_closed_meanwhile';
  end if;
  -- Any order's attempt closed while Stripe was making its object (the janitor found nothing at Stripe
  -- yet and abandoned it, or another request retired it): completing the caller's key with it would
  -- answer that key for good with an attempt nobody can pay, and leave the object Stripe made payable
  -- with no record of ours. Refused; the caller (createAtStripe) cancels or expires the object at Stripe
  -- and begins again with the order's next attempt (errcode 55000, hint attempt_closed_meanwhile).
  if p->>'object_id' is not null and a.status in ('abandoned', 'canceled', 'expired', 'needs_cleanup') then
    raise exception 'payment attempt % of order % is %: its Stripe object % is not recorded', a.id, a.order_id, a.status, p->>'object_id'
      using errcode = '55000', hint = 'attempt_closed_meanwhile';
  end if;
  o := null;
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
revoke execute on function checkout_record_attempt(jsonb) from public, anon, authenticated;
