-- Guest orders are no longer claimed by an unverified email (issue 14, defect 5).
--
-- Until now the first signed-in customer whose token carried an email took over the guest customer
-- with that email, and with it the guest's orders, whether or not the account had proven it owns
-- the address. Now:
--
-- * customers.email_owner says whether a row is the one its email leads to: a guest's row, or an
--   account's whose sign-in verified the email. Guest checkouts (by email), webhook-made orders and
--   verified sign-ins find and share that row; the unique index on the email covers these rows only.
-- * An account whose email is not verified gets a row of its own with email_owner = false. It keeps
--   the email (Stripe's receipt, the console and the Make payloads need it), but it is invisible to
--   every lookup by email, so it never receives a guest's orders, now or later, and never blocks a
--   guest from using the address. Keeping the email on a non-owning row, rather than leaving it out,
--   is why the unique index became partial instead of the column becoming nullable.
--
-- Rows that exist already keep owning their emails (they were unique, so no two can clash).

alter table customers add column email_owner boolean not null default true;
comment on column customers.email_owner is
  'The row its email leads to: a guest''s, or an account whose sign-in verified the email. False for accounts with an unverified email.';

drop index customers_email_key;
create unique index customers_email_key on customers (lower(email)) where email_owner;
-- Staff search every customer with an email, owners or not.
create index customers_email_idx on customers (lower(email));

-- checkout_begin as in 20261122000200_checkout.sql, with the customer of a signed-in buyer chosen by
-- whether their sign-in vouches for the email (p.email_verified): see the block marked below.
-- p: { scope, key, operation, request_hash, kind, track?, order_id?, user_id?, email?,
--      email_from_sign_in (the email is the signed-in customer's own, from their token),
--      email_verified (... and the token says it is verified), name?, metadata, actor }
create or replace function checkout_begin(p jsonb) returns jsonb language plpgsql as $$
declare
  k idempotency_keys;
  o orders;
  a payment_attempts;
  c customers;
  prod products;
  pr prices;
  v_user uuid := nullif(p->>'user_id', '')::uuid;
  v_email text := nullif(p->>'email', '');
  v_verified boolean := v_user is not null
                        and (p->>'email_from_sign_in')::boolean is true
                        and (p->>'email_verified')::boolean is true;
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
        -- A customer found by user id keeps its row even if the account's email changed since.
        select * into c from customers where user_id = v_user;
        if not found then
          if v_verified then
            -- A verified email may take over a guest's row, never another account's.
            if exists (select 1 from customers
                        where lower(email) = lower(v_email) and email_owner and user_id is not null and user_id <> v_user) then
              return jsonb_build_object('outcome', 'error', 'error', 'email_of_another_customer');
            end if;
          elsif (p->>'email_from_sign_in')::boolean is not true then
            -- An email typed by a customer whose sign-in carries none, already someone else's: refused,
            -- as before. (An unverified email from the token itself just gets a row of its own below.)
            if exists (select 1 from customers where lower(email) = lower(v_email) and user_id is distinct from v_user) then
              return jsonb_build_object('outcome', 'error', 'error', 'email_of_another_customer');
            end if;
          end if;
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
      if c.id is not null and v_verified and not c.email_owner and lower(c.email) = lower(v_email) then
        -- The account verified its email since its row was made: its row now owns the address, unless
        -- a guest took it meanwhile (then the guest keeps it; merging customers is staff's to do).
        begin
          update customers set email_owner = true, updated_at = now()
           where id = c.id
             and not exists (select 1 from customers x where lower(x.email) = lower(c.email) and x.email_owner)
          returning * into c;
          if c.id is null then
            select * into c from customers where user_id = v_user;
          end if;
        exception when unique_violation then
          select * into c from customers where user_id = v_user; -- a guest claimed it concurrently
        end;
      end if;
    end if;
    if c.id is null and v_user is not null and not v_verified then
      -- ---- An account whose sign-in does not vouch for the email: a row of its own that does not own
      -- the email, so no guest's orders (present or future) ever reach it.
      insert into customers (user_id, email, name, email_owner)
      values (v_user, v_email, nullif(p->>'name', ''), false)
      on conflict (user_id) do update set updated_at = now() -- the same account's concurrent first checkout
      returning * into c;
    elsif c.id is null then
      -- ---- A guest, or an account with a verified email: the row that owns the email, taken over
      -- by the verified account when it is a guest's.
      insert into customers (user_id, email, name)
      values (v_user, v_email, nullif(p->>'name', ''))
      on conflict (lower(email)) where email_owner do update
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

-- order_create_from_payment as in 20261122000400_webhook_apply.sql; only its upsert of the buyer
-- names the partial index now (`where email_owner`): the email typed at Stripe is a guest's.
create or replace function order_create_from_payment(p jsonb) returns uuid language plpgsql as $$
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
    on conflict (lower(email)) where email_owner do update set updated_at = now()
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

-- create or replace keeps a function's grants; repeated so this file alone shows they stay closed.
revoke execute on function checkout_begin(jsonb) from public, anon, authenticated;
revoke execute on function order_create_from_payment(jsonb) from public, anon, authenticated;
