-- Make.com forwarding through a transactional outbox (DESIGN.md decision 7, issue 6).
--
-- make_routes: the event kinds that have a Make scenario, synced from the server's config at start-up
--   (make_routes_sync). A kind without a route is never enqueued.
-- make_deliveries: the outbox. A row is written by triggers on the change itself (an order paid for
--   the first time, an order failed, a refund succeeded, a dispute opened, a subscription changed), so
--   it commits with that change or not at all, whichever code path made it (the webhook applier, the
--   storefront's confirm call, the janitor). The payload is a snapshot taken then; its id is the
--   delivery id Make scenarios drop repeats by, kept across retries and replays.
-- make_delivery_attempts: one row per POST, for staff.
--
-- The worker (server/make/outbox.ts) claims due rows with FOR UPDATE SKIP LOCKED in a short
-- transaction (make_deliveries_claim), posts them outside any transaction, and records the outcome
-- (make_delivery_record) only if it still holds the attempt it claimed: while a row is `delivering`,
-- next_attempt_at is its lease, and a worker that died mid-attempt leaves the row due again when the
-- lease ends. A late worker whose lease expired cannot overwrite the newer attempt.

create table make_routes (
  kind       text primary key check (kind in ('add_project', 'payment_failed', 'refund_completed', 'dispute_opened', 'subscription_changed')),
  url        text not null check (url ~ '^https?://' and length(url) <= 2000),
  updated_at timestamptz not null default now()
);

create table make_deliveries (
  id               uuid primary key,                 -- the delivery id sent to Make (X-Delivery-Id, payload.delivery_id)
  kind             text not null check (kind in ('add_project', 'payment_failed', 'refund_completed', 'dispute_opened', 'subscription_changed')),
  -- What makes two deliveries the same: the order for add_project (one per completed checkout, however
  -- often the event arrives), the refund, the dispute, the order's failed payment, the subscription's state.
  dedupe_key       text not null check (length(dedupe_key) <= 600),
  order_id         uuid references orders (id),
  customer_id      uuid references customers (id),
  subject_id       text check (length(subject_id) <= 255),  -- re_…, du_…, sub_… for those kinds
  payload          jsonb not null,
  status           text not null default 'pending' check (status in ('pending', 'delivering', 'delivered', 'dead')),
  attempts         integer not null default 0 check (attempts >= 0),
  -- pending: when the next attempt is due; delivering: when the claim's lease ends.
  next_attempt_at  timestamptz not null default now(),
  -- Retries stop (dead) once this is more than the retry horizon ago; a staff retry or replay resets it.
  retry_window_from timestamptz not null default now(),
  replays          integer not null default 0 check (replays >= 0),
  last_status_code integer,
  last_error       text check (length(last_error) <= 1000),
  last_response    text check (length(last_response) <= 2048),
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now(),
  delivered_at     timestamptz,
  dead_at          timestamptz,
  unique (kind, dedupe_key)
);
-- The worker's queue: pending rows due, and delivering rows whose lease has ended.
create index make_deliveries_due_idx on make_deliveries (next_attempt_at) where status in ('pending', 'delivering');
-- The console lists newest first with keyset pagination, overall and by status or kind.
create index make_deliveries_created_idx on make_deliveries (created_at desc, id desc);
create index make_deliveries_status_created_idx on make_deliveries (status, created_at desc, id desc);
create index make_deliveries_kind_created_idx on make_deliveries (kind, created_at desc, id desc);
create index make_deliveries_order_idx on make_deliveries (order_id);

create table make_delivery_attempts (
  delivery_id uuid not null references make_deliveries (id),
  attempt     integer not null check (attempt >= 1),
  started_at  timestamptz not null,
  finished_at timestamptz not null,
  status_code integer,
  latency_ms  integer not null check (latency_ms >= 0),
  outcome     text not null check (outcome in ('delivered', 'retry', 'dead', 'lease_lost')),
  error       text check (length(error) <= 1000),
  response    text check (length(response) <= 2048),
  primary key (delivery_id, attempt)
);

alter table make_routes enable row level security;
alter table make_deliveries enable row level security;
alter table make_delivery_attempts enable row level security;

-- Replaces the routes with the server's config: routes = { kind: url }.
create function make_routes_sync(routes jsonb) returns void language plpgsql as $$
begin
  delete from make_routes where not (routes ? kind);
  insert into make_routes (kind, url)
  select key, value from jsonb_each_text(routes)
  on conflict (kind) do update set url = excluded.url, updated_at = now()
   where make_routes.url is distinct from excluded.url;
end
$$;

-- An order's part of a payload: what a scenario needs to set up the customer's project.
create function make_order_data(p_order_id uuid) returns jsonb language sql stable as $$
  select jsonb_build_object(
           'order_id', o.id,
           'status', o.status,
           'customer', jsonb_build_object('id', c.id, 'email', c.email, 'name', c.name),
           'track', jsonb_build_object('id', p.id, 'name', p.name),
           'amount', o.amount,
           'currency', o.currency,
           'checkout_session_id', o.checkout_session_id,
           'payment_intent_id', o.payment_intent_id,
           'metadata', o.metadata)
    from orders o
    join customers c on c.id = o.customer_id
    join products p on p.id = o.product_id
   where o.id = p_order_id
$$;

-- Writes one delivery when the kind is routed; a repeat (same kind and dedupe key) writes nothing.
-- Wakes the workers with NOTIFY, which PostgreSQL delivers at commit (and drops on rollback).
create function make_enqueue(
  p_kind text, p_dedupe_key text, p_order_id uuid, p_customer_id uuid, p_subject_id text, p_data jsonb
) returns void language plpgsql as $$
declare
  v_id uuid := gen_random_uuid();
begin
  if not exists (select 1 from make_routes where kind = p_kind) then
    return;
  end if;
  insert into make_deliveries (id, kind, dedupe_key, order_id, customer_id, subject_id, payload)
  values (v_id, p_kind, p_dedupe_key, p_order_id, p_customer_id, p_subject_id,
          jsonb_build_object('type', p_kind, 'version', 1, 'delivery_id', v_id,
                             'occurred_at', to_char(now() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                             'data', p_data))
  on conflict (kind, dedupe_key) do nothing;
  if found then
    perform pg_notify('make_outbox', '');
  end if;
end
$$;

-- Orders: paid for the first time (reaching paid or what follows it) is a completed checkout; a
-- failed payment is payment_failed, once per failure (its Stripe state's time tells failures apart).
create function make_on_order_change() returns trigger language plpgsql as $$
begin
  if order_status_rank(new.status) >= order_status_rank('paid')
     and (tg_op = 'INSERT' or order_status_rank(old.status) < order_status_rank('paid')) then
    perform make_enqueue('add_project', new.id::text, new.id, new.customer_id, null, make_order_data(new.id));
  elsif new.status = 'failed' and (tg_op = 'INSERT' or old.status <> 'failed') then
    perform make_enqueue('payment_failed',
      new.id::text || ':' || coalesce(new.payment_intent_id, '') || ':' || coalesce(new.payment_state_at, now())::text,
      new.id, new.customer_id, null, make_order_data(new.id));
  end if;
  return null;
end
$$;

create trigger make_on_order_change after insert or update of status on orders
  for each row execute function make_on_order_change();

create function make_on_refund_change() returns trigger language plpgsql as $$
declare
  v_customer uuid;
begin
  if new.status = 'succeeded' and (tg_op = 'INSERT' or old.status <> 'succeeded') then
    select customer_id into v_customer from orders where id = new.order_id;
    perform make_enqueue('refund_completed', new.id, new.order_id, v_customer, new.id,
      make_order_data(new.order_id) || jsonb_build_object('refund', jsonb_build_object(
        'id', new.id, 'amount', new.amount, 'currency', new.currency, 'reason', new.reason)));
  end if;
  return null;
end
$$;

create trigger make_on_refund_change after insert or update of status on refunds
  for each row execute function make_on_refund_change();

create function make_on_dispute_insert() returns trigger language plpgsql as $$
declare
  v_customer uuid;
begin
  select customer_id into v_customer from orders where id = new.order_id;
  perform make_enqueue('dispute_opened', new.id, new.order_id, v_customer, new.id,
    make_order_data(new.order_id) || jsonb_build_object('dispute', jsonb_build_object(
      'id', new.id, 'amount', new.amount, 'currency', new.currency, 'reason', new.reason, 'status', new.status)));
  return null;
end
$$;

create trigger make_on_dispute_insert after insert on disputes
  for each row execute function make_on_dispute_insert();

-- Subscriptions: created, or their status or price changed. Each state is one delivery.
create function make_on_subscription_change() returns trigger language plpgsql as $$
begin
  if tg_op = 'UPDATE' and old.status = new.status and old.stripe_price_id is not distinct from new.stripe_price_id then
    return null;
  end if;
  perform make_enqueue('subscription_changed',
    new.id || ':' || new.status || ':' || coalesce(new.stripe_price_id, '') || ':' || now()::text,
    new.order_id, new.customer_id, new.id,
    jsonb_build_object(
      'order_id', new.order_id,
      'customer', (select jsonb_build_object('id', c.id, 'email', c.email, 'name', c.name) from customers c where c.id = new.customer_id),
      'subscription', jsonb_build_object(
        'id', new.id, 'status', new.status, 'previous_status', case when tg_op = 'UPDATE' then old.status end,
        'price_id', new.stripe_price_id, 'current_period_end', new.current_period_end,
        'cancel_at_period_end', new.cancel_at_period_end, 'canceled_at', new.canceled_at)));
  return null;
end
$$;

create trigger make_on_subscription_change after insert or update of status, stripe_price_id on subscriptions
  for each row execute function make_on_subscription_change();

-- Claims up to p_limit due deliveries for one attempt each: pending ones whose time has come, and
-- delivering ones whose lease ended (their worker died or hung). Returns them with their route's URL
-- (null when the kind is no longer routed) and the attempt number the caller now holds.
create function make_deliveries_claim(p_limit integer, p_lease_ms integer)
returns table (id uuid, kind text, url text, payload jsonb, attempt integer, created_at timestamptz)
language sql as $$
  with due as (
    select d.id from make_deliveries d
     where d.status in ('pending', 'delivering') and d.next_attempt_at <= now()
     order by d.next_attempt_at
     limit p_limit
       for update skip locked
  ), claimed as (
    update make_deliveries d
       set status = 'delivering', attempts = d.attempts + 1,
           next_attempt_at = now() + p_lease_ms * interval '1 millisecond', updated_at = now()
      from due
     where d.id = due.id
    returning d.id, d.kind, d.payload, d.attempts, d.created_at
  )
  select c.id, c.kind, r.url, c.payload, c.attempts, c.created_at
    from claimed c left join make_routes r on r.kind = c.kind
$$;

-- Records one attempt. p: { id, attempt, outcome: 'delivered' | 'retry' | 'dead', retry_in_ms?,
-- horizon_ms, started_at, latency_ms, status_code?, error?, response? }. A retry past the horizon
-- (counted from retry_window_from) is dead instead. The attempt row is always written (the POST
-- happened); the delivery moves only if the caller still holds this attempt. Returns the outcome
-- applied: 'delivered' | 'retry' | 'dead' | 'lease_lost'.
create function make_delivery_record(p jsonb) returns text language plpgsql as $$
declare
  d make_deliveries;
  v_outcome text := p->>'outcome';
  v_next timestamptz;
begin
  select * into d from make_deliveries where id = (p->>'id')::uuid for update;
  if not found then
    raise exception 'make delivery % does not exist', p->>'id';
  end if;
  if d.status <> 'delivering' or d.attempts <> (p->>'attempt')::integer then
    v_outcome := 'lease_lost';
  elsif v_outcome = 'retry' then
    v_next := now() + coalesce((p->>'retry_in_ms')::bigint, 0) * interval '1 millisecond';
    if v_next > d.retry_window_from + (p->>'horizon_ms')::bigint * interval '1 millisecond' then
      v_outcome := 'dead';
    end if;
  end if;

  insert into make_delivery_attempts (delivery_id, attempt, started_at, finished_at, status_code, latency_ms, outcome, error, response)
  values (d.id, (p->>'attempt')::integer, (p->>'started_at')::timestamptz, now(), (p->>'status_code')::integer,
          greatest((p->>'latency_ms')::integer, 0), v_outcome, left(p->>'error', 1000), left(p->>'response', 2048))
  on conflict (delivery_id, attempt) do nothing;

  if v_outcome = 'lease_lost' then
    return v_outcome;
  end if;
  update make_deliveries
     set status = case v_outcome when 'delivered' then 'delivered' when 'dead' then 'dead' else 'pending' end,
         next_attempt_at = coalesce(v_next, now()),
         last_status_code = (p->>'status_code')::integer,
         last_error = left(p->>'error', 1000),
         last_response = left(p->>'response', 2048),
         delivered_at = case when v_outcome = 'delivered' then now() else delivered_at end,
         dead_at = case when v_outcome = 'dead' then now() end,
         updated_at = now()
   where id = d.id;
  return v_outcome;
end
$$;

-- Staff: send one delivery again now. 'retry' takes a pending or dead delivery (due now, a fresh retry
-- window); 'replay' a delivered or dead one (sent again with the same delivery id). Idempotent by
-- the caller's key: the same key and input returns the first answer without acting again; another
-- input with the key is a conflict. Audited. NOTIFY wakes the workers.
-- p: { id, action: 'retry' | 'replay', actor, scope, key, request_hash }
-- Returns { outcome: 'done' | 'repeat' | 'not_found' | 'wrong_state' | 'conflict', status?, operation? }.
create function make_delivery_resend(p jsonb) returns jsonb language plpgsql as $$
declare
  d make_deliveries;
  k idempotency_keys;
  v_operation text := 'make_delivery_' || (p->>'action');
  v_allowed text[] := case p->>'action' when 'retry' then array['pending', 'dead'] else array['delivered', 'dead'] end;
begin
  -- The delivery's lock serialises two calls with one key, so the second sees the first's key.
  select * into d from make_deliveries where id = (p->>'id')::uuid for update;
  select * into k from idempotency_keys where scope = p->>'scope' and key = p->>'key';
  if found then
    if k.operation <> v_operation or k.request_hash <> p->>'request_hash' then
      return jsonb_build_object('outcome', 'conflict', 'operation', k.operation);
    end if;
    return jsonb_build_object('outcome', 'repeat', 'status', d.status);
  end if;
  if d.id is null then
    return jsonb_build_object('outcome', 'not_found');
  end if;
  if not (d.status = any (v_allowed)) then
    return jsonb_build_object('outcome', 'wrong_state', 'status', d.status);
  end if;

  insert into idempotency_keys (scope, key, operation, request_hash, status, completed_at)
  values (p->>'scope', p->>'key', v_operation, p->>'request_hash', 'completed', now())
  on conflict do nothing;
  if not found then
    -- The same key, used at the same moment for another delivery: that call committed first.
    return jsonb_build_object('outcome', 'conflict', 'operation', v_operation);
  end if;
  update make_deliveries
     set status = 'pending', next_attempt_at = now(), retry_window_from = now(), dead_at = null,
         replays = replays + case when p->>'action' = 'replay' then 1 else 0 end, updated_at = now()
   where id = d.id
   returning * into d;
  insert into audit_log (actor_type, actor_id, action, target_type, target_id, details)
  values ('staff', p->>'actor', 'make_delivery.' || (p->>'action'), 'make_delivery', d.id::text,
          jsonb_build_object('kind', d.kind, 'attempts', d.attempts, 'idempotency_key', p->>'key'));
  perform pg_notify('make_outbox', '');
  return jsonb_build_object('outcome', 'done', 'status', d.status);
end
$$;

revoke execute on function make_routes_sync(jsonb) from public, anon, authenticated;
revoke execute on function make_order_data(uuid) from public, anon, authenticated;
revoke execute on function make_enqueue(text, text, uuid, uuid, text, jsonb) from public, anon, authenticated;
revoke execute on function make_on_order_change() from public, anon, authenticated;
revoke execute on function make_on_refund_change() from public, anon, authenticated;
revoke execute on function make_on_dispute_insert() from public, anon, authenticated;
revoke execute on function make_on_subscription_change() from public, anon, authenticated;
revoke execute on function make_deliveries_claim(integer, integer) from public, anon, authenticated;
revoke execute on function make_delivery_record(jsonb) from public, anon, authenticated;
revoke execute on function make_delivery_resend(jsonb) from public, anon, authenticated;
