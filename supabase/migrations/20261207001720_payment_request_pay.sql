-- Issue 20: a member pays their share (payMemberShare, option C), and an expired request is closed.
--
-- A share's PaymentIntents are its order's payment_attempts, so recording one (checkout_record_attempt),
-- marking it (checkout_mark_attempt) and applying its payment (order_apply_payment, from a webhook or a
-- retrieve) are the order path's own functions. What is the member's: which attempt the token opens, the
-- Stripe key `member_share:<member id>:<attempt>`, the attempt count, and the member's current
-- PaymentIntent id. Lock order as everywhere for requests: the share's order, its member, the request.

-- The member's pay page, as server/paymentRequests/service.ts MemberShareView has it.
create function payment_request_share_view(p_member uuid) returns jsonb language sql stable as $$
  select jsonb_build_object(
    'member_id', m.id, 'payment_request_id', r.id, 'title', r.title, 'description', r.description,
    'track_name', p.name, 'member_name', coalesce(m.name, m.email), 'amount_pence', m.amount_pence,
    'currency', r.currency, 'status', m.status, 'request_status', r.status, 'expires_at', r.expires_at)
    from payment_request_members m
    join payment_requests r on r.id = m.payment_request_id
    left join products p on p.id = r.product_id
   where m.id = p_member
$$;
revoke execute on function payment_request_share_view(uuid) from public, anon, authenticated;

-- payMemberShare, step 1: the token's member, the caller's key (scope member:<member id>) and the share
-- order's live attempt, made when there is none. p: token_hash, key, operation, request_hash, now (Stripe's
-- clock), actor. A refusal claims no key and writes nothing. Outcomes: not_found; refused (error, share);
-- conflict (operation); replay (attempt, share: the key's first answer); attempt (attempt, order, share).
create function payment_request_pay_begin(p jsonb) returns jsonb language plpgsql as $$
declare
  m payment_request_members;
  r payment_requests;
  o orders;
  a payment_attempts;
  k idempotency_keys;
  v_scope text;
  v_attempt integer;
begin
  select * into m from payment_request_members where token_hash = p->>'token_hash';
  if not found then
    return jsonb_build_object('outcome', 'not_found');
  end if;
  v_scope := 'member:' || m.id;

  select * into k from idempotency_keys where scope = v_scope and key = p->>'key';
  if found and k.request_hash <> p->>'request_hash' then
    return jsonb_build_object('outcome', 'conflict', 'operation', k.operation);
  end if;
  if found and k.status = 'completed' then
    select * into a from payment_attempts where id = k.attempt_id;
    return jsonb_build_object('outcome', 'replay', 'attempt', to_jsonb(a), 'share', payment_request_share_view(m.id));
  end if;

  select * into o from orders where id = m.order_id for update;
  select * into m from payment_request_members where id = m.id for update;
  select * into r from payment_requests where id = m.payment_request_id for update;
  -- The token may have been replaced by a reminder while this call waited for the locks.
  if m.token_hash <> p->>'token_hash' then
    return jsonb_build_object('outcome', 'not_found');
  end if;

  if r.status in ('canceled', 'expired', 'paid') or (r.expires_at is not null and r.expires_at <= (p->>'now')::timestamptz) then
    return jsonb_build_object('outcome', 'refused', 'error', 'REQUEST_NOT_PAYABLE', 'share', payment_request_share_view(m.id));
  end if;
  -- The order is the truth of the share's payment (the member follows it).
  if o.status = 'processing' or m.status = 'processing' then
    return jsonb_build_object('outcome', 'refused', 'error', 'SHARE_PROCESSING', 'share', payment_request_share_view(m.id));
  end if;
  if o.status in ('paid', 'partially_refunded', 'refunded', 'disputed') or m.status in ('paid', 'refunded') then
    return jsonb_build_object('outcome', 'refused', 'error', 'SHARE_ALREADY_PAID', 'share', payment_request_share_view(m.id));
  end if;
  if o.status not in ('pending', 'requires_action', 'failed') or m.status = 'canceled' then
    return jsonb_build_object('outcome', 'refused', 'error', 'REQUEST_NOT_PAYABLE', 'share', payment_request_share_view(m.id));
  end if;

  if k.scope is null then
    insert into idempotency_keys (scope, key, operation, request_hash, order_id)
    values (v_scope, p->>'key', p->>'operation', p->>'request_hash', o.id)
    on conflict do nothing;
    if not found then
      -- Cannot happen under the order's lock unless the key was claimed for another operation meanwhile.
      select * into k from idempotency_keys where scope = v_scope and key = p->>'key';
      if k.request_hash <> p->>'request_hash' then
        return jsonb_build_object('outcome', 'conflict', 'operation', k.operation);
      end if;
    end if;
  end if;

  -- One live attempt per order (payment_attempts_one_live_per_order): a second press, with any key,
  -- finds the first one's attempt here and sends Stripe the same key.
  select * into a from payment_attempts where order_id = o.id and status in ('creating', 'open');
  if not found then
    select coalesce(max(attempt), 0) + 1 into v_attempt from payment_attempts where order_id = o.id;
    insert into payment_attempts (order_id, attempt, kind, stripe_idempotency_key)
    values (o.id, v_attempt, 'payment_intent', format('member_share:%s:%s', m.id, v_attempt))
    returning * into a;
    update payment_request_members
       set payment_attempt_count = payment_attempt_count + 1, updated_at = now()
     where id = m.id;
    perform payment_log_for_order(o, 'checkout.attempt_started', a.status,
      jsonb_build_object('actor', p->>'actor', 'attempt', a.attempt, 'kind', a.kind, 'stripe_idempotency_key', a.stripe_idempotency_key,
                         'payment_request_id', r.id, 'payment_request_member_id', m.id));
  end if;
  return jsonb_build_object('outcome', 'attempt', 'attempt', to_jsonb(a), 'order', order_view(o.id), 'share', payment_request_share_view(m.id),
                            'payment_request_id', r.id, 'member_id', m.id, 'scope', v_scope);
end
$$;
revoke execute on function payment_request_pay_begin(jsonb) from public, anon, authenticated;

-- The member's current PaymentIntent is the one its share order's attempt holds, however the attempt was
-- recorded (payMemberShare, the janitor adopting it): set where the attempt's object is recorded, under
-- the order's lock those paths take first, so the member row comes after the order.
create function payment_request_member_intent() returns trigger language plpgsql as $$
begin
  if new.kind = 'payment_intent' and new.stripe_object_id is not null and new.stripe_object_id is distinct from old.stripe_object_id then
    update payment_request_members m
       set stripe_payment_intent_id = new.stripe_object_id, updated_at = now()
      from orders o
     where o.id = new.order_id and o.payment_request_id is not null and m.order_id = o.id
       and m.stripe_payment_intent_id is distinct from new.stripe_object_id;
  end if;
  return null;
end
$$;
revoke execute on function payment_request_member_intent() from public, anon, authenticated;
create trigger payment_request_member_intent after update of stripe_object_id on payment_attempts
  for each row execute function payment_request_member_intent();

-- Expiry, the last step (server/paymentRequests/expire.ts cancels the open PaymentIntents at Stripe
-- first). p: request_id, now, actor. Under the locks (the share orders in id order, their members, the
-- request): a request still open or partially paid and past expires_at becomes expired, and its unpaid
-- shares (orders and members) canceled; a share paid or processing stays as it is. Outcome 'live_attempt'
-- while an unpaid share still has an attempt being created or open: nothing is changed, a later pass ends it.
create function payment_request_expire(p jsonb) returns jsonb language plpgsql as $$
declare
  r payment_requests;
  o orders;
  v_request uuid := (p->>'request_id')::uuid;
  v_unpaid constant text[] := array['pending', 'requires_action', 'failed'];
  v_canceled integer := 0;
begin
  perform 1 from orders where payment_request_id = v_request order by id for update;
  perform 1 from payment_request_members where payment_request_id = v_request order by id for update;
  select * into r from payment_requests where id = v_request for update;
  if not found or r.status not in ('open', 'partially_paid') or r.expires_at is null or r.expires_at > (p->>'now')::timestamptz then
    return jsonb_build_object('outcome', 'unchanged', 'status', r.status);
  end if;
  if exists (select 1 from orders x join payment_attempts a on a.order_id = x.id
              where x.payment_request_id = v_request and x.status = any (v_unpaid) and a.status in ('creating', 'open')) then
    return jsonb_build_object('outcome', 'live_attempt', 'status', r.status);
  end if;

  update payment_requests set status = 'expired', updated_at = now() where id = v_request;
  for o in update orders set status = 'canceled', updated_at = now()
            where payment_request_id = v_request and status = any (v_unpaid)
           returning * loop
    v_canceled := v_canceled + 1;
    update payment_request_members set status = 'canceled', updated_at = now()
     where order_id = o.id and status <> 'canceled';
    perform payment_log_for_order(o, 'payment_request.share_canceled', 'canceled',
      jsonb_build_object('actor', p->>'actor', 'reason', 'expired', 'payment_request_id', v_request,
                         'payment_request_member_id', (select id from payment_request_members where order_id = o.id)));
  end loop;
  return jsonb_build_object('outcome', 'expired', 'status', 'expired', 'shares_canceled', v_canceled);
end
$$;
revoke execute on function payment_request_expire(jsonb) from public, anon, authenticated;

-- A share's order is the payment request's, paid only through payMemberShare (its Stripe key, metadata
-- and member state). Without this, anyone holding the order id could start a PaymentIntent or a
-- Checkout Session on it through createPaymentIntent / createCheckoutSession (whose answer shows the
-- member's email), and changeOrderTrack reached the orders_price_or_share check and answered INTERNAL.
-- Both now answer a share's order as not found: checkout_begin and order_track_change_begin as in
-- 20261207001300_subscription_checkout.sql, with that one check added.
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

revoke execute on function checkout_begin(jsonb) from public, anon, authenticated;

create or replace function order_track_change_begin(p jsonb) returns jsonb language plpgsql as $$
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
  -- A payment request's share costs its member's amount, whatever a track sells at: it never moves.
  if not found or o.payment_request_id is not null then
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

revoke execute on function order_track_change_begin(jsonb) from public, anon, authenticated;
