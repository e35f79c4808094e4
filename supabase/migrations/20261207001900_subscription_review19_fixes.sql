-- Fixes from the second review of subscriptions (issue 19).
--
-- 1. A switch carries the price its preview showed (switchSubscription's priceId and unitAmount, in its
--    claim params). The same caller's retry with the same key takes over its action still 'requested'
--    and asks Stripe with the same key subscription_switch:<id>: it must send the same parameters, so
--    the claim now answers the params stored on that action row and the caller uses them, never a
--    price looked up again (the catalog may have made a new Stripe price since).
create or replace function subscription_action_claim(p jsonb) returns jsonb language plpgsql as $$
declare
  s subscriptions;
  v_owner uuid;
  v_busy boolean;
  v_last text;
  v_id uuid;
  v_params jsonb;
begin
  select * into s from subscriptions where id = p->>'subscription_id' for update;
  if not found then
    return jsonb_build_object('ok', false, 'code', 'SUBSCRIPTION_NOT_FOUND');
  end if;
  if p->>'customer_user_id' is not null then
    select c.user_id into v_owner from customers c where c.id = s.customer_id;
    if v_owner is distinct from uuid_or_null(p->>'customer_user_id') then
      return jsonb_build_object('ok', false, 'code', 'SUBSCRIPTION_NOT_FOUND');
    end if;
  end if;
  if s.status in ('canceled', 'incomplete_expired')
     or (p->>'action' in ('pause', 'resume', 'switch') and s.status = 'incomplete') then
    return jsonb_build_object('ok', false, 'code', 'SUBSCRIPTION_NOT_ACTIVE', 'status', s.status);
  end if;
  -- The same caller's retry with the same key takes over its own action still 'requested', with the
  -- parameters it was claimed with (before SAME_TRACK: a switch Stripe made may have moved it there).
  if p->>'caller_key' is not null then
    select a.id, a.params into v_id, v_params from subscription_actions a
     where a.subscription_id = s.id and a.status = 'requested' and a.action = p->>'action'
       and a.caller_scope = p->>'caller_scope' and a.caller_key = p->>'caller_key'
     order by a.created_at desc limit 1;
    if v_id is not null then
      return jsonb_build_object('ok', true, 'action_id', v_id, 'resumed', true, 'params', v_params);
    end if;
  end if;
  if p->>'action' = 'switch' and exists (select 1 from stripe_prices sp join prices pr on pr.id = sp.price_id
                                          where sp.stripe_price_id = s.stripe_price_id and pr.product_id = p->'params'->>'track') then
    return jsonb_build_object('ok', false, 'code', 'SAME_TRACK');
  end if;
  select exists (select 1 from subscription_actions a where a.subscription_id = s.id and a.status = 'requested'
                  and a.created_at > now() - interval '5 minutes') into v_busy;
  if v_busy then
    return jsonb_build_object('ok', false, 'code', 'SUBSCRIPTION_CHANGE_IN_PROGRESS');
  end if;
  select o.last_event_id into v_last from stripe_objects o where o.id = s.id;
  insert into subscription_actions (subscription_id, action, params, actor, seen_last_event_id, caller_scope, caller_key)
  values (s.id, p->>'action', coalesce(p->'params', '{}'::jsonb), p->>'actor', v_last, p->>'caller_scope', p->>'caller_key')
  returning id into v_id;
  return jsonb_build_object('ok', true, 'action_id', v_id);
end
$$;
revoke execute on function subscription_action_claim(jsonb) from public, anon, authenticated;

-- 3. The first paid invoice pays the subscription's order (20261207001600) from two triggers: a paid
--    invoice's row and the subscription's row. customer.subscription.created and invoice.paid lock
--    different stripe_objects rows, so on PostgreSQL both could apply at once, each read the other's
--    row from its own snapshot, find nothing, and leave the order pending (no add_project). Both now
--    take one advisory transaction lock per subscription first: the second waits for the first to
--    commit and then sees its row. Lock order: stripe_objects, this lock, then the order (no path
--    locks an order and then a subscription).
create or replace function subscription_invoice_pays_order() returns trigger language plpgsql as $$
begin
  perform pg_advisory_xact_lock(hashtextextended('subscription_order_pay:' || new.subscription_id, 0));
  perform subscription_order_pay_from_invoice(new.subscription_id);
  return null;
end
$$;

create or replace function subscription_order_paid_by_invoice() returns trigger language plpgsql as $$
begin
  perform pg_advisory_xact_lock(hashtextextended('subscription_order_pay:' || new.id, 0));
  perform subscription_order_pay_from_invoice(new.id);
  return null;
end
$$;
revoke execute on function subscription_invoice_pays_order() from public, anon, authenticated;
revoke execute on function subscription_order_paid_by_invoice() from public, anon, authenticated;

-- 4. The state Make last heard of is kept on the subscription's row, read and written under its row
--    lock (the transaction that changed the row holds it until it commits). It was searched for in
--    make_deliveries by created_at, which is the transaction's start: a transaction that began first
--    and committed last had its delivery sorted before the other's, and a state reached again later
--    (paused, resumed, paused) was taken for the one last announced and dropped.
alter table subscriptions
  add column make_announced_state text,
  -- How many states Make has been told of: part of each delivery's dedupe key, so a state reached
  -- again is a new delivery while the same state written twice is one.
  add column make_announced_count integer not null default 0;

update subscriptions s
   set make_announced_state = (select split_part(d.dedupe_key, '|', 1) from make_deliveries d
                                where d.kind = 'subscription_changed' and d.subject_id = s.id
                                order by d.created_at desc, d.id desc limit 1),
       make_announced_count = (select count(*) from make_deliveries d where d.kind = 'subscription_changed' and d.subject_id = s.id);

create or replace function make_on_subscription_change() returns trigger language plpgsql as $$
declare
  s subscriptions;
  v_state text;
begin
  select * into s from subscriptions where id = new.id for update;
  if not found then
    return null;
  end if;
  if tg_op = 'UPDATE'
     and old.status = s.status
     and old.stripe_price_id is not distinct from s.stripe_price_id
     and old.cancel_at_period_end = s.cancel_at_period_end
     and old.pause_behavior is not distinct from s.pause_behavior
     and old.pause_resumes_at is not distinct from s.pause_resumes_at then
    return null;
  end if;
  v_state := concat_ws(':', s.id, s.status, coalesce(s.stripe_price_id, ''), s.cancel_at_period_end::text,
                       coalesce(s.pause_behavior, ''), coalesce(extract(epoch from s.pause_resumes_at)::bigint::text, ''),
                       coalesce(extract(epoch from s.current_period_end)::bigint::text, ''));
  -- The state Make last heard of: nothing new to tell.
  if s.make_announced_state is not distinct from v_state then
    return null;
  end if;
  -- Only these two columns: the trigger fires on none of them, nor does any other.
  update subscriptions set make_announced_state = v_state, make_announced_count = s.make_announced_count + 1 where id = s.id;
  perform make_enqueue('subscription_changed', v_state || '|n' || (s.make_announced_count + 1)::text,
    s.order_id, s.customer_id, s.id,
    jsonb_build_object(
      'order_id', s.order_id,
      'customer', (select jsonb_build_object('id', c.id, 'email', c.email, 'name', c.name) from customers c where c.id = s.customer_id),
      'subscription', jsonb_build_object(
        'id', s.id, 'status', s.status, 'previous_status', case when tg_op = 'UPDATE' then old.status end,
        'price_id', s.stripe_price_id, 'current_period_end', s.current_period_end,
        'cancel_at_period_end', s.cancel_at_period_end, 'canceled_at', s.canceled_at,
        'pause_behavior', s.pause_behavior, 'pause_resumes_at', s.pause_resumes_at)));
  return null;
end
$$;
revoke execute on function make_on_subscription_change() from public, anon, authenticated;

-- 8. A subscription's invoices in Stripe's order. stripe_created is whole seconds: a first invoice and a
--    switch's invoice made in the same second fell back to id order (random), so the latest invoice
--    shown could be the older one. seq is assigned on insert (an invoice's first event), which follows
--    the order Stripe made them in within a second.
alter table subscription_invoices add column seq bigint generated by default as identity;
drop index subscription_invoices_subscription_idx;
create index subscription_invoices_subscription_idx on subscription_invoices (subscription_id, stripe_created desc, seq desc);

-- 5. subscription_order_pay_from_invoice (20261207001600) pays the order from the subscription's first
--    invoice only: the earliest recorded (Stripe's created, then seq), and only once it is paid. It took
--    the earliest paid one, so a `failed` order whose first invoice was never paid was paid by a renewal
--    months later. A first invoice that paid another amount than the order's is logged once
--    (order_apply_payment flags the order for staff): every later update of that invoice's row logged
--    payment.amount_mismatch again, as no payment row carries the finding for an invoice.
create or replace function subscription_order_pay_from_invoice(p_subscription_id text) returns void language plpgsql as $$
declare
  o orders;
  a payment_attempts;
  i subscription_invoices;
begin
  select ord.* into o from subscriptions s join orders ord on ord.id = s.order_id where s.id = p_subscription_id;
  if o.id is null or o.status not in ('pending', 'requires_action', 'processing', 'failed') then
    return;
  end if;
  select * into i from subscription_invoices
   where subscription_id = p_subscription_id
   order by stripe_created, seq limit 1;
  if i.id is null or i.status <> 'paid' then
    return;
  end if;
  if (i.amount_paid is distinct from o.amount or i.currency is distinct from o.currency)
     and exists (select 1 from payment_logs l where l.order_id = o.id and l.event_type = 'payment.amount_mismatch') then
    return;
  end if;
  -- The subscription Checkout's attempt (the session that started the subscription).
  select * into a from payment_attempts
   where order_id = o.id and kind = 'checkout_session' and stripe_object_id is not null
   order by attempt desc limit 1;
  if a.id is null then
    return;
  end if;
  perform order_apply_payment(jsonb_build_object(
    'kind', 'checkout_session', 'object_id', a.stripe_object_id, 'order_id', o.id, 'attempt', a.attempt,
    'order_status', 'paid', 'attempt_status', null, 'payment_intent_id', null, 'charge_id', null,
    'payment_status', 'succeeded', 'amount', i.amount_paid, 'currency', i.currency,
    'source', 'webhook', 'actor', 'stripe:invoice:' || i.id, 'user_id', null));
end
$$;
revoke execute on function subscription_order_pay_from_invoice(text) from public, anon, authenticated;
