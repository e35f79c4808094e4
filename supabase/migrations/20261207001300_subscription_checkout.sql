-- The one-time track switch (issue 19): changeOrderTrack moves an unpaid order to another track at
-- that track's price (server/checkout/changeTrack.ts).
--
-- Two functions, each one statement (one transaction):
--   order_track_change_begin()  validates (a refused request writes nothing), claims the idempotency
--                               key and returns the order's live payment attempt, which the server
--                               closes at Stripe (cancel / expire) before the change;
--   order_track_change_apply()  under the order's lock, and only when no attempt is live any more,
--                               moves the order to the track's price, writes the payment log, the audit
--                               row and completes the key with its answer.
-- An attempt started between the two (a createPaymentIntent racing the switch) is seen by apply under
-- the lock and answered 'attempt_live': the server closes it too and applies again. checkout_begin()
-- locks the order as well, so an attempt made after the switch is made at the new amount.

-- The order's payable one-time price of a track, or the reason there is none.
create function order_track_price(p_track text, out pr prices, out error text) language plpgsql stable as $$
declare
  prod products;
begin
  select * into prod from products where id = p_track;
  if not found then
    error := 'unknown_track';
    return;
  end if;
  if not prod.active then
    error := 'inactive_product';
    return;
  end if;
  select * into pr from prices
   where product_id = prod.id and active and kind = 'one_time'
   order by unit_amount, id limit 1;
  if not found then
    error := 'no_price';
  end if;
end
$$;

-- p: { scope, key, operation, request_hash, order_id, track, user_id?, actor }
-- Returns one of:
--   { outcome: 'error', error, order?, status? }   nothing was written
--   { outcome: 'conflict', operation }            the key was used with other input
--   { outcome: 'repeat', response, order }        the key's first answer, the order as it is now
--   { outcome: 'begun', order, attempt? }         close `attempt` (if any) at Stripe, then apply
-- A subscription's order is refused: its price is monthly, and a one-time switch would turn it into a
-- one-time purchase.
create function order_track_change_begin(p jsonb) returns jsonb language plpgsql as $$
declare
  k idempotency_keys;
  o orders;
  a payment_attempts;
  tp record;
  v_user uuid := nullif(p->>'user_id', '')::uuid;
begin
  select * into k from idempotency_keys where scope = p->>'scope' and key = p->>'key';
  if found then
    if k.operation <> p->>'operation' or k.request_hash <> p->>'request_hash' then
      return jsonb_build_object('outcome', 'conflict', 'operation', k.operation);
    end if;
    if k.status = 'completed' then
      return jsonb_build_object('outcome', 'repeat', 'response', k.response, 'order', order_view(k.order_id));
    end if;
    -- In progress: a concurrent call with this key, or one whose process died. Doing it again is safe
    -- (the Stripe keys are the attempt's, and apply completes the key once), so it goes on below.
  end if;

  select * into o from orders where id = (p->>'order_id')::uuid;
  if not found then
    return jsonb_build_object('outcome', 'error', 'error', 'order_not_found');
  end if;
  if v_user is not null and not exists (select 1 from customers where id = o.customer_id and user_id = v_user) then
    return jsonb_build_object('outcome', 'error', 'error', 'order_of_another_customer');
  end if;
  if (select kind from prices where id = o.price_id) <> 'one_time' then
    return jsonb_build_object('outcome', 'error', 'error', 'order_of_other_mode', 'order', order_view(o.id), 'status', o.status);
  end if;
  tp := order_track_price(p->>'track');
  if tp.error is not null then
    return jsonb_build_object('outcome', 'error', 'error', tp.error);
  end if;
  if o.status not in ('pending', 'requires_action', 'failed') then
    return jsonb_build_object('outcome', 'error', 'error', 'order_not_payable', 'order', order_view(o.id), 'status', o.status);
  end if;
  if o.product_id = p->>'track' and k.scope is null then
    return jsonb_build_object('outcome', 'error', 'error', 'same_track', 'order', order_view(o.id));
  end if;

  if k.scope is null then
    insert into idempotency_keys (scope, key, operation, request_hash, order_id)
    values (p->>'scope', p->>'key', p->>'operation', p->>'request_hash', o.id)
    on conflict do nothing;
    if not found then
      -- A concurrent call with this key committed first: answer as if it had been there already.
      select * into k from idempotency_keys where scope = p->>'scope' and key = p->>'key';
      if k.operation <> p->>'operation' or k.request_hash <> p->>'request_hash' then
        return jsonb_build_object('outcome', 'conflict', 'operation', k.operation);
      end if;
      if k.status = 'completed' then
        return jsonb_build_object('outcome', 'repeat', 'response', k.response, 'order', order_view(k.order_id));
      end if;
    end if;
  end if;

  select * into a from payment_attempts where order_id = o.id and status in ('creating', 'open');
  return jsonb_build_object('outcome', 'begun', 'order', order_view(o.id), 'attempt', case when a.id is null then null else to_jsonb(a) end);
end
$$;

-- p: { scope, key, operation, order_id, track, actor, actor_type, actor_id }
-- Returns one of:
--   { outcome: 'changed', response, order }       done now
--   { outcome: 'repeat', response, order }        done before with this key (a concurrent twin)
--   { outcome: 'attempt_live', attempt, order }   an attempt is live again: close it, apply again
--   { outcome: 'error', error, order?, status? }  paid meanwhile, or already on the track; nothing written
create function order_track_change_apply(p jsonb) returns jsonb language plpgsql as $$
declare
  k idempotency_keys;
  o orders;
  a payment_attempts;
  tp record;
  v_from_track text;
  v_from_amount bigint;
  v_response jsonb;
begin
  -- The key first, then the order: the order in which checkout_begin() takes them too.
  select * into k from idempotency_keys where scope = p->>'scope' and key = p->>'key' for update;
  if not found or k.operation <> p->>'operation' then
    raise exception 'order_track_change_apply: key % was not claimed for %', p->>'key', p->>'operation';
  end if;
  if k.status = 'completed' then
    return jsonb_build_object('outcome', 'repeat', 'response', k.response, 'order', order_view(k.order_id));
  end if;
  select * into o from orders where id = k.order_id for update;
  if o.status not in ('pending', 'requires_action', 'failed') then
    return jsonb_build_object('outcome', 'error', 'error', 'order_not_payable', 'order', order_view(o.id), 'status', o.status);
  end if;
  select * into a from payment_attempts where order_id = o.id and status in ('creating', 'open');
  if found then
    return jsonb_build_object('outcome', 'attempt_live', 'attempt', to_jsonb(a), 'order', order_view(o.id));
  end if;
  if o.product_id = p->>'track' then
    -- Another request (another key) moved it here meanwhile.
    return jsonb_build_object('outcome', 'error', 'error', 'same_track', 'order', order_view(o.id));
  end if;
  tp := order_track_price(p->>'track');
  if tp.error is not null then
    return jsonb_build_object('outcome', 'error', 'error', tp.error);
  end if;

  v_from_track := o.product_id;
  v_from_amount := o.amount;
  update orders
     set product_id = (tp.pr).product_id, price_id = (tp.pr).id, amount = (tp.pr).unit_amount,
         currency = (tp.pr).currency, updated_at = now()
   where id = o.id
  returning * into o;
  v_response := jsonb_build_object('order_id', o.id, 'from_track', v_from_track, 'to_track', o.product_id,
                                   'from_amount', v_from_amount, 'amount', o.amount, 'currency', o.currency);
  perform payment_log_for_order(o, 'order.track_changed', o.status,
    v_response || jsonb_build_object('actor', p->>'actor', 'price_id', o.price_id, 'idempotency_key', p->>'key'));
  insert into audit_log (actor_type, actor_id, action, target_type, target_id, details)
  values (p->>'actor_type', p->>'actor_id', 'order.change_track', 'order', o.id::text,
          v_response || jsonb_build_object('idempotency_key', p->>'key'));
  update idempotency_keys set status = 'completed', completed_at = now(), response = v_response
   where scope = k.scope and key = k.key;
  return jsonb_build_object('outcome', 'changed', 'response', v_response, 'order', order_view(o.id));
end
$$;

-- createSubscriptionCheckout: a Checkout Session in subscription mode for a track's monthly price,
-- through the same flow as createCheckoutSession (server/checkout/startPayment.ts). Its order carries
-- the monthly price (orders.price_id of kind recurring); the completed session pays it, so the order's
-- trigger forwards add_project once, as for any completed checkout, and invoice.paid of later periods
-- only logs.
--
-- checkout_begin as in 20261207000100_customer_email_verification.sql, with p.mode ('payment' or
-- 'subscription'): a new order takes the track's monthly recurring price in subscription mode, and an
-- existing order is paid only in the mode it was made for (error 'order_of_other_mode').
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

revoke execute on function order_track_price(text) from public, anon, authenticated;
revoke execute on function order_track_change_begin(jsonb) from public, anon, authenticated;
revoke execute on function order_track_change_apply(jsonb) from public, anon, authenticated;
revoke execute on function checkout_begin(jsonb) from public, anon, authenticated;
