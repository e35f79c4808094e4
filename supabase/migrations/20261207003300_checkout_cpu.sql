-- Checkout's database CPU (issue 23). A paced checkout cost PostgreSQL 2.5-3.4 ms of CPU while the
-- same two calls in one transaction cost 1.15 ms: most of the difference was order_view. A LANGUAGE
-- sql function that cannot be inlined (order_view has a FROM) is parsed, analysed and planned again
-- in every transaction that calls it (its plan lives only as long as the calling expression's
-- state); checkout_begin and checkout_record_attempt each call it once, so every checkout planned a
-- three-table join with a subquery twice (perf: fmgr_sql 35% of the backend's CPU). As plpgsql its
-- query is planned once per connection and kept. Same body, same snapshot (stable), same answer.
--
-- checkout_begin and checkout_record_attempt, the bodies of 20261207001720 and 20261207002800 with
-- fewer statements, the same writes otherwise, in the same lock order:
--   - a returning customer's row is read, not upserted, when the upsert would change nothing in it
--     (a guest's checkout, or the row already the signed-in account's, no name to fill in): the
--     upsert rewrote the row (updated_at) and held its lock to commit on every checkout;
--   - an order this call created has no attempts: its first is attempt 1, without looking for a
--     live attempt or the highest number;
--   - the record step locks and reads the order in one statement (it locked it through
--     checkout_lock_attempt_order, then read it again).
-- payment_logs_user_created_idx holds only rows with a user (the only reader is the row-level
-- policy's user_id = auth.uid(), which a partial index serves): a guest's log rows, three per
-- checkout, no longer write an entry for user_id null.

create or replace function order_view(p_order_id uuid) returns jsonb language plpgsql stable as $$
begin
  return (
    select jsonb_build_object(
             'id', o.id, 'status', o.status, 'sync_state', o.sync_state, 'product_id', o.product_id,
             'product_name', p.name, 'amount', o.amount, 'currency', o.currency,
             'checkout_session_id', o.checkout_session_id, 'payment_intent_id', o.payment_intent_id,
             'metadata', o.metadata, 'created_at', o.created_at, 'updated_at', o.updated_at,
             'sync_attempts', o.sync_attempts, 'last_sync_at', o.last_sync_at,
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
     where o.id = p_order_id);
end
$$;
revoke execute on function order_view(uuid) from public, anon, authenticated;

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
  -- 'subscription': createSubscriptionCheckout, a Checkout Session for the track's monthly price.
  v_mode text := coalesce(nullif(p->>'mode', ''), 'payment');
  -- This call made the order: it has no attempts yet, so its first is attempt 1.
  v_new_order boolean := false;
begin
  select * into k from idempotency_keys where scope = p->>'scope' and key = p->>'key';
  if not found then
    -- Validate before claiming the key: an invalid request leaves no trace.
    if p->>'order_id' is not null then
      select * into o from orders where id = (p->>'order_id')::uuid;
      -- A payment request's share is paid through its member's pay link only (payMemberShare).
      if not found or o.payment_request_id is not null then
        return jsonb_build_object('outcome', 'error', 'error', 'order_not_found');
      end if;
      if v_user is not null and not exists (select 1 from customers where id = o.customer_id and user_id = v_user) then
        return jsonb_build_object('outcome', 'error', 'error', 'order_of_another_customer');
      end if;
      if o.status not in ('pending', 'requires_action', 'failed') then
        return jsonb_build_object('outcome', 'error', 'error', 'order_not_payable', 'order', order_view(o.id), 'status', o.status);
      end if;
      -- An order is paid the way it was made: a subscription's through its subscription Checkout only
      -- (a PaymentIntent would charge once and start nothing), a one-time order never that way.
      if (select kind from prices where id = o.price_id) <> (case v_mode when 'subscription' then 'recurring' else 'one_time' end) then
        return jsonb_build_object('outcome', 'error', 'error', 'order_of_other_mode', 'order', order_view(o.id), 'status', o.status);
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
       where product_id = prod.id and active
         and (case v_mode when 'subscription' then kind = 'recurring' and recurring_interval = 'month' else kind = 'one_time' end)
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
      -- by the verified account when it is a guest's. A returning customer whose row the upsert would
      -- not change (a guest's purchase, or the row already this account's; no name to fill in) is read,
      -- not rewritten: the upsert below would write a new version of the row on every checkout and hold
      -- its lock until commit, queueing that customer's concurrent checkouts behind each other.
      select * into c from customers where lower(email) = lower(v_email) and email_owner;
      if c.id is not null and ((v_user is not null and c.user_id is distinct from v_user) or (c.name is null and nullif(p->>'name', '') is not null)) then
        c := null;
      end if;
    end if;
    if c.id is null and (v_user is null or v_verified) then
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
    v_new_order := true;
  end if;

  update idempotency_keys set order_id = o.id where scope = p->>'scope' and key = p->>'key' and order_id is null;

  -- Checked again under the order's lock: a payment may have landed since the check above.
  if o.status not in ('pending', 'requires_action', 'failed') then
    return jsonb_build_object('outcome', 'error', 'error', 'order_not_payable', 'order', order_view(o.id), 'status', o.status);
  end if;

  if not v_new_order then
    select * into a from payment_attempts where order_id = o.id and status in ('creating', 'open');
  end if;
  if a.id is null then
    if v_new_order then
      v_attempt := 1;
    else
      select coalesce(max(attempt), 0) + 1 into v_attempt from payment_attempts where order_id = o.id;
    end if;
    insert into payment_attempts (order_id, attempt, kind, stripe_idempotency_key)
    values (o.id, v_attempt, p->>'kind', format('create_%s:%s:%s', p->>'kind', o.id, v_attempt))
    returning * into a;
    perform payment_log_for_order(o, 'checkout.attempt_started', a.status,
      jsonb_build_object('actor', p->>'actor', 'attempt', a.attempt, 'kind', a.kind, 'stripe_idempotency_key', a.stripe_idempotency_key));
  end if;
  return jsonb_build_object('outcome', 'attempt', 'order', order_view(o.id), 'attempt', to_jsonb(a));
end
$$;

revoke execute on function checkout_begin(jsonb) from public, anon, authenticated;

create or replace function checkout_record_attempt(p jsonb) returns jsonb language plpgsql as $$
declare
  a payment_attempts;
  o orders;
begin
  -- The order's row locked and read in one statement (checkout_lock_attempt_order and a second read
  -- before); lock order as before: the order, then its attempt.
  select * into o from orders where id = (select order_id from payment_attempts where id = (p->>'attempt_id')::uuid) for update;
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

drop index payment_logs_user_created_idx;
create index payment_logs_user_created_idx on payment_logs (user_id, created_at desc, id desc) where user_id is not null;
