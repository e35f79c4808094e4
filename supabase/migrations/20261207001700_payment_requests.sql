-- Issue 20: payment requests split among members (PAY-004). A request is a sum; each member owes a
-- share and pays it on their own, through one PaymentIntent per member, reused while it can still be
-- paid (option C).
--
-- Each share is backed by an order of its own (orders.payment_request_id set, price_id null: a share
-- is not bought at a catalog price). Its PaymentIntents are that order's payment_attempts (Stripe key
-- member_share:<member id>:<attempt>), so everything the order path already does right applies to
-- shares unchanged: the webhook applier and order_apply_payment (object order, exactly once), the
-- payments row, refunds with their guard (refundPayment on the share's order), disputes, and the
-- janitor's provisional and orphan checks. What is the request's own (member status, request status
-- and progress, the Make deliveries payment_request_completed / payment_request_reminder, and
-- add_project once for a request for a track) hangs off the share order's status changes.
--
-- Lock order, everywhere: the share's order, then its member row, then the request row. A path that
-- touches several shares (cancel, expiry) locks their orders in id order first.

-- Shares of a request with a free description (no track) are orders of this product; it is not for
-- sale (inactive, no price), so pricing and the catalog sync never show it.
insert into products (id, name, description, active, sort_order)
values ('payment_request', 'Payment request', 'A member''s share of a payment request with a free description', false, 1000)
on conflict (id) do nothing;

create table payment_requests (
  id           uuid primary key default gen_random_uuid(),
  title        text not null check (length(title) between 1 and 200),
  -- The track it buys; null for a free description.
  product_id   text references products(id),
  description  text check (length(description) <= 1000),
  currency     text not null check (currency ~ '^[a-z]{3}$'),
  -- Minor units; the members' shares sum to it (payment_request_shares_sum_to_total, at commit).
  total        bigint not null check (total > 0),
  status       text not null default 'open' check (status in ('open', 'partially_paid', 'paid', 'canceled', 'expired')),
  expires_at   timestamptz,
  -- staff:<user id>, customer:<user id> or api_key:<key id>: who may read, cancel and remind.
  created_by   text not null check (length(created_by) between 1 and 300),
  -- Shown to staff: the creator's email or the key's name.
  created_by_name text check (length(created_by_name) <= 320),
  metadata     jsonb not null default '{}'::jsonb,
  completed_at timestamptz,
  canceled_at  timestamptz,
  created_at   timestamptz not null default now(),
  updated_at   timestamptz not null default now(),
  check (product_id is not null or description is not null),
  check ((status = 'paid') = (completed_at is not null)),
  check ((status = 'canceled') = (canceled_at is not null))
);
alter table payment_requests enable row level security;
create index payment_requests_created_idx on payment_requests (created_at desc, id desc);
create index payment_requests_status_created_idx on payment_requests (status, created_at desc, id desc);
create index payment_requests_creator_created_idx on payment_requests (created_by, created_at desc, id desc);
create index payment_requests_expiring_idx on payment_requests (expires_at) where status in ('open', 'partially_paid') and expires_at is not null;

-- A share's order names its request (null for every other order), and has no catalog price.
alter table orders add column payment_request_id uuid references payment_requests(id);
alter table orders alter column price_id drop not null;
alter table orders add constraint orders_price_or_share check ((price_id is null) = (payment_request_id is not null));
create index orders_payment_request_idx on orders (payment_request_id) where payment_request_id is not null;

create table payment_request_members (
  id                 uuid primary key default gen_random_uuid(),
  payment_request_id uuid not null references payment_requests(id),
  email              text not null check (length(email) between 3 and 320),
  name               text check (length(name) <= 200),
  -- The share, in the request's currency's minor unit (pence for GBP).
  amount_pence       bigint not null check (amount_pence > 0),
  -- sha256 (hex) of the member's pay token; the token itself is never stored. A reminder replaces it.
  token_hash         text not null unique check (token_hash ~ '^[0-9a-f]{64}$'),
  status             text not null default 'pending' check (status in ('pending', 'processing', 'paid', 'failed', 'canceled', 'refunded')),
  -- PaymentIntents made for the share; a decline paid again on the same PaymentIntent does not count.
  payment_attempt_count integer not null default 0 check (payment_attempt_count >= 0),
  stripe_payment_intent_id text unique check (length(stripe_payment_intent_id) <= 255),
  -- The share's order: its payment, refunds and disputes.
  order_id           uuid not null unique references orders(id),
  -- Where the member was in the list given (0 first): members read back in that order (created_at
  -- ties within one statement).
  position           integer not null default 0 check (position between 0 and 49),
  paid_at            timestamptz,
  created_at         timestamptz not null default now(),
  updated_at         timestamptz not null default now()
);
alter table payment_request_members enable row level security;
create unique index payment_request_members_email_key on payment_request_members (payment_request_id, lower(email));
create index payment_request_members_request_idx on payment_request_members (payment_request_id);

-- Shares sum to the total: checked at commit, so a request and its members are written in any order
-- within one transaction (payment_request_create), and no later write can break it.
create function payment_request_shares_sum_to_total() returns trigger language plpgsql as $$
declare
  v_request uuid;
  v_total bigint;
  v_sum bigint;
begin
  -- Two statements, not one CASE: PL/pgSQL plans an expression whole, and payment_requests' row has
  -- no payment_request_id.
  if tg_table_name = 'payment_requests' then
    v_request := new.id;
  else
    v_request := new.payment_request_id;
  end if;
  select total into v_total from payment_requests where id = v_request;
  select coalesce(sum(amount_pence), 0) into v_sum from payment_request_members where payment_request_id = v_request;
  if v_total is distinct from v_sum then
    raise exception 'payment request %: shares sum to %, total is %', v_request, v_sum, v_total
      using errcode = '23514', constraint = 'payment_request_shares_sum_to_total';
  end if;
  return null;
end
$$;
revoke execute on function payment_request_shares_sum_to_total() from public, anon, authenticated;

create constraint trigger payment_request_shares_sum_to_total after insert or update of total on payment_requests
  deferrable initially deferred for each row execute function payment_request_shares_sum_to_total();
create constraint trigger payment_request_member_shares_sum_to_total after insert or update of amount_pence, payment_request_id on payment_request_members
  deferrable initially deferred for each row execute function payment_request_shares_sum_to_total();

-- ================================================================================================
-- Make: two kinds of their own. payment_request_completed goes out once when the last share is paid;
-- payment_request_reminder once per reminder per member (the pay link it carries is new each time).
-- ================================================================================================
alter table make_routes drop constraint make_routes_kind_check;
alter table make_routes add constraint make_routes_kind_check check (kind in ('add_project', 'payment_failed', 'refund_completed',
  'dispute_opened', 'subscription_changed', 'payment_request_completed', 'payment_request_reminder'));
alter table make_deliveries drop constraint make_deliveries_kind_check;
alter table make_deliveries add constraint make_deliveries_kind_check check (kind in ('add_project', 'payment_failed', 'refund_completed',
  'dispute_opened', 'subscription_changed', 'payment_request_completed', 'payment_request_reminder'));

-- A share's order enqueues nothing itself: a member's failed card is the request's business (the
-- member pays again on the same link), and add_project goes out once for the whole request when the
-- last share is paid (payment_request_on_share_order below), not once per member.
create or replace function make_on_order_change() returns trigger language plpgsql as $$
begin
  if new.payment_request_id is not null then
    return null;
  end if;
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

-- What Make is told about a request (payment_request_completed, add_project for a track, and inside
-- each reminder): the request, its track and its members as they stand.
create function payment_request_make_data(p_request_id uuid) returns jsonb language sql stable as $$
  select jsonb_build_object(
           'payment_request', jsonb_build_object(
             'id', r.id, 'title', r.title, 'description', r.description, 'status', r.status,
             'track', case when p.id is null then null else jsonb_build_object('id', p.id, 'name', p.name) end,
             'total', r.total, 'currency', r.currency, 'created_by', r.created_by, 'created_by_name', r.created_by_name,
             'metadata', r.metadata, 'expires_at', r.expires_at, 'completed_at', r.completed_at),
           'members', coalesce((select jsonb_agg(jsonb_build_object(
                                   'id', m.id, 'email', m.email, 'name', m.name, 'amount', m.amount_pence, 'status', m.status,
                                   'order_id', m.order_id, 'paid_at', m.paid_at) order by m.position, m.created_at, m.id)
                                 from payment_request_members m where m.payment_request_id = r.id), '[]'::jsonb))
    from payment_requests r left join products p on p.id = r.product_id
   where r.id = p_request_id
$$;

-- ================================================================================================
-- The request's state follows its share orders (the design's status map).
-- ================================================================================================
create function payment_request_member_status(p_order_status text) returns text language sql immutable as $$
  select case
           when p_order_status in ('pending', 'requires_action') then 'pending'
           when p_order_status = 'processing' then 'processing'
           when p_order_status in ('paid', 'partially_refunded', 'disputed') then 'paid'
           when p_order_status in ('failed', 'canceled', 'refunded') then p_order_status
         end
$$;

-- After a share order's status changes (its row is locked by the writer): the member row, then the
-- request row, so the lock order is the order, the member, the request, as everywhere. Whoever changes
-- the order (order_apply_payment from a webhook, confirm or the janitor, a refund, a dispute, cancel,
-- expiry) moves the member and the request in the same transaction.
create function payment_request_on_share_order() returns trigger language plpgsql as $$
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
  -- A closed request keeps its status: a share paid after cancel or expiry stays paid, the request canceled.
  if r.status not in ('open', 'partially_paid') then
    return null;
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

create trigger payment_request_on_share_order after update of status on orders
  for each row when (new.payment_request_id is not null and old.status is distinct from new.status)
  execute function payment_request_on_share_order();

-- ================================================================================================
-- payment_request_create: the key, the rules, the request, every member, every share order (and its
-- customer) and their payment_logs, in one statement. p: scope, key, request_hash, title, track,
-- description, currency, expires_at, now (Stripe's clock), metadata, created_by, created_by_name,
-- members [{email, name, amount, token_hash}], and optionally total (else the sum of the shares).
-- Answers {outcome: created | repeat, payment_request_id}, {outcome: conflict, operation} or
-- {outcome: invalid, reason, field, message}: an invalid request writes nothing, not even its key.
-- ================================================================================================
create function payment_request_invalid(p_reason text, p_field text, p_message text) returns jsonb language sql immutable as $$
  select jsonb_build_object('outcome', 'invalid', 'reason', p_reason, 'field', p_field, 'message', p_message)
$$;

create function payment_request_create(p jsonb) returns jsonb language plpgsql as $$
declare
  k idempotency_keys;
  r payment_requests;
  c customers;
  o orders;
  prod products;
  v_member jsonb;
  v_member_id uuid;
  v_members jsonb := case when jsonb_typeof(p->'members') = 'array' then p->'members' else '[]'::jsonb end;
  v_count integer;
  v_amount numeric;
  v_sum numeric := 0;
  v_emails text[] := '{}';
  v_email text;
  v_expires timestamptz;
  v_now timestamptz := coalesce((p->>'now')::timestamptz, now());
  v_title text := p->>'title';
  v_description text := nullif(p->>'description', '');
  v_actor_type text := split_part(p->>'created_by', ':', 1);
  v_position integer := 0;
  v_customers jsonb := '{}'::jsonb;
begin
  -- A key used before answers what it answered (or is a conflict), before any rule is checked again.
  select * into k from idempotency_keys where scope = p->>'scope' and key = p->>'key';
  if found then
    return payment_request_create_repeat(k, p->>'request_hash');
  end if;

  if v_title is null or length(v_title) not between 1 and 200 then
    return payment_request_invalid('INVALID_TITLE', 'title', 'title must be 1 to 200 characters');
  end if;
  if v_description is not null and length(v_description) > 1000 then
    return payment_request_invalid('INVALID_DESCRIPTION', 'description', 'description must be at most 1,000 characters');
  end if;
  if p->>'track' is not null then
    select * into prod from products where id = p->>'track';
    if not found or not prod.active then
      return payment_request_invalid('UNKNOWN_TRACK', 'track', 'No such track for sale');
    end if;
  elsif v_description is null then
    return payment_request_invalid('TRACK_OR_DESCRIPTION', 'track', 'Give a track or a description');
  end if;
  if coalesce(p->>'currency', '') !~ '^[a-z]{3}$' then
    return payment_request_invalid('INVALID_CURRENCY', 'currency', 'currency must be a lower-case ISO 4217 code');
  end if;
  if p->>'expires_at' is not null then
    v_expires := (p->>'expires_at')::timestamptz;
    if v_expires <= v_now or v_expires > v_now + interval '366 days' then
      return payment_request_invalid('INVALID_EXPIRES_AT', 'expiresAt', 'expiresAt must be in the future, within a year');
    end if;
  end if;
  if p->'metadata' is not null and jsonb_typeof(p->'metadata') <> 'object' then
    return payment_request_invalid('INVALID_METADATA', 'metadata', 'metadata must be key/value pairs');
  end if;
  v_count := jsonb_array_length(v_members);
  if v_count not between 1 and 50 then
    return payment_request_invalid('INVALID_MEMBERS', 'members', 'A request has 1 to 50 members');
  end if;
  for v_member in select value from jsonb_array_elements(v_members) loop
    v_email := v_member->>'email';
    if v_email is null or length(v_email) not between 3 and 320 or v_email !~ '^[^@\s]+@[^@\s]+$' then
      return payment_request_invalid('INVALID_EMAIL', 'members.email', 'Each member needs an email address (up to 320 characters)');
    end if;
    if lower(v_email) = any (v_emails) then
      return payment_request_invalid('DUPLICATE_EMAIL', 'members.email', 'Each email may be given once per request');
    end if;
    v_emails := v_emails || lower(v_email);
    if length(v_member->>'name') > 200 then
      return payment_request_invalid('INVALID_NAME', 'members.name', 'A member''s name is at most 200 characters');
    end if;
    if jsonb_typeof(v_member->'amount') is distinct from 'number' then
      return payment_request_invalid('INVALID_AMOUNT', 'members.amount', 'Each share is a whole amount of at least 1 in the minor unit');
    end if;
    v_amount := (v_member->>'amount')::numeric;
    if v_amount <> trunc(v_amount) or v_amount < 1 or v_amount > 2147483647 then
      return payment_request_invalid('INVALID_AMOUNT', 'members.amount', 'Each share is a whole amount of at least 1 in the minor unit');
    end if;
    if coalesce(v_member->>'token_hash', '') !~ '^[0-9a-f]{64}$' then
      raise exception 'payment_request_create: a member without a token hash';
    end if;
    v_sum := v_sum + v_amount;
  end loop;
  if p->>'total' is not null and (p->>'total')::numeric <> v_sum then
    return payment_request_invalid('SHARES_DO_NOT_SUM_TO_TOTAL', 'members.amount', format('The shares sum to %s, not the total %s', v_sum, p->>'total'));
  end if;

  -- A concurrent call with this key waits here until the first commits, then reads its answer.
  insert into idempotency_keys (scope, key, operation, request_hash, status, completed_at)
  values (p->>'scope', p->>'key', 'create_payment_request', p->>'request_hash', 'completed', now())
  on conflict do nothing
  returning * into k;
  if k.scope is null then
    select * into k from idempotency_keys where scope = p->>'scope' and key = p->>'key';
    return payment_request_create_repeat(k, p->>'request_hash');
  end if;

  insert into payment_requests (title, product_id, description, currency, total, expires_at, created_by, created_by_name, metadata)
  values (v_title, prod.id, v_description, p->>'currency', v_sum, v_expires, p->>'created_by', nullif(p->>'created_by_name', ''),
          coalesce(p->'metadata', '{}'::jsonb))
  returning * into r;
  -- The members' customer rows (the ones that own their emails, as a guest checkout finds them), taken
  -- in the order of their emails: two requests naming the same members in other orders would otherwise
  -- lock each other's rows crosswise and deadlock.
  for v_member in select value from jsonb_array_elements(v_members) order by lower(value->>'email') loop
    insert into customers (email, name)
    values (v_member->>'email', nullif(v_member->>'name', ''))
    on conflict (lower(email)) where email_owner do update
      set name = coalesce(customers.name, excluded.name), updated_at = now()
    returning * into c;
    v_customers := v_customers || jsonb_build_object(lower(v_member->>'email'), c.id);
  end loop;
  for v_member in select value from jsonb_array_elements(v_members) loop
    v_member_id := gen_random_uuid();
    c.id := (v_customers->>lower(v_member->>'email'))::uuid;
    insert into orders (customer_id, product_id, price_id, amount, currency, metadata, payment_request_id)
    values (c.id, coalesce(prod.id, 'payment_request'), null, (v_member->>'amount')::bigint, r.currency,
            jsonb_build_object('payment_request_id', r.id::text, 'payment_request_member_id', v_member_id::text), r.id)
    returning * into o;
    insert into payment_request_members (id, payment_request_id, email, name, amount_pence, token_hash, order_id, position)
    values (v_member_id, r.id, v_member->>'email', nullif(v_member->>'name', ''), (v_member->>'amount')::bigint, v_member->>'token_hash', o.id, v_position);
    v_position := v_position + 1;
    perform payment_log_for_order(o, 'payment_request.member_created', 'pending', jsonb_build_object(
      'actor', case when v_actor_type = 'staff' then 'staff' else p->>'created_by' end,
      'payment_request_id', r.id, 'payment_request_member_id', v_member_id, 'idempotency_key', k.key));
  end loop;

  update idempotency_keys set response = jsonb_build_object('payment_request_id', r.id) where scope = k.scope and key = k.key;
  insert into audit_log (actor_type, actor_id, action, target_type, target_id, details)
  values (case when v_actor_type in ('staff', 'customer', 'api_key') then v_actor_type else 'system' end, p->>'created_by',
          'payment_request.create', 'payment_request', r.id::text, jsonb_build_object(
            'title', r.title, 'track', r.product_id, 'currency', r.currency, 'total', r.total, 'members', v_count,
            'idempotency_key', k.key));
  return jsonb_build_object('outcome', 'created', 'payment_request_id', r.id);
end
$$;

-- The answer a key already holds: the same request again, or a conflict (other input, another operation).
create function payment_request_create_repeat(k idempotency_keys, p_request_hash text) returns jsonb language sql stable as $$
  select case
           when k.operation = 'create_payment_request' and k.request_hash = p_request_hash and k.response ? 'payment_request_id'
             then jsonb_build_object('outcome', 'repeat', 'payment_request_id', k.response->>'payment_request_id')
           else jsonb_build_object('outcome', 'conflict', 'operation', k.operation)
         end
$$;

-- ================================================================================================
-- cancelPaymentRequest (server/paymentRequests/cancel.ts): the service reads the targets, cancels
-- each unpaid member's open PaymentIntent at Stripe (outside any transaction) and records what Stripe
-- answered through order_apply_payment, then payment_request_cancel_finish closes the request under
-- the locks. A PaymentIntent made meanwhile (a member pressing pay) makes finish answer `again`.
-- ================================================================================================

-- The request's status and the open PaymentIntents of its unpaid shares; null when there is no such request.
create function payment_request_cancel_targets(p_request_id uuid) returns jsonb language sql stable as $$
  select jsonb_build_object(
           'status', r.status,
           'attempts', coalesce((select jsonb_agg(jsonb_build_object(
                                   'attempt_id', a.id, 'order_id', a.order_id, 'attempt', a.attempt, 'payment_intent_id', a.stripe_object_id)
                                   order by a.order_id, a.attempt)
                                 from orders o join payment_attempts a on a.order_id = o.id
                                where o.payment_request_id = r.id and o.status in ('pending', 'requires_action', 'failed')
                                  and a.kind = 'payment_intent' and a.status = 'open' and a.stripe_object_id is not null), '[]'::jsonb))
    from payment_requests r where r.id = p_request_id
$$;

-- Locks every share order (in id order), every member (in id order), then the request.
create function payment_request_lock(p_request_id uuid) returns payment_requests language plpgsql as $$
declare
  r payment_requests;
begin
  perform 1 from orders where payment_request_id = p_request_id order by id for update;
  perform 1 from payment_request_members where payment_request_id = p_request_id order by id for update;
  select * into r from payment_requests where id = p_request_id for update;
  return r;
end
$$;

-- p: id, actor. Answers {outcome: canceled | not_found | not_cancelable (with status) | again}.
create function payment_request_cancel_finish(p jsonb) returns jsonb language plpgsql as $$
declare
  r payment_requests;
  v_id uuid := uuid_or_null(p->>'id');
begin
  r := payment_request_lock(v_id);
  if r.id is null then
    return jsonb_build_object('outcome', 'not_found');
  end if;
  if r.status not in ('open', 'partially_paid') then
    return jsonb_build_object('outcome', 'not_cancelable', 'status', r.status);
  end if;
  -- An open PaymentIntent not canceled yet (a member pressed pay meanwhile), or one still being created
  -- (its object may exist at Stripe without our record): not closed under it, or a member could pay a
  -- canceled request. The service cancels and asks again; a creating attempt left by a crash is settled
  -- by the janitor, as for expiry.
  if exists (select 1 from orders o join payment_attempts a on a.order_id = o.id
              where o.payment_request_id = r.id and o.status in ('pending', 'requires_action', 'failed')
                and a.kind = 'payment_intent' and (a.status = 'creating' or (a.status = 'open' and a.stripe_object_id is not null))) then
    return jsonb_build_object('outcome', 'again');
  end if;
  -- The request first: the share orders' trigger then moves each member and leaves the request as it is.
  update payment_requests set status = 'canceled', canceled_at = now(), updated_at = now() where id = r.id;
  update orders set status = 'canceled', updated_at = now()
   where payment_request_id = r.id and status in ('pending', 'requires_action', 'failed');
  return jsonb_build_object('outcome', 'canceled');
end
$$;

-- ================================================================================================
-- remindPaymentRequestMembers: p: id, members [{id, token_hash, pay_url}] (a new token made by the
-- service for each member it read as unpaid). Under the locks, each member still pending or failed
-- gets its new token hash (the earlier link stops working) and one payment_request_reminder delivery.
-- Answers {outcome: reminded, reminded: n} | not_found | not_remindable (with status).
-- ================================================================================================
create function payment_request_remind(p jsonb) returns jsonb language plpgsql as $$
declare
  r payment_requests;
  m record;
  o orders;
  v_id uuid := uuid_or_null(p->>'id');
  v_reminded integer := 0;
  v_data jsonb;
begin
  r := payment_request_lock(v_id);
  if r.id is null then
    return jsonb_build_object('outcome', 'not_found');
  end if;
  if r.status not in ('open', 'partially_paid') then
    return jsonb_build_object('outcome', 'not_remindable', 'status', r.status);
  end if;
  v_data := payment_request_make_data(r.id);
  for m in
    update payment_request_members pm set token_hash = x.token_hash, updated_at = now()
      from jsonb_to_recordset(coalesce(p->'members', '[]'::jsonb)) as x(id uuid, token_hash text, pay_url text)
     where pm.id = x.id and pm.payment_request_id = r.id and pm.status in ('pending', 'failed')
    returning pm.*, x.pay_url
  loop
    select * into o from orders where id = m.order_id;
    perform make_enqueue('payment_request_reminder', m.id || ':' || m.token_hash, o.id, o.customer_id, r.id::text,
      jsonb_build_object('payment_request', v_data->'payment_request',
                         'member', jsonb_build_object('id', m.id, 'email', m.email, 'name', m.name, 'amount', m.amount_pence, 'status', m.status),
                         'pay_url', m.pay_url));
    perform payment_log_for_order(o, 'payment_request.member_reminded', m.status, jsonb_build_object(
      'actor', coalesce(p->>'actor_log', 'system'), 'payment_request_id', r.id, 'payment_request_member_id', m.id));
    v_reminded := v_reminded + 1;
  end loop;
  return jsonb_build_object('outcome', 'reminded', 'reminded', v_reminded);
end
$$;

revoke execute on function payment_request_create(jsonb), payment_request_cancel_finish(jsonb), payment_request_remind(jsonb),
  payment_request_lock(uuid) from public, anon, authenticated;
