-- Review 20 of payment requests (issue 20): what closing a request must hold once money is in flight.
--
-- 1. A request expired while a share was still processing, whose every share then ends paid, is paid
--    after all (completed_at, payment_request_completed and, for a track, add_project, once each): the
--    members paid what was asked. Expiry itself no longer expires a request whose only unpaid shares are
--    processing (outcome in_flight: a later pass decides, once the debits settle).
-- 2. A share paid on a request that stays canceled or expired (a bank debit that settled late, a card
--    confirmed on a PaymentIntent reopened by a failed debit) is logged as
--    payment_request.share_paid_on_closed_request, which the ops alert of that name reads until the share
--    is refunded. payment_request_close_share() retires such a reopened PaymentIntent's attempt and its
--    unpaid share order, after the janitor canceled it at Stripe (server/paymentRequests/expire.ts).

-- ================================================================================================
-- 1 and 2: the request's state follows its share orders, as in 20261207001700_payment_requests.sql,
-- with the closed requests' two cases.
-- ================================================================================================
create or replace function payment_request_on_share_order() returns trigger language plpgsql as $$
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
  if r.status in ('paid', 'canceled', 'expired') then
    select count(*), count(*) filter (where status = 'paid') into v_count, v_paid
      from payment_request_members where payment_request_id = r.id;
    -- Every share of an expired request paid after all (a debit processing at expiry that settled):
    -- the request is complete, below. Otherwise a closed request keeps its status.
    if not (r.status = 'expired' and v_paid = v_count) then
      if v_member_status = 'paid' and m.status is distinct from 'paid' and r.status <> 'paid' then
        -- Money taken for a request that will not complete: staff refund it (the ops alert
        -- SHARE_PAID_ON_CLOSED_REQUEST reads these entries while the share is not refunded).
        perform payment_log_for_order(new, 'payment_request.share_paid_on_closed_request', v_member_status, jsonb_build_object(
          'actor', 'system', 'payment_request_id', r.id, 'payment_request_member_id', m.id, 'request_status', r.status,
          'amount', new.amount, 'currency', new.currency));
      end if;
      return null;
    end if;
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

-- Expiry, as in 20261207001720_payment_request_pay.sql, and one more outcome: in_flight when every share
-- not paid is processing (a bank debit on its way): nothing is changed, and a later pass expires the
-- request if a debit fails (that share is then unpaid) or finds it paid.
create or replace function payment_request_expire(p jsonb) returns jsonb language plpgsql as $$
declare
  r payment_requests;
  o orders;
  v_request uuid := (p->>'request_id')::uuid;
  v_unpaid constant text[] := array['pending', 'requires_action', 'failed'];
  v_paid constant text[] := array['paid', 'partially_refunded', 'disputed'];
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
  if exists (select 1 from orders where payment_request_id = v_request and status = 'processing')
     and not exists (select 1 from orders where payment_request_id = v_request and status <> 'processing' and not (status = any (v_paid))) then
    return jsonb_build_object('outcome', 'in_flight', 'status', r.status);
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

-- The open PaymentIntents of unpaid shares of closed (canceled or expired) requests: reopened after the
-- request closed (a failed bank debit reopens its attempt, money_path.sql checkout.attempt_reopened), so
-- still payable with the client secret the member's page holds. The janitor cancels each at Stripe.
create function payment_request_stale_share_attempts(p_limit integer) returns table (
  attempt_id uuid, order_id uuid, attempt integer, stripe_object_id text, payment_request_id uuid
) language sql stable as $$
  select a.id, a.order_id, a.attempt, a.stripe_object_id, o.payment_request_id
    from payment_requests r
    join orders o on o.payment_request_id = r.id
    join payment_attempts a on a.order_id = o.id
   where r.status in ('canceled', 'expired')
     and o.status in ('pending', 'requires_action', 'failed')
     and a.kind = 'payment_intent' and a.status = 'open' and a.stripe_object_id is not null
   order by o.id, a.attempt
   limit p_limit
$$;

-- After its PaymentIntent was canceled at Stripe: under the locks (the share order, its member, the
-- request), the attempt is canceled and the unpaid share order canceled (its member follows). p:
-- attempt_id, actor. Answers {outcome: closed | unchanged}: unchanged when the request is open again
-- (it cannot be) or the share was paid meanwhile (applied by whoever saw it).
create function payment_request_close_share(p jsonb) returns jsonb language plpgsql as $$
declare
  a payment_attempts;
  o orders;
  m payment_request_members;
  r payment_requests;
begin
  perform checkout_lock_attempt_order((p->>'attempt_id')::uuid);
  select * into a from payment_attempts where id = (p->>'attempt_id')::uuid for update;
  select * into o from orders where id = a.order_id;
  select * into m from payment_request_members where order_id = o.id for update;
  select * into r from payment_requests where id = o.payment_request_id for update;
  if r.id is null or r.status not in ('canceled', 'expired') or o.status not in ('pending', 'requires_action', 'failed') then
    return jsonb_build_object('outcome', 'unchanged', 'order_status', o.status);
  end if;
  update payment_attempts set status = 'canceled', last_error = 'payment request ' || r.status, updated_at = now()
   where id = a.id and status in ('open', 'needs_cleanup');
  perform payment_log_for_order(o, 'checkout.attempt_canceled', 'canceled',
    jsonb_build_object('actor', p->>'actor', 'attempt', a.attempt, 'stripe_object_id', a.stripe_object_id, 'error', 'payment request ' || r.status));
  update orders set status = 'canceled', updated_at = now() where id = o.id returning * into o;
  perform payment_log_for_order(o, 'payment_request.share_canceled', 'canceled',
    jsonb_build_object('actor', p->>'actor', 'reason', 'request_' || r.status, 'payment_request_id', r.id, 'payment_request_member_id', m.id));
  return jsonb_build_object('outcome', 'closed');
end
$$;
revoke execute on function payment_request_stale_share_attempts(integer), payment_request_close_share(jsonb) from public, anon, authenticated;

-- ================================================================================================
-- 3. Stripe's minimum charge per currency (the sandbox's table, stripe-sandbox/minimumCharge.ts, the same
--    figures: tests/paymentRequests/minimumCharge.test.ts compares them). A share below it could never be
--    paid: payment_request_create refuses it (AMOUNT_BELOW_MINIMUM), as the resolver does.
-- ================================================================================================
create function stripe_minimum_charge(p_currency text) returns bigint language sql immutable as $$
  select coalesce((select amount from (values
    ('usd', 50),
    ('aed', 200),
    ('aud', 50),
    ('bgn', 100),
    ('brl', 50),
    ('cad', 50),
    ('chf', 50),
    ('czk', 1500),
    ('dkk', 250),
    ('eur', 50),
    ('gbp', 30),
    ('hkd', 400),
    ('huf', 17500),
    ('inr', 50),
    ('jpy', 50),
    ('mxn', 1000),
    ('myr', 200),
    ('nok', 300),
    ('nzd', 50),
    ('pln', 200),
    ('ron', 200),
    ('sek', 300),
    ('sgd', 50),
    ('thb', 1000)) as t(currency, amount) where currency = lower(p_currency)), 50)
$$;

-- payment_request_create as in 20261207001700_payment_requests.sql, with Stripe's minimum charge per share,
-- and (builders' follow-up) the resolver's caps (a share and the total at most 99,999,999: the storefront
-- calls the service directly, and a total past 2^31-1 broke GraphQL's Money) and its reason names
-- (INVALID_MEMBER_COUNT, DUPLICATE_MEMBER_EMAIL).
create or replace function payment_request_create(p jsonb) returns jsonb language plpgsql as $$
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
    return payment_request_invalid('INVALID_MEMBER_COUNT', 'members', 'A request has 1 to 50 members');
  end if;
  for v_member in select value from jsonb_array_elements(v_members) loop
    v_email := v_member->>'email';
    if v_email is null or length(v_email) not between 3 and 320 or v_email !~ '^[^@\s]+@[^@\s]+$' then
      return payment_request_invalid('INVALID_EMAIL', 'members.email', 'Each member needs an email address (up to 320 characters)');
    end if;
    if lower(v_email) = any (v_emails) then
      return payment_request_invalid('DUPLICATE_MEMBER_EMAIL', 'members.email', 'Each email may be given once per request');
    end if;
    v_emails := v_emails || lower(v_email);
    if length(v_member->>'name') > 200 then
      return payment_request_invalid('INVALID_NAME', 'members.name', 'A member''s name is at most 200 characters');
    end if;
    if jsonb_typeof(v_member->'amount') is distinct from 'number' then
      return payment_request_invalid('INVALID_AMOUNT', 'members.amount', 'Each share is a whole amount of at least 1 in the minor unit');
    end if;
    v_amount := (v_member->>'amount')::numeric;
    if v_amount <> trunc(v_amount) or v_amount < 1 or v_amount > 99999999 then
      return payment_request_invalid('INVALID_AMOUNT', 'members.amount', 'Each share is a whole amount from 1 to 99,999,999 in the minor unit');
    end if;
    -- A share Stripe would refuse to charge could never be paid (and its attempt would hold the request back).
    if coalesce(p->>'currency', '') ~ '^[a-z]{3}$' and v_amount < stripe_minimum_charge(p->>'currency') then
      return payment_request_invalid('AMOUNT_BELOW_MINIMUM', 'members.amount',
        format('Each share must be at least %s in the minor unit of %s, Stripe''s minimum charge', stripe_minimum_charge(p->>'currency'), p->>'currency'));
    end if;
    if coalesce(v_member->>'token_hash', '') !~ '^[0-9a-f]{64}$' then
      raise exception 'payment_request_create: a member without a token hash';
    end if;
    v_sum := v_sum + v_amount;
  end loop;
  -- Stripe's largest charge, and what GraphQL's Money (a 32-bit Int) can show: the storefront calls the
  -- service directly, so the resolver's cap is not the only way in.
  if v_sum > 99999999 then
    return payment_request_invalid('TOTAL_TOO_LARGE', 'members.amount', format('The shares sum to %s; a request''s total may be at most 99,999,999', v_sum));
  end if;
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
revoke execute on function stripe_minimum_charge(text), payment_request_create(jsonb) from public, anon, authenticated;

-- ================================================================================================
-- 4. remindPaymentRequestMembers with no Make route for payment_request_reminder: refused
--    (not_configured, REMINDERS_NOT_CONFIGURED) before any member's token is replaced. As in
--    20261207001700_payment_requests.sql otherwise.
-- ================================================================================================
create or replace function payment_request_remind(p jsonb) returns jsonb language plpgsql as $$
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
  -- No Make route for reminders: make_enqueue would send nothing, and the members' links would be
  -- replaced for nothing (the links they hold would stop working). Refused before any token moves.
  if not exists (select 1 from make_routes where kind = 'payment_request_reminder') then
    return jsonb_build_object('outcome', 'not_configured');
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
revoke execute on function payment_request_remind(jsonb) from public, anon, authenticated;

-- ================================================================================================
-- 5. A reminder's pay_url is a member's live pay link: kept in the stored delivery only until it is
--    delivered or dead (staff read payloads, the CLI prints them, retention keeps delivered rows). A
--    retried or replayed reminder then carries none (pay_url null): remind again for a new link.
-- ================================================================================================
create function make_reminder_drop_pay_url() returns trigger language plpgsql as $$
begin
  new.payload := jsonb_set(new.payload, '{data,pay_url}', 'null'::jsonb);
  return new;
end
$$;
revoke execute on function make_reminder_drop_pay_url() from public, anon, authenticated;
create trigger make_reminder_drop_pay_url before update of status on make_deliveries
  for each row when (new.kind = 'payment_request_reminder' and new.status in ('delivered', 'dead')
                     and jsonb_typeof(new.payload->'data'->'pay_url') = 'string')
  execute function make_reminder_drop_pay_url();

-- ================================================================================================
-- 6. A share refunded before its request completed: payMemberShare answers SHARE_REFUNDED (it said
--    SHARE_ALREADY_PAID). Such a request can no longer complete; staff cancel it. As in
--    20261207001720_payment_request_pay.sql otherwise.
-- ================================================================================================
create or replace function payment_request_pay_begin(p jsonb) returns jsonb language plpgsql as $$
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
  -- A refunded share is not paid again (the requester decides what happens to the request: staff cancel it).
  if o.status = 'refunded' or m.status = 'refunded' then
    return jsonb_build_object('outcome', 'refused', 'error', 'SHARE_REFUNDED', 'share', payment_request_share_view(m.id));
  end if;
  if o.status in ('paid', 'partially_refunded', 'disputed') or m.status = 'paid' then
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

-- ================================================================================================
-- 12. The pay path's record step (checkout_record_attempt, as in 20261207001400_attempt_lock_order.sql)
--     refuses to record a PaymentIntent on a share order whose attempt was closed, or whose order was
--     canceled, while Stripe was making it (errcode 55000, hint share_closed_meanwhile).
-- ================================================================================================
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
