-- The webhook applier (DESIGN.md decision 6): stored Stripe events are applied exactly once, in
-- object order, each in one transaction with marking it applied.
--
-- The server translates each event's payload into facts (server/webhooks/translate.ts) and hands a
-- batch of them to stripe_events_apply(), which applies each in its own subtransaction: one event's
-- failure is recorded on that event (retried with backoff, `failed` after the configured attempts)
-- and never undoes the others.
--
-- Object order: stripe_objects remembers, for every Stripe object we track, the state and the
-- `created` time and id of the last event applied to it. An older event never moves an object back;
-- same-second events are ordered by the state's rank in Stripe's progression; a terminal state stays
-- terminal; where neither settles it (a lower rank in the same second may be a loop: declined after
-- 3-D Secure), the applier retrieves the object from Stripe.

alter table stripe_events add column failed_at timestamptz;
-- What applying did, for people: "applied", "unchanged", "stale: superseded by evt_…", "not ours", …
alter table stripe_events add column outcome text check (length(outcome) <= 300);
create index stripe_events_failed_idx on stripe_events (failed_at) where status = 'failed';

create table stripe_objects (
  id                 text primary key check (length(id) <= 255),
  object_type        text not null check (length(object_type) <= 100),
  state              text not null check (length(state) <= 500),  -- what we compare: status and the fields we keep
  rank               integer not null,                            -- the state's place in Stripe's progression
  terminal           boolean not null,
  last_event_id      text not null,
  last_event_created timestamptz not null,
  updated_at         timestamptz not null default now()
);
alter table stripe_objects enable row level security;

-- Superseded by stripe_objects, which orders every object we track, not only payments.
alter table payments drop column last_event_created;

-- The order's payment status moves by the time of the Stripe state it reflects, across the objects
-- of the order (its PaymentIntent, its Checkout Session): a later event may move a not-yet-paid order
-- back (a retry after a failure), an earlier one never does.
alter table orders add column payment_state_at timestamptz;

create table refunds (
  id             text primary key check (length(id) <= 255),
  order_id       uuid not null references orders (id),
  payment_id     uuid not null references payments (id),
  amount         bigint not null check (amount >= 0),
  currency       text not null check (currency ~ '^[a-z]{3}$'),
  status         text not null check (length(status) <= 50),
  reason         text check (length(reason) <= 100),
  failure_reason text check (length(failure_reason) <= 100),
  created_at     timestamptz not null default now(),
  updated_at     timestamptz not null default now()
);
create index refunds_order_idx on refunds (order_id);
create index refunds_payment_idx on refunds (payment_id);

create table disputes (
  id         text primary key check (length(id) <= 255),
  order_id   uuid not null references orders (id),
  payment_id uuid not null references payments (id),
  amount     bigint not null check (amount >= 0),
  currency   text not null check (currency ~ '^[a-z]{3}$'),
  status     text not null check (length(status) <= 50),
  reason     text check (length(reason) <= 100),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index disputes_order_idx on disputes (order_id);

create table subscriptions (
  id                   text primary key check (length(id) <= 255),   -- Stripe's sub_…
  customer_id          uuid not null references customers (id),
  order_id             uuid references orders (id),                 -- the order it was sold with, if any
  status               text not null check (length(status) <= 50),
  stripe_price_id      text check (length(stripe_price_id) <= 255),
  current_period_end   timestamptz,
  cancel_at_period_end boolean not null default false,
  canceled_at          timestamptz,
  created_at           timestamptz not null default now(),
  updated_at           timestamptz not null default now()
);
create index subscriptions_customer_idx on subscriptions (customer_id);

alter table refunds enable row level security;
alter table disputes enable row level security;
alter table subscriptions enable row level security;

-- Our ids arrive in Stripe metadata as text, which anyone with dashboard access can edit: a value that
-- is not a UUID is no id of ours.
create function uuid_or_null(p_text text) returns uuid language sql immutable as $$
  select case when p_text ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then p_text::uuid end
$$;

-- Object order. obj: { id, type, state, rank, terminal }. Returns
--   'apply'     the event is the newest we know for the object (its state is recorded);
--   'unchanged' it is the event last applied (a replay), or says the state held: nothing to do;
--   'stale'     an older event, or a terminal state already holds: nothing to do;
--   'retrieve'  the same second and not later in the progression: only Stripe knows which is current.
-- A retrieved object (p_retrieved) is Stripe's current state: it always applies, but a terminal
-- state still stays terminal.
create function stripe_object_advance(obj jsonb, p_event_id text, p_created timestamptz, p_retrieved boolean)
returns text language plpgsql as $$
declare
  s stripe_objects;
  v_rank integer := (obj->>'rank')::integer;
  v_terminal boolean := (obj->>'terminal')::boolean;
  v_verdict text;
begin
  select * into s from stripe_objects where id = obj->>'id' for update;
  if not found then
    insert into stripe_objects (id, object_type, state, rank, terminal, last_event_id, last_event_created)
    values (obj->>'id', obj->>'type', obj->>'state', v_rank, v_terminal, p_event_id, p_created)
    on conflict (id) do nothing;
    if found then
      return 'apply';
    end if;
    -- A concurrent first event for the object committed meanwhile: compare with it.
    select * into s from stripe_objects where id = obj->>'id' for update;
  end if;

  v_verdict := case
    when s.last_event_id = p_event_id and not p_retrieved then 'unchanged'
    when s.terminal and s.state <> obj->>'state' then 'stale'
    when s.state = obj->>'state' then 'unchanged'
    when p_retrieved then 'apply'
    when p_created > s.last_event_created then 'apply'
    when p_created < s.last_event_created then 'stale'
    when v_terminal then 'apply'
    when v_rank > s.rank then 'apply'
    -- A lower (or equal) rank in the same second: stale by the progression, unless the object went
    -- round a loop (a PaymentIntent declined after 3-D Secure, a subscription past due again).
    else 'retrieve'
  end;
  -- A state equal to the one held (another event saying the same) still advances the clock.
  if v_verdict = 'apply' or (v_verdict = 'unchanged' and p_created > s.last_event_created) then
    update stripe_objects
       set state = obj->>'state', rank = v_rank, terminal = v_terminal, last_event_id = p_event_id,
           last_event_created = greatest(last_event_created, p_created), updated_at = now()
     where id = s.id;
  end if;
  return v_verdict;
end
$$;

-- The order a payment object belongs to: by the object itself (an attempt we created), by the
-- PaymentIntent (Checkout creates it for a session of ours), or by our metadata.
-- p: { object_id, kind, order_id?, attempt?, payment_intent_id? }
create function payment_order_id(p jsonb) returns uuid language plpgsql stable as $$
declare
  v_id uuid;
  v_pi text := coalesce(p->>'payment_intent_id', p->>'object_id');
begin
  -- plpgsql, not sql: its plans are cached across calls, where a non-inlined SQL function plans each time.
  select a.order_id into v_id from payment_attempts a where a.stripe_object_id = p->>'object_id';
  if v_id is null then
    select pay.order_id into v_id from payments pay where pay.stripe_payment_intent_id = v_pi;
  end if;
  if v_id is null then
    select o.id into v_id from orders o where o.payment_intent_id = v_pi;
  end if;
  if v_id is null then
    select o.id into v_id from orders o where o.id = uuid_or_null(p->>'order_id');
  end if;
  return v_id;
end
$$;

-- Replaces the checkout migration's version. The one locked path that applies what Stripe says about
-- a payment to its order (the storefront's confirm, the webhook applier, the janitor), serialised on
-- the order's row lock. Changes from the first version:
--   * finds the order of a PaymentIntent that Checkout created for a session of ours (no attempt
--     holds that PaymentIntent: the session's attempt does);
--   * an event's `created` (event_created) orders the order's not-yet-paid states across its objects,
--     so a later failure or retry moves the order, an earlier event never does; callers without an
--     event (the storefront) only ever raise the status, as before;
--   * order_status may be 'failed' (the payment failed; the order can be paid again); failure
--     { code, message } goes into the log row.
-- p: { source: 'storefront' | 'webhook' | 'janitor' | 'staff', object_id, kind,
--      order_id?, attempt?, order_status, attempt_status?, payment_intent_id?, charge_id?,
--      payment_status?, amount, currency, user_id?, event_created?, failure?, actor }
-- Returns { outcome: 'applied' | 'unchanged', order } or { outcome: 'error', error, order_id? }.
create or replace function order_apply_payment(p jsonb) returns jsonb language plpgsql as $$
declare
  a payment_attempts;
  o orders;
  v_order_id uuid;
  v_status text := p->>'order_status';
  v_at timestamptz := (p->>'event_created')::timestamptz;
  v_sync text;
  v_event text;
  v_unpaid constant text[] := array['pending', 'requires_action', 'processing', 'failed'];
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
  if (p->>'amount')::bigint is distinct from o.amount or p->>'currency' is distinct from o.currency then
    update orders set sync_state = 'failed', updated_at = now() where id = o.id returning * into o;
    perform payment_log_for_order(o, 'payment.amount_mismatch', o.status, jsonb_build_object(
      'source', p->>'source', 'stripe_object_id', p->>'object_id', 'stripe_amount', p->'amount', 'stripe_currency', p->>'currency'));
    return jsonb_build_object('outcome', 'error', 'error', 'amount_mismatch', 'order_id', o.id);
  end if;

  if a.id is not null and a.stripe_object_id is null then
    update payment_attempts set stripe_object_id = p->>'object_id', status = 'open', updated_at = now()
     where id = a.id returning * into a;
  end if;
  if p->>'attempt_status' in ('canceled', 'expired') then
    -- The object can no longer be paid: the next request for the order starts a new attempt.
    -- (A PaymentIntent Checkout made is canceled with its session: the session's own event says so.)
    if a.id is null or a.status not in ('creating', 'open') or a.kind <> p->>'kind' then
      return jsonb_build_object('outcome', 'unchanged', 'order', case when v_view then order_view(o.id) end);
    end if;
    update payment_attempts set status = p->>'attempt_status', updated_at = now() where id = a.id returning * into a;
    perform payment_log_for_order(o, 'checkout.attempt_' || a.status, a.status, jsonb_build_object(
      'source', p->>'source', 'actor', p->>'actor', 'attempt', a.attempt, 'stripe_object_id', a.stripe_object_id));
    return jsonb_build_object('outcome', 'applied', 'order', case when v_view then order_view(o.id) end);
  end if;
  if a.id is not null and v_status in ('paid', 'processing') and a.status in ('creating', 'open', 'needs_cleanup') then
    update payment_attempts set status = 'succeeded', updated_at = now() where id = a.id returning * into a;
  end if;

  if p->>'payment_intent_id' is not null and v_status in ('paid', 'processing') then
    insert into payments (order_id, stripe_payment_intent_id, stripe_charge_id, amount, currency, status)
    values (o.id, p->>'payment_intent_id', p->>'charge_id', o.amount, o.currency, p->>'payment_status')
    on conflict (stripe_payment_intent_id) do update
      -- Until it succeeds, the PaymentIntent's latest charge (a declined card, then a bank debit, …);
      -- once it has, the charge that paid.
      set stripe_charge_id = case when excluded.status = 'succeeded' and excluded.stripe_charge_id is not null then excluded.stripe_charge_id
                                  when payments.status = 'succeeded' then coalesce(payments.stripe_charge_id, excluded.stripe_charge_id)
                                  else coalesce(excluded.stripe_charge_id, payments.stripe_charge_id) end,
          status = case when payments.status = 'succeeded' then payments.status else excluded.status end,
          updated_at = now();
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
    when p->>'source' = 'storefront' then coalesce(o.sync_state, 'provisional')
    when v_status = 'failed' and v_status = o.status then o.sync_state
    else 'confirmed'
  end;
  if v_status = o.status and v_sync is not distinct from o.sync_state then
    if v_at > o.payment_state_at and o.status = any (v_unpaid) then
      -- The same status, said again later: a still earlier event must not move the order now.
      update orders set payment_state_at = v_at where id = o.id;
    end if;
    return jsonb_build_object('outcome', 'unchanged', 'order', case when v_view then order_view(o.id) end);
  end if;

  v_event := case when v_status = o.status then 'payment.' || v_sync else 'payment.' || v_status end;
  update orders
     set status = v_status,
         sync_state = v_sync,
         payment_intent_id = coalesce(payment_intent_id, p->>'payment_intent_id'),
         payment_state_at = greatest(payment_state_at, coalesce(v_at, now())),
         updated_at = now()
   where id = o.id
   returning * into o;
  perform payment_log_for_order(o, v_event, o.status, jsonb_strip_nulls(jsonb_build_object(
    'source', p->>'source', 'actor', p->>'actor', 'sync_state', o.sync_state, 'stripe_object_id', p->>'object_id',
    'payment_intent_id', p->>'payment_intent_id', 'attempt', a.attempt, 'failure', p->'failure')));
  return jsonb_build_object('outcome', 'applied', 'order', case when v_view then order_view(o.id) end);
end
$$;

-- An order for a payment that succeeded (or is processing) before the storefront ever told us about
-- it: made from the object's metadata (our track, and our order and customer ids when present) and
-- the buyer's email, so no payment is left without an order. The amount is what Stripe took.
-- p: the payment facts plus { track, customer_id?, email?, name?, created_from }.
-- Returns the order id, or null when the metadata is not enough to make one.
create function order_create_from_payment(p jsonb) returns uuid language plpgsql as $$
declare
  c customers;
  o orders;
  pr prices;
  v_order_id uuid := uuid_or_null(p->>'order_id');
  v_attempt integer := coalesce(nullif(p->>'attempt', '')::integer, 1);
begin
  select * into pr from prices
   where product_id = p->>'track' and kind = 'one_time'
   order by active desc, (currency = p->>'currency') desc, unit_amount, id limit 1;
  if not found or p->>'currency' is null or (p->>'amount') is null then
    return null;
  end if;
  select * into c from customers where id = uuid_or_null(p->>'customer_id');
  if c.id is null then
    if coalesce(p->>'email', '') !~ '^[^@\s]+@[^@\s]+$' then
      return null;
    end if;
    insert into customers (email, name) values (p->>'email', nullif(p->>'name', ''))
    on conflict (lower(email)) do update set updated_at = now()
    returning * into c;
  end if;
  insert into orders (id, customer_id, product_id, price_id, amount, currency, metadata)
  values (coalesce(v_order_id, gen_random_uuid()), c.id, pr.product_id, pr.id, (p->>'amount')::bigint, p->>'currency',
          jsonb_build_object('created_from', p->>'created_from'))
  on conflict (id) do nothing
  returning * into o;
  if o.id is null then
    return v_order_id; -- made meanwhile by a concurrent event for the same order
  end if;
  insert into payment_attempts (order_id, attempt, kind, stripe_idempotency_key, stripe_object_id, status)
  values (o.id, v_attempt, p->>'kind', 'made_from_webhook:' || (p->>'object_id'), p->>'object_id', 'open')
  on conflict do nothing;
  perform payment_log_for_order(o, 'order.created_from_payment', o.status, jsonb_build_object(
    'source', p->>'source', 'actor', p->>'actor', 'stripe_object_id', p->>'object_id', 'track', o.product_id,
    'price_amount', pr.unit_amount, 'amount_differs_from_price', o.amount <> pr.unit_amount));
  return o.id;
end
$$;

-- After a refund or dispute changed: the order's status from its payment's refunds and disputes.
create function order_settle_after_payment(p_order_id uuid, p_actor text) returns void language plpgsql as $$
declare
  o orders;
  v_refunded bigint;
  v_status text;
begin
  select * into o from orders where id = p_order_id for update;
  select coalesce(sum(r.amount), 0) into v_refunded
    from refunds r where r.order_id = o.id and r.status in ('pending', 'requires_action', 'succeeded');
  update payments set amount_refunded = least(v_refunded, amount), updated_at = now()
   where order_id = o.id and status = 'succeeded' and amount_refunded <> least(v_refunded, amount);
  v_status := case
    when exists (select 1 from disputes d where d.order_id = o.id and d.status not in ('won', 'warning_closed', 'prevented')) then 'disputed'
    when v_refunded >= o.amount and o.amount > 0 then 'refunded'
    when v_refunded > 0 then 'partially_refunded'
    else 'paid'
  end;
  if v_status <> o.status then
    update orders set status = v_status, sync_state = 'confirmed', updated_at = now() where id = o.id returning * into o;
    perform payment_log_for_order(o, 'order.' || v_status, v_status, jsonb_build_object('actor', p_actor, 'amount_refunded', v_refunded));
  end if;
end
$$;

-- The payment of a charge's PaymentIntent, made succeeded if a refund or dispute shows it was paid
-- before its own event arrived. p: { payment_intent_id, charge_id, amount, currency, order_id?, actor }
create function payment_for_charge(p jsonb) returns payments language plpgsql as $$
declare
  pay payments;
  o orders;
  v_applied jsonb;
begin
  select * into pay from payments where stripe_payment_intent_id = p->>'payment_intent_id';
  if found and pay.status = 'succeeded' then
    return pay;
  end if;
  select * into o from orders where id = payment_order_id(jsonb_build_object('object_id', p->>'payment_intent_id', 'order_id', p->>'order_id'));
  if o.id is null or p->>'payment_intent_id' is null then
    return null;
  end if;
  -- A refund or a dispute exists only for a charge that succeeded. (A refund or dispute event does
  -- not carry the charge's amount: the order's stands in.)
  v_applied := order_apply_payment(jsonb_build_object(
    'source', 'webhook', 'kind', 'payment_intent', 'object_id', p->>'payment_intent_id', 'order_id', o.id,
    'order_status', 'paid', 'payment_intent_id', p->>'payment_intent_id', 'charge_id', p->>'charge_id',
    'payment_status', 'succeeded', 'amount', coalesce((p->>'amount')::bigint, o.amount),
    'currency', coalesce(p->>'currency', o.currency), 'actor', p->>'actor'));
  if v_applied->>'outcome' = 'error' then
    return null;
  end if;
  update payments set status = 'succeeded', stripe_charge_id = coalesce(stripe_charge_id, p->>'charge_id'), updated_at = now()
   where stripe_payment_intent_id = p->>'payment_intent_id'
   returning * into pay;
  return pay;
end
$$;

-- Our customer behind a subscription or its invoice: by the subscription we keep, the Stripe customer
-- we know, or our customer id in the metadata. Null when none is ours.
create function subscriber(p_subscription_id text, p_stripe_customer_id text, p_customer_id text)
returns customers language plpgsql stable as $$
declare
  c customers;
begin
  select * into c from customers where id = coalesce(
    (select s.customer_id from subscriptions s where s.id = p_subscription_id),
    (select cu.id from customers cu where cu.stripe_customer_id = p_stripe_customer_id),
    uuid_or_null(p_customer_id));
  return c;
end
$$;

-- One event's effect. f: the facts translate.ts made of the event:
--   { event_id, type, created (unix seconds), retrieved, actor, effect, ... } where effect is
--   ignore { reason } | retrieve (the payload cannot settle it) | payment { object, payment, owner }
--   | refunds { charge, refunds[] }
--   | dispute { object, dispute } | subscription { object, subscription } | invoice { object, invoice }
-- Returns { outcome, note? }: outcome applied | unchanged | stale | ignored | retrieve.
create function stripe_event_effect(f jsonb) returns jsonb language plpgsql as $$
declare
  v_created timestamptz := to_timestamp((f->>'created')::bigint);
  v_retrieved boolean := coalesce((f->>'retrieved')::boolean, false);
  v_actor text := 'stripe:' || (f->>'event_id');
  v_verdict text;
  v_order_id uuid;
  v_result jsonb;
  v_payment jsonb;
  pay payments;
  c customers;
  o orders;
  r jsonb;
  v_any boolean := false;
begin
  case f->>'effect'
  when 'ignore' then
    return jsonb_build_object('outcome', 'ignored', 'note', f->>'reason');

  when 'retrieve' then
    return jsonb_build_object('outcome', 'retrieve');

  when 'payment' then
    v_payment := (f->'payment') || jsonb_build_object('source', 'webhook', 'actor', v_actor, 'event_created', v_created);
    v_order_id := payment_order_id(v_payment);
    if v_order_id is null and f->'payment'->>'order_status' in ('paid', 'processing') and f->'owner'->>'track' is not null then
      v_order_id := order_create_from_payment(v_payment || (f->'owner') || jsonb_build_object('created_from', f->>'event_id'));
    end if;
    if v_order_id is null then
      return jsonb_build_object('outcome', 'ignored', 'note', 'not ours: no order of ours for ' || (f->'payment'->>'object_id'));
    end if;
    v_verdict := stripe_object_advance(f->'object', f->>'event_id', v_created, v_retrieved);
    if v_verdict <> 'apply' then
      return jsonb_build_object('outcome', v_verdict);
    end if;
    v_result := order_apply_payment(v_payment);
    if v_result->>'outcome' = 'error' then
      return jsonb_build_object('outcome', 'applied', 'note', v_result->>'error');
    end if;
    return jsonb_build_object('outcome', v_result->>'outcome');

  when 'refunds' then
    pay := payment_for_charge(f->'charge' || jsonb_build_object('actor', v_actor));
    if pay.id is null and not v_retrieved then
      -- Refunds and disputes carry no metadata of ours: the PaymentIntent's (retrieved) says whose.
      return jsonb_build_object('outcome', 'retrieve');
    elsif pay.id is null then
      return jsonb_build_object('outcome', 'ignored', 'note', 'not ours: no payment of ours for ' || coalesce(f->'charge'->>'payment_intent_id', f->'charge'->>'charge_id'));
    end if;
    for r in select * from jsonb_array_elements(f->'refunds') loop
      v_verdict := stripe_object_advance(r->'object', f->>'event_id', v_created, v_retrieved);
      if v_verdict = 'retrieve' then
        return jsonb_build_object('outcome', 'retrieve');
      end if;
      continue when v_verdict <> 'apply';
      v_any := true;
      insert into refunds (id, order_id, payment_id, amount, currency, status, reason, failure_reason)
      values (r->'object'->>'id', pay.order_id, pay.id, (r->>'amount')::bigint, r->>'currency', r->>'status', r->>'reason', r->>'failure_reason')
      on conflict (id) do update
        set status = excluded.status, amount = excluded.amount, reason = excluded.reason,
            failure_reason = excluded.failure_reason, updated_at = now();
      select * into o from orders where id = pay.order_id;
      perform payment_log_for_order(o, 'refund.' || (r->>'status'), r->>'status', jsonb_strip_nulls(jsonb_build_object(
        'actor', v_actor, 'refund_id', r->'object'->>'id', 'refund_amount', r->'amount', 'reason', r->>'reason',
        'failure_reason', r->>'failure_reason')));
    end loop;
    if not v_any then
      return jsonb_build_object('outcome', 'unchanged');
    end if;
    perform order_settle_after_payment(pay.order_id, v_actor);
    return jsonb_build_object('outcome', 'applied');

  when 'dispute' then
    pay := payment_for_charge(f->'charge' || jsonb_build_object('actor', v_actor));
    if pay.id is null and not v_retrieved then
      -- Refunds and disputes carry no metadata of ours: the PaymentIntent's (retrieved) says whose.
      return jsonb_build_object('outcome', 'retrieve');
    elsif pay.id is null then
      return jsonb_build_object('outcome', 'ignored', 'note', 'not ours: no payment of ours for ' || coalesce(f->'charge'->>'payment_intent_id', f->'charge'->>'charge_id'));
    end if;
    v_verdict := stripe_object_advance(f->'object', f->>'event_id', v_created, v_retrieved);
    if v_verdict <> 'apply' then
      return jsonb_build_object('outcome', v_verdict);
    end if;
    insert into disputes (id, order_id, payment_id, amount, currency, status, reason)
    values (f->'object'->>'id', pay.order_id, pay.id, (f->'dispute'->>'amount')::bigint, f->'dispute'->>'currency',
            f->'dispute'->>'status', f->'dispute'->>'reason')
    on conflict (id) do update set status = excluded.status, amount = excluded.amount, reason = excluded.reason, updated_at = now();
    select * into o from orders where id = pay.order_id;
    perform payment_log_for_order(o, 'dispute.' || (f->'dispute'->>'status'), f->'dispute'->>'status', jsonb_build_object(
      'actor', v_actor, 'dispute_id', f->'object'->>'id', 'dispute_amount', f->'dispute'->'amount', 'reason', f->'dispute'->>'reason'));
    perform order_settle_after_payment(pay.order_id, v_actor);
    return jsonb_build_object('outcome', 'applied');

  when 'subscription' then
    c := subscriber(f->'object'->>'id', f->'subscription'->>'stripe_customer_id', f->'subscription'->>'customer_id');
    if c.id is null then
      return jsonb_build_object('outcome', 'ignored', 'note', 'not ours: no customer of ours for ' || (f->'object'->>'id'));
    end if;
    v_verdict := stripe_object_advance(f->'object', f->>'event_id', v_created, v_retrieved);
    if v_verdict <> 'apply' then
      return jsonb_build_object('outcome', v_verdict);
    end if;
    update customers set stripe_customer_id = f->'subscription'->>'stripe_customer_id', updated_at = now()
     where id = c.id and stripe_customer_id is null and f->'subscription'->>'stripe_customer_id' is not null
       and not exists (select 1 from customers x where x.stripe_customer_id = f->'subscription'->>'stripe_customer_id');
    insert into subscriptions (id, customer_id, order_id, status, stripe_price_id, current_period_end, cancel_at_period_end, canceled_at)
    values (f->'object'->>'id', c.id, (select o2.id from orders o2 where o2.id = uuid_or_null(f->'subscription'->>'order_id')),
            f->'subscription'->>'status', f->'subscription'->>'price_id',
            to_timestamp((f->'subscription'->>'current_period_end')::bigint),
            coalesce((f->'subscription'->>'cancel_at_period_end')::boolean, false),
            to_timestamp((f->'subscription'->>'canceled_at')::bigint))
    on conflict (id) do update
      set status = excluded.status, stripe_price_id = excluded.stripe_price_id, current_period_end = excluded.current_period_end,
          cancel_at_period_end = excluded.cancel_at_period_end, canceled_at = excluded.canceled_at, updated_at = now();
    insert into payment_logs (event_type, user_id, customer_id, status, metadata)
    values (f->>'type', c.user_id, c.id, f->'subscription'->>'status', jsonb_strip_nulls(jsonb_build_object(
      'actor', v_actor, 'subscription_id', f->'object'->>'id', 'price_id', f->'subscription'->>'price_id',
      'cancel_at_period_end', f->'subscription'->'cancel_at_period_end')));
    return jsonb_build_object('outcome', 'applied');

  when 'invoice' then
    c := subscriber(f->'invoice'->>'subscription_id', f->'invoice'->>'stripe_customer_id', f->'invoice'->>'customer_id');
    if c.id is null then
      return jsonb_build_object('outcome', 'ignored', 'note', 'not ours: no customer of ours for ' || (f->'object'->>'id'));
    end if;
    v_verdict := stripe_object_advance(f->'object', f->>'event_id', v_created, v_retrieved);
    if v_verdict <> 'apply' then
      return jsonb_build_object('outcome', v_verdict);
    end if;
    insert into payment_logs (event_type, user_id, customer_id, amount, currency, status, metadata)
    values (f->>'type', c.user_id, c.id, (f->'invoice'->>'amount')::bigint, f->'invoice'->>'currency', f->'invoice'->>'status',
            jsonb_strip_nulls(jsonb_build_object('actor', v_actor, 'invoice_id', f->'object'->>'id',
              'subscription_id', f->'invoice'->>'subscription_id', 'failure', f->'invoice'->'failure')));
    return jsonb_build_object('outcome', 'applied');

  else
    raise exception 'unknown effect %', f->>'effect';
  end case;
end
$$;

-- Applies a batch of events (their facts) and marks each: applied, ignored, or, after an error, its
-- attempt recorded with a backoff (failed after max_attempts). 'retrieve' leaves the event received,
-- leased for a minute while the server asks Stripe. Each event runs in its own subtransaction.
-- The caller holds the events' row locks (select … for update skip locked, same transaction).
-- facts: [{ event_id, …, error? }] (error: the server could not read the payload).
-- Returns [{ event_id, status, outcome }].
create function stripe_events_apply(facts jsonb, max_attempts integer) returns jsonb language plpgsql as $$
declare
  f jsonb;
  v_result jsonb;
  v_out jsonb := '[]'::jsonb;
  v_status text;
  v_note text;
  e stripe_events;
begin
  for f in select * from jsonb_array_elements(facts) loop
    begin
      if f->>'error' is not null then
        raise exception '%', f->>'error';
      end if;
      v_result := stripe_event_effect(f);
      v_note := v_result->>'note';
      if v_result->>'outcome' = 'retrieve' then
        update stripe_events set next_attempt_at = now() + interval '1 minute', outcome = 'retrieving the object from Stripe'
         where id = f->>'event_id';
        v_status := 'received';
      else
        v_status := case when v_result->>'outcome' = 'ignored' then 'ignored' else 'applied' end;
        update stripe_events
           set status = v_status,
               outcome = left(case when v_note is null then v_result->>'outcome' else (v_result->>'outcome') || ': ' || v_note end, 300),
               ignored_reason = case when v_status = 'ignored' then left(v_note, 200) end,
               applied_at = case when v_status = 'applied' then now() end,
               attempts = attempts + 1, last_error = null, failed_at = null
         where id = f->>'event_id';
      end if;
      v_out := v_out || jsonb_build_object('event_id', f->>'event_id', 'status', v_status, 'outcome', v_result->>'outcome');
    exception when others then
      update stripe_events
         set attempts = attempts + 1,
             last_error = left(sqlerrm, 2000),
             -- 2, 4, 8 … seconds, at most an hour, with up to 50% jitter so retries do not march together.
             next_attempt_at = now() + least(interval '1 hour', interval '1 second' * power(2, least(attempts + 1, 12)))
                                     * (1 + random() * 0.5),
             status = case when attempts + 1 >= max_attempts then 'failed' else 'received' end,
             failed_at = case when attempts + 1 >= max_attempts then now() end,
             outcome = null
       where id = f->>'event_id'
       returning * into e;
      v_out := v_out || jsonb_build_object('event_id', f->>'event_id', 'status', e.status, 'outcome', 'error', 'error', left(sqlerrm, 500));
    end;
  end loop;
  return v_out;
end
$$;

-- Staff replay: puts a stored event back in the queue (whatever its status), with an audit row. The
-- server then applies it at once. Returns false when there is no such event.
create function stripe_event_replay(p_event_id text, p_actor text) returns boolean language plpgsql as $$
begin
  update stripe_events
     set status = 'received', attempts = 0, next_attempt_at = now(), last_error = null, failed_at = null,
         ignored_reason = null, applied_at = null, outcome = null
   where id = p_event_id;
  if not found then
    return false;
  end if;
  insert into audit_log (actor_type, actor_id, action, target_type, target_id)
  values ('staff', p_actor, 'webhook_event.replay', 'stripe_event', p_event_id);
  return true;
end
$$;

revoke execute on function uuid_or_null(text) from public, anon, authenticated;
revoke execute on function stripe_object_advance(jsonb, text, timestamptz, boolean) from public, anon, authenticated;
revoke execute on function payment_order_id(jsonb) from public, anon, authenticated;
revoke execute on function order_apply_payment(jsonb) from public, anon, authenticated;
revoke execute on function order_create_from_payment(jsonb) from public, anon, authenticated;
revoke execute on function order_settle_after_payment(uuid, text) from public, anon, authenticated;
revoke execute on function payment_for_charge(jsonb) from public, anon, authenticated;
revoke execute on function subscriber(text, text, text) from public, anon, authenticated;
revoke execute on function stripe_event_effect(jsonb) from public, anon, authenticated;
revoke execute on function stripe_events_apply(jsonb, integer) from public, anon, authenticated;
revoke execute on function stripe_event_replay(text, text) from public, anon, authenticated;
