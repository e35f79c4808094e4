-- Storefront checkout (DESIGN.md decisions 2, 4 and 5).
--
-- idempotency_keys: the storefront's key for each creating mutation, claimed before anything else
--   happens, so a repeat returns the first result and a concurrent repeat waits for it.
-- payment_attempts: one row per Stripe object we create for an order (a PaymentIntent or a Checkout
--   Session), written with its Stripe idempotency key *before* the Stripe call and completed with the
--   object's id after it. A retry after a crash sends the same key, so Stripe returns the same object.
--   At most one attempt per order is live (creating or open): an order is never payable twice at once.
--
-- Every multi-row change is one of the functions below, called as one statement (one transaction).
-- They are for the server only: execution is revoked from Supabase's API roles at the end.

create table payment_attempts (
  id                     uuid primary key default gen_random_uuid(),
  order_id               uuid not null references orders (id),
  attempt                integer not null check (attempt >= 1),
  kind                   text not null check (kind in ('payment_intent', 'checkout_session')),
  -- 'create_payment_intent:<order id>:<attempt>' or 'create_checkout_session:<order id>:<attempt>'
  stripe_idempotency_key text not null unique check (length(stripe_idempotency_key) <= 255),
  stripe_object_id       text unique,
  -- creating: recorded, Stripe call not yet known to have succeeded; open: the object exists and can
  -- be paid; succeeded/processing payments move it to succeeded; canceled/expired: replaced by a new
  -- attempt on the next request; needs_cleanup: created in Stripe, not recorded, and compensating
  -- failed: the janitor must cancel it.
  status                 text not null default 'creating' check (status in (
                           'creating', 'open', 'succeeded', 'canceled', 'expired', 'needs_cleanup')),
  client_secret          text,        -- PaymentIntents: what Stripe.js needs; never logged
  url                    text,        -- Checkout Sessions: the hosted page
  expires_at             timestamptz, -- Checkout Sessions
  last_error             text check (length(last_error) <= 1000),
  created_at             timestamptz not null default now(),
  updated_at             timestamptz not null default now(),
  unique (order_id, attempt)
);
create unique index payment_attempts_one_live_per_order on payment_attempts (order_id) where status in ('creating', 'open');
-- The janitor's work list: attempts whose Stripe call never completed, and those it must cancel.
create index payment_attempts_unsettled_idx on payment_attempts (updated_at) where status in ('creating', 'needs_cleanup');

create table idempotency_keys (
  scope        text not null check (length(scope) between 1 and 200), -- whose key: 'api_key:<id>' or 'user:<id>'
  key          text not null check (length(key) between 1 and 255),
  operation    text not null check (length(operation) between 1 and 100),
  request_hash text not null check (request_hash ~ '^[0-9a-f]{64}$'),
  order_id     uuid references orders (id),
  attempt_id   uuid references payment_attempts (id),
  status       text not null default 'in_progress' check (status in ('in_progress', 'completed')),
  created_at   timestamptz not null default now(),
  completed_at timestamptz,
  primary key (scope, key)
);
create index idempotency_keys_created_idx on idempotency_keys (created_at); -- for retention
create index idempotency_keys_order_idx on idempotency_keys (order_id);

create index payments_order_created_idx on payments (order_id, created_at desc);

alter table payment_attempts enable row level security;
alter table idempotency_keys enable row level security;

-- One payment_logs row, with the order's customer and user filled in.
create function payment_log_for_order(
  p_order orders, p_event_type text, p_status text, p_metadata jsonb
) returns void language plpgsql as $$
begin
  insert into payment_logs (event_type, user_id, customer_id, order_id, amount, currency, status, metadata)
  select p_event_type, c.user_id, c.id, p_order.id, p_order.amount, p_order.currency, p_status, coalesce(p_metadata, '{}'::jsonb)
    from customers c
   where c.id = p_order.customer_id;
end
$$;

-- An order as the API shows it: with its customer, track name and latest payment. The checkout
-- functions return it, so a mutation needs no second round trip to answer.
create function order_view(p_order_id uuid) returns jsonb language sql stable as $$
  select jsonb_build_object(
           'id', o.id, 'status', o.status, 'sync_state', o.sync_state, 'product_id', o.product_id,
           'product_name', p.name, 'amount', o.amount, 'currency', o.currency,
           'checkout_session_id', o.checkout_session_id, 'payment_intent_id', o.payment_intent_id,
           'metadata', o.metadata, 'created_at', o.created_at, 'updated_at', o.updated_at,
           'customer_id', c.id, 'customer_email', c.email, 'customer_name', c.name, 'customer_user_id', c.user_id,
           'payment', (select jsonb_build_object(
                               'payment_intent_id', pay.stripe_payment_intent_id, 'charge_id', pay.stripe_charge_id,
                               'status', pay.status, 'amount', pay.amount, 'amount_refunded', pay.amount_refunded,
                               'currency', pay.currency)
                         from payments pay where pay.order_id = o.id
                        order by pay.created_at desc limit 1))
    from orders o
    join customers c on c.id = o.customer_id
    join products p on p.id = o.product_id
   where o.id = p_order_id
$$;

-- How far an order has got. A change that would lower the rank is stale and ignored: a late
-- "processing" never moves a paid order back.
create function order_status_rank(p_status text) returns integer language sql immutable as $$
  select case p_status
    when 'pending' then 0
    when 'requires_action' then 1
    when 'processing' then 2
    when 'failed' then 3
    when 'canceled' then 3
    when 'paid' then 4
    else 5 -- refunded, partially_refunded, disputed: after payment
  end
$$;

-- Begins (or repeats) a creating checkout mutation. In one transaction: claims the idempotency key,
-- validates the track or order, upserts the customer, creates the order, and returns the live attempt
-- (creating a new one, with its Stripe idempotency key, when the order has none).
--
-- p: { scope, key, operation, request_hash, kind, track?, order_id?, user_id?, email?,
--      email_from_sign_in (the email is the signed-in customer's own, from their token), name?,
--      metadata, actor }
-- Returns one of:
--   { outcome: 'error', error: <reason> }         nothing was written
--   { outcome: 'conflict' }                       the key was used with other input
--   { outcome: 'replay', order, attempt }         the key's first result
--   { outcome: 'attempt', order, attempt }        the live attempt: call Stripe (creating) or reuse (open)
create function checkout_begin(p jsonb) returns jsonb language plpgsql as $$
declare
  k idempotency_keys;
  o orders;
  a payment_attempts;
  c customers;
  prod products;
  pr prices;
  v_user uuid := nullif(p->>'user_id', '')::uuid;
  v_email text := nullif(p->>'email', '');
  v_attempt integer;
begin
  select * into k from idempotency_keys where scope = p->>'scope' and key = p->>'key';
  if not found then
    -- Validate before claiming the key: an invalid request leaves no trace.
    if p->>'order_id' is not null then
      select * into o from orders where id = (p->>'order_id')::uuid;
      if not found then
        return jsonb_build_object('outcome', 'error', 'error', 'order_not_found');
      end if;
      if v_user is not null and not exists (select 1 from customers where id = o.customer_id and user_id = v_user) then
        return jsonb_build_object('outcome', 'error', 'error', 'order_of_another_customer');
      end if;
      if o.status not in ('pending', 'requires_action', 'failed') then
        return jsonb_build_object('outcome', 'error', 'error', 'order_not_payable', 'order', order_view(o.id), 'status', o.status);
      end if;
    else
      select * into prod from products where id = p->>'track';
      if not found then
        return jsonb_build_object('outcome', 'error', 'error', 'unknown_track');
      end if;
      if not prod.active then
        return jsonb_build_object('outcome', 'error', 'error', 'inactive_product');
      end if;
      select * into pr from prices
       where product_id = prod.id and active and kind = 'one_time'
       order by unit_amount, id limit 1;
      if not found then
        return jsonb_build_object('outcome', 'error', 'error', 'no_price');
      end if;
      if v_user is not null then
        -- A customer found by user id keeps its row even if the account's email changed since. Else
        -- an existing row with this email is theirs to take only if their sign-in vouches for the
        -- email: a customer may not claim a guest's (or another account's) record by typing its email.
        select * into c from customers where user_id = v_user;
        if not found and exists (
          select 1 from customers
           where lower(email) = lower(v_email)
             and (user_id <> v_user or (user_id is null and (p->>'email_from_sign_in')::boolean is not true))
        ) then
          return jsonb_build_object('outcome', 'error', 'error', 'email_of_another_customer');
        end if;
      end if;
    end if;

    insert into idempotency_keys (scope, key, operation, request_hash)
    values (p->>'scope', p->>'key', p->>'operation', p->>'request_hash')
    on conflict do nothing;
    if not found then
      -- A concurrent call with this key committed first (the insert waited for it): read its claim.
      select * into k from idempotency_keys where scope = p->>'scope' and key = p->>'key';
    end if;
  end if;

  if k.scope is not null then
    -- The key was claimed before this call.
    if k.request_hash <> p->>'request_hash' then
      return jsonb_build_object('outcome', 'conflict', 'operation', k.operation);
    end if;
    if k.status = 'completed' then
      select * into a from payment_attempts where id = k.attempt_id;
      return jsonb_build_object('outcome', 'replay', 'order', order_view(k.order_id), 'attempt', to_jsonb(a));
    end if;
    select * into o from orders where id = k.order_id for update;
    if not found then
      return jsonb_build_object('outcome', 'error', 'error', 'claim_without_order');
    end if;
  elsif p->>'order_id' is not null then
    select * into o from orders where id = (p->>'order_id')::uuid for update;
  else
    -- A new order, for a signed-in customer (by user id) or a guest (by email).
    if v_user is not null then
      select * into c from customers where user_id = v_user;
    end if;
    if c.id is null then
      insert into customers (user_id, email, name)
      values (v_user, v_email, nullif(p->>'name', ''))
      on conflict (lower(email)) do update
        set user_id = coalesce(customers.user_id, excluded.user_id),
            name = coalesce(customers.name, excluded.name),
            updated_at = now()
      returning * into c;
      if v_user is not null and c.user_id is distinct from v_user then
        -- Another account took this email between the check above and here: undo everything.
        raise exception 'customer email % was claimed by another account during checkout', v_email;
      end if;
    end if;
    insert into orders (customer_id, product_id, price_id, amount, currency, metadata)
    values (c.id, prod.id, pr.id, pr.unit_amount, pr.currency, coalesce(p->'metadata', '{}'::jsonb))
    returning * into o;
    perform payment_log_for_order(o, 'order.created', o.status,
      jsonb_build_object('actor', p->>'actor', 'track', o.product_id, 'price_id', o.price_id, 'idempotency_key', p->>'key'));
  end if;

  update idempotency_keys set order_id = o.id where scope = p->>'scope' and key = p->>'key' and order_id is null;

  -- Checked again under the order's lock: a payment may have landed since the check above.
  if o.status not in ('pending', 'requires_action', 'failed') then
    return jsonb_build_object('outcome', 'error', 'error', 'order_not_payable', 'order', order_view(o.id), 'status', o.status);
  end if;

  select * into a from payment_attempts where order_id = o.id and status in ('creating', 'open');
  if not found then
    select coalesce(max(attempt), 0) + 1 into v_attempt from payment_attempts where order_id = o.id;
    insert into payment_attempts (order_id, attempt, kind, stripe_idempotency_key)
    values (o.id, v_attempt, p->>'kind', format('create_%s:%s:%s', p->>'kind', o.id, v_attempt))
    returning * into a;
    perform payment_log_for_order(o, 'checkout.attempt_started', a.status,
      jsonb_build_object('actor', p->>'actor', 'attempt', a.attempt, 'kind', a.kind, 'stripe_idempotency_key', a.stripe_idempotency_key));
  end if;
  return jsonb_build_object('outcome', 'attempt', 'order', order_view(o.id), 'attempt', to_jsonb(a));
end
$$;

-- Records the Stripe object an attempt created (or confirms, for an open attempt being reused, that it
-- is still the one), points the order at it and completes the idempotency key with it. Idempotent:
-- recording the same object twice changes nothing the second time. Returns { attempt, order }.
-- p: { attempt_id, object_id, client_secret?, url?, expires_at?, scope?, key?, actor }
create function checkout_record_attempt(p jsonb) returns jsonb language plpgsql as $$
declare
  a payment_attempts;
  o orders;
begin
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
       set payment_intent_id = case when a.kind = 'payment_intent' then a.stripe_object_id else payment_intent_id end,
           checkout_session_id = case when a.kind = 'checkout_session' then a.stripe_object_id else checkout_session_id end,
           updated_at = now()
     where id = a.order_id
     returning * into o;
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

-- Moves a live attempt to canceled, expired or needs_cleanup (or, with status null, only notes its
-- last error), with a log row. A settled attempt is left as it is. object_id records a Stripe object
-- created but never recorded (compensation), so the janitor can find it.
-- p: { attempt_id, status?, error?, object_id?, actor }
create function checkout_mark_attempt(p jsonb) returns jsonb language plpgsql as $$
declare
  a payment_attempts;
  o orders;
begin
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

-- The one locked path that applies what Stripe says about a payment to its order: the storefront's
-- confirm call uses it now, the webhook applier and the janitor later, so a confirm and a webhook
-- arriving together are serialised on the order's row lock and applied once.
--
-- p: { source: 'storefront' | 'webhook' | 'janitor' | 'staff', object_id, kind,
--      order_id?, attempt?  (from the object's metadata: finds an attempt whose record step never ran),
--      order_status: 'requires_action' | 'processing' | 'paid' | 'pending',
--      attempt_status?: 'canceled' | 'expired'  (the object can no longer be paid),
--      payment_intent_id?, charge_id?, payment_status?, amount, currency, user_id?, actor }
-- Returns { outcome: 'applied' | 'unchanged', order } or { outcome: 'error', error, order_id? }.
create function order_apply_payment(p jsonb) returns jsonb language plpgsql as $$
declare
  a payment_attempts;
  o orders;
  v_status text := p->>'order_status';
  v_sync text;
  v_event text;
begin
  select * into a from payment_attempts where stripe_object_id = p->>'object_id';
  if not found and p->>'order_id' is not null and p->>'attempt' is not null then
    -- The Stripe call succeeded but its record step never ran (a crash): the metadata we sent finds it.
    select * into a from payment_attempts
     where order_id = (p->>'order_id')::uuid and attempt = (p->>'attempt')::integer
       and kind = p->>'kind' and stripe_object_id is null;
  end if;
  if a.id is null then
    return jsonb_build_object('outcome', 'error', 'error', 'unknown_payment');
  end if;

  select * into o from orders where id = a.order_id for update;
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

  if a.stripe_object_id is null then
    update payment_attempts set stripe_object_id = p->>'object_id', status = 'open', updated_at = now()
     where id = a.id returning * into a;
  end if;
  if p->>'attempt_status' in ('canceled', 'expired') then
    -- The object can no longer be paid: the next request for the order starts a new attempt.
    if a.status not in ('creating', 'open') then
      return jsonb_build_object('outcome', 'unchanged', 'order', order_view(o.id));
    end if;
    update payment_attempts set status = p->>'attempt_status', updated_at = now() where id = a.id returning * into a;
    perform payment_log_for_order(o, 'checkout.attempt_' || a.status, a.status, jsonb_build_object(
      'source', p->>'source', 'actor', p->>'actor', 'attempt', a.attempt, 'stripe_object_id', a.stripe_object_id));
    return jsonb_build_object('outcome', 'applied', 'order', order_view(o.id));
  end if;
  if v_status in ('paid', 'processing') and a.status in ('creating', 'open', 'needs_cleanup') then
    update payment_attempts set status = 'succeeded', updated_at = now() where id = a.id returning * into a;
  end if;

  if p->>'payment_intent_id' is not null and v_status in ('paid', 'processing') then
    insert into payments (order_id, stripe_payment_intent_id, stripe_charge_id, amount, currency, status)
    values (o.id, p->>'payment_intent_id', p->>'charge_id', o.amount, o.currency, p->>'payment_status')
    on conflict (stripe_payment_intent_id) do update
      set stripe_charge_id = coalesce(payments.stripe_charge_id, excluded.stripe_charge_id),
          status = case when payments.status = 'succeeded' then payments.status else excluded.status end,
          updated_at = now();
  end if;

  -- A stale status never lowers the order's; Stripe's word (webhook, janitor) confirms a payment,
  -- the storefront's makes it provisional until then.
  if order_status_rank(v_status) <= order_status_rank(o.status) then
    v_status := o.status;
  end if;
  v_sync := case
    when v_status not in ('paid', 'processing') then o.sync_state
    when p->>'source' = 'storefront' then coalesce(o.sync_state, 'provisional')
    else 'confirmed'
  end;
  if v_status = o.status and v_sync is not distinct from o.sync_state then
    return jsonb_build_object('outcome', 'unchanged', 'order', order_view(o.id));
  end if;

  v_event := case when v_status = o.status then 'payment.' || v_sync else 'payment.' || v_status end;
  update orders
     set status = v_status,
         sync_state = v_sync,
         payment_intent_id = coalesce(p->>'payment_intent_id', payment_intent_id),
         updated_at = now()
   where id = o.id
   returning * into o;
  perform payment_log_for_order(o, v_event, o.status, jsonb_build_object(
    'source', p->>'source', 'actor', p->>'actor', 'sync_state', o.sync_state, 'stripe_object_id', p->>'object_id',
    'payment_intent_id', p->>'payment_intent_id', 'attempt', a.attempt));
  return jsonb_build_object('outcome', 'applied', 'order', order_view(o.id));
end
$$;

revoke execute on function order_view(uuid) from public, anon, authenticated;
revoke execute on function payment_log_for_order(orders, text, text, jsonb) from public, anon, authenticated;
revoke execute on function checkout_begin(jsonb) from public, anon, authenticated;
revoke execute on function checkout_record_attempt(jsonb) from public, anon, authenticated;
revoke execute on function checkout_mark_attempt(jsonb) from public, anon, authenticated;
revoke execute on function order_apply_payment(jsonb) from public, anon, authenticated;
