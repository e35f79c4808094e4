-- Money-path correctness (issue 15): what Stripe took and what we fulfil agree.
--
-- 1. An order made from a payment event is made only when an active one-time price of an active
--    track matches the payment's currency and amount exactly, and for the metadata's customer only
--    when that customer is the buyer. Otherwise the order is made at the track's price and the
--    payment is recorded against it as an amount mismatch: sync state failed, a
--    `payment.amount_mismatch` log row, never paid, so no `add_project` goes to Make.
-- 2. A PaymentIntent that returns to requires_payment_method (a bank debit that failed after
--    processing) reopens its attempt, so the next checkout reuses it (decision 4c) instead of making a
--    second payable object; its payment row follows it. A different PaymentIntent paid for an order
--    already paid is a duplicate: recorded, flagged, logged (`payment.duplicate`), sync state failed.
-- 3. Refunds are per payment; the order's status comes from what its payments captured minus what
--    was refunded of them.
-- 4. Refund and dispute events no longer stand in the order's amount for the charge's: without the
--    charge's amount (the applier retrieves it) nothing is made paid. A payment flagged as a mismatch
--    stays flagged whatever event comes later, and a refund or dispute never raises an unpaid order.
-- 5. The order's ids are those of the object that paid it (and, before payment, of its live attempt).
-- 6. One clock orders an order's unpaid states: Stripe's event time. The storefront's confirm (which
--    has no Stripe time) only raises the status, and no longer stamps the database's time.
--
-- The finding: payments.finding marks a payment that pays for nothing we fulfil, for staff to refund
-- (reconciliation's orphan screen, issue 17, lists them; the PAYMENT_FINDINGS alert counts the open
-- ones). A finding is open while its payment holds money: succeeded or processing, not fully refunded.
-- While a payment of the order is an open finding, a later event of the order's real payment does not
-- set the order's sync state back to confirmed (found by the arrival-order property test of
-- tests/webhooks/order.test.ts); order_settle_after_payment confirms it once the finding is settled.

alter table payments add column finding text check (finding in ('amount_mismatch', 'duplicate'));
comment on column payments.finding is
  'Why this payment pays for nothing we fulfil: amount_mismatch (not the order''s price) or duplicate (the order was already paid). Open while it holds money.';
create index payments_open_finding_idx on payments (order_id) where finding is not null;

-- order_apply_payment as in 20261122000400_webhook_apply.sql, with the checks of this migration:
-- the marked blocks (----) are new.
create or replace function order_apply_payment(p jsonb) returns jsonb language plpgsql as $$
declare
  a payment_attempts;
  o orders;
  pay payments;
  v_order_id uuid;
  v_status text := p->>'order_status';
  v_at timestamptz := (p->>'event_created')::timestamptz;
  v_pi text := p->>'payment_intent_id';
  v_amount bigint := (p->>'amount')::bigint;
  v_money boolean := p->>'order_status' in ('paid', 'processing');
  v_finding text;
  v_becomes_paid boolean;
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

  -- ---- What this payment is: a mismatch (now, or flagged by an earlier event: it stays one), a
  -- duplicate (another PaymentIntent already holds the order's money), or the order's payment.
  if v_pi is not null then
    select * into pay from payments where stripe_payment_intent_id = v_pi;
  end if;
  v_finding := case
    when pay.finding = 'amount_mismatch' or v_amount is distinct from o.amount or p->>'currency' is distinct from o.currency
      then 'amount_mismatch'
    when pay.finding = 'duplicate' then 'duplicate'
    when v_money and v_pi is not null and exists (
           select 1 from payments x
            where x.order_id = o.id and x.stripe_payment_intent_id <> v_pi and x.finding is null
              and x.status in ('succeeded', 'processing', 'requires_capture'))
      then 'duplicate'
  end;

  if v_finding = 'amount_mismatch' then
    -- Recorded with what Stripe took (so our payments add up to what Stripe holds), never raising the
    -- order: staff must look (sync state failed), and nothing goes to fulfilment.
    if v_pi is not null and (v_money or pay.id is not null) then
      insert into payments (order_id, stripe_payment_intent_id, stripe_charge_id, amount, currency, status, finding)
      values (o.id, v_pi, p->>'charge_id', v_amount, p->>'currency', coalesce(p->>'payment_status', 'processing'), 'amount_mismatch')
      on conflict (stripe_payment_intent_id) do update
        set stripe_charge_id = coalesce(excluded.stripe_charge_id, payments.stripe_charge_id),
            status = case when payments.status = 'succeeded' then payments.status else excluded.status end,
            finding = 'amount_mismatch', updated_at = now();
    end if;
    if pay.finding is distinct from 'amount_mismatch' or o.sync_state is distinct from 'failed' then
      update orders set sync_state = 'failed', updated_at = now() where id = o.id returning * into o;
      perform payment_log_for_order(o, 'payment.amount_mismatch', o.status, jsonb_build_object(
        'source', p->>'source', 'stripe_object_id', p->>'object_id', 'payment_intent_id', v_pi,
        'stripe_amount', p->'amount', 'stripe_currency', p->>'currency'));
    end if;
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
  if a.id is not null and v_money and a.status in ('creating', 'open', 'needs_cleanup')
     and (v_finding is null or a.stripe_object_id = p->>'object_id') then
    update payment_attempts set status = 'succeeded', updated_at = now() where id = a.id returning * into a;
  end if;

  -- ---- A PaymentIntent of ours back at requires_payment_method after it was processing (a bank debit
  -- that failed): it can be paid again, so its attempt is live again and the next checkout reuses it
  -- rather than making a second object someone could pay too. Stripe's word only (webhook, janitor),
  -- and only while the order is unpaid and has no other live attempt.
  if p->>'payment_status' = 'requires_payment_method' and p->>'source' is distinct from 'storefront'
     and a.id is not null and a.kind = 'payment_intent' and a.stripe_object_id = p->>'object_id'
     and a.status = 'succeeded' and o.status = any (v_unpaid)
     and not exists (select 1 from payment_attempts x where x.order_id = o.id and x.status in ('creating', 'open')) then
    update payment_attempts set status = 'open', updated_at = now() where id = a.id returning * into a;
    perform payment_log_for_order(o, 'checkout.attempt_reopened', a.status, jsonb_build_object(
      'source', p->>'source', 'actor', p->>'actor', 'attempt', a.attempt, 'stripe_object_id', a.stripe_object_id));
  end if;

  if v_pi is not null and v_money then
    insert into payments (order_id, stripe_payment_intent_id, stripe_charge_id, amount, currency, status, finding)
    values (o.id, v_pi, p->>'charge_id', v_amount, p->>'currency', p->>'payment_status', v_finding)
    on conflict (stripe_payment_intent_id) do update
      -- Until it succeeds, the PaymentIntent's latest charge (a declined card, then a bank debit, …);
      -- once it has, the charge that paid.
      set stripe_charge_id = case when excluded.status = 'succeeded' and excluded.stripe_charge_id is not null then excluded.stripe_charge_id
                                  when payments.status = 'succeeded' then coalesce(payments.stripe_charge_id, excluded.stripe_charge_id)
                                  else coalesce(excluded.stripe_charge_id, payments.stripe_charge_id) end,
          status = case when payments.status = 'succeeded' then payments.status else excluded.status end,
          finding = coalesce(payments.finding, excluded.finding),
          updated_at = now();
  elsif pay.id is not null and pay.status <> 'succeeded' and p->>'payment_status' in ('requires_payment_method', 'canceled') then
    -- ---- The payment follows its PaymentIntent: a debit that failed holds no money.
    update payments set status = p->>'payment_status', updated_at = now() where id = pay.id;
  end if;

  if v_finding = 'duplicate' then
    -- ---- The order is already paid by another PaymentIntent: this one's money is to be refunded.
    -- Flagged once (the first event that shows it), never changing what the order is.
    if pay.finding is distinct from 'duplicate' then
      update orders set sync_state = 'failed', updated_at = now() where id = o.id returning * into o;
      perform payment_log_for_order(o, 'payment.duplicate', o.status, jsonb_build_object(
        'source', p->>'source', 'actor', p->>'actor', 'stripe_object_id', p->>'object_id', 'payment_intent_id', v_pi,
        'stripe_amount', p->'amount', 'stripe_currency', p->>'currency', 'payment_status', p->>'payment_status',
        'attempt', a.attempt, 'to_refund', true));
      return jsonb_build_object('outcome', 'applied', 'order', case when v_view then order_view(o.id) end);
    end if;
    return jsonb_build_object('outcome', 'unchanged', 'order', case when v_view then order_view(o.id) end);
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
    -- ---- An open finding (a duplicate not yet refunded) keeps the order for staff: the real
    -- payment's later events confirm the payment, not the order as a whole.
    when o.sync_state = 'failed' and exists (
           select 1 from payments x where x.order_id = o.id and x.finding is not null
              and x.status in ('succeeded', 'processing') and x.amount_refunded < x.amount) then 'failed'
    when p->>'source' = 'storefront' then coalesce(o.sync_state, 'provisional')
    when v_status = 'failed' and v_status = o.status then o.sync_state
    else 'confirmed'
  end;
  if v_status = o.status and v_sync is not distinct from o.sync_state then
    if v_at > coalesce(o.payment_state_at, '-infinity') and o.status = any (v_unpaid) then
      -- The same status, said again later: a still earlier event must not move the order now.
      update orders set payment_state_at = v_at where id = o.id;
    end if;
    return jsonb_build_object('outcome', 'unchanged', 'order', case when v_view then order_view(o.id) end);
  end if;

  -- ---- The object that pays the order is the one its ids name (a switch between Elements and
  -- Checkout leaves the other object cancelled behind): the PaymentIntent, and the session when the
  -- PaymentIntent is a session's.
  v_becomes_paid := v_status in ('paid', 'processing') and o.status = any (v_unpaid) and o.status <> v_status;
  v_event := case when v_status = o.status then 'payment.' || v_sync else 'payment.' || v_status end;
  update orders
     set status = v_status,
         sync_state = v_sync,
         payment_intent_id = case when v_becomes_paid and v_pi is not null then v_pi else coalesce(payment_intent_id, v_pi) end,
         checkout_session_id = case
           when not v_becomes_paid or v_pi is null then checkout_session_id
           when p->>'kind' = 'checkout_session' then p->>'object_id'
           when a.kind = 'checkout_session' then a.stripe_object_id
         end,
         -- ---- Stripe's clock only: the storefront has no Stripe time for what it saw.
         payment_state_at = case when v_at is null then payment_state_at else greatest(payment_state_at, v_at) end,
         updated_at = now()
   where id = o.id
   returning * into o;
  perform payment_log_for_order(o, v_event, o.status, jsonb_strip_nulls(jsonb_build_object(
    'source', p->>'source', 'actor', p->>'actor', 'sync_state', o.sync_state, 'stripe_object_id', p->>'object_id',
    'payment_intent_id', v_pi, 'attempt', a.attempt, 'failure', p->'failure')));
  return jsonb_build_object('outcome', 'applied', 'order', case when v_view then order_view(o.id) end);
end
$$;

-- order_create_from_payment as in 20261207000100_customer_email_verification.sql, checked against the
-- catalogue and the buyer (issue 15, bug 1). p: the payment facts plus { track, customer_id?, email?,
-- name?, created_from }. Returns the order id, or null when the metadata is not enough to make one.
create or replace function order_create_from_payment(p jsonb) returns uuid language plpgsql as $$
declare
  c customers;
  o orders;
  pr prices;
  v_order_id uuid := uuid_or_null(p->>'order_id');
  v_attempt integer := coalesce(nullif(p->>'attempt', '')::integer, 1);
  v_exact boolean;
begin
  if p->>'currency' is null or (p->>'amount') is null or coalesce(p->>'email', '') !~ '^[^@\s]+@[^@\s]+$' then
    return null;
  end if;
  -- What we sell at exactly this amount in this currency: an active one-time price of an active track.
  select pr2.* into pr from prices pr2 join products prod on prod.id = pr2.product_id
   where pr2.product_id = p->>'track' and pr2.kind = 'one_time' and pr2.active and prod.active
     and pr2.currency = p->>'currency' and pr2.unit_amount = (p->>'amount')::bigint
   order by pr2.id limit 1;
  v_exact := found;
  if not v_exact then
    -- Nothing sells this: the order is made at the track's price (the one a checkout would use), and
    -- the payment is recorded against it as a mismatch below, so it is never fulfilled.
    select * into pr from prices
     where product_id = p->>'track' and kind = 'one_time'
     order by active desc, (currency = p->>'currency') desc, unit_amount, id limit 1;
    if not found then
      return null;
    end if;
  end if;
  -- The buyer is who Stripe collected the email of. The metadata's customer (anyone with access to
  -- the Stripe account can write it) is taken only when it is that buyer.
  select * into c from customers where id = uuid_or_null(p->>'customer_id') and lower(email) = lower(p->>'email');
  if c.id is null then
    insert into customers (email, name) values (p->>'email', nullif(p->>'name', ''))
    on conflict (lower(email)) where email_owner do update set updated_at = now()
    returning * into c;
  end if;
  insert into orders (id, customer_id, product_id, price_id, amount, currency, metadata)
  values (coalesce(v_order_id, gen_random_uuid()), c.id, pr.product_id, pr.id, pr.unit_amount, pr.currency,
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
    'price_id', pr.id, 'price_matches', v_exact, 'stripe_amount', p->'amount', 'stripe_currency', p->>'currency'));
  if not v_exact and p->>'payment_intent_id' is not null then
    -- Flagged before the payment is applied: even an inactive price of the same amount does not make
    -- this order payable by it (order_apply_payment keeps a flagged payment a mismatch).
    insert into payments (order_id, stripe_payment_intent_id, stripe_charge_id, amount, currency, status, finding)
    values (o.id, p->>'payment_intent_id', p->>'charge_id', (p->>'amount')::bigint, p->>'currency',
            coalesce(p->>'payment_status', 'processing'), 'amount_mismatch')
    on conflict (stripe_payment_intent_id) do nothing;
    update orders set sync_state = 'failed', updated_at = now() where id = o.id returning * into o;
    perform payment_log_for_order(o, 'payment.amount_mismatch', o.status, jsonb_build_object(
      'source', p->>'source', 'stripe_object_id', p->>'object_id', 'payment_intent_id', p->>'payment_intent_id',
      'stripe_amount', p->'amount', 'stripe_currency', p->>'currency', 'reason', 'no active price of the track matches'));
  end if;
  return o.id;
end
$$;

-- order_settle_after_payment as in 20261122000400_webhook_apply.sql, per payment (issue 15, bug 3):
-- each payment's refunded amount is its own refunds'; the order's status is from its payments' net
-- capture (in the order's currency); an order not paid (a flagged mismatch) is never raised by a
-- refund or a dispute; the sync state says whether a finding is still open.
create or replace function order_settle_after_payment(p_order_id uuid, p_actor text) returns void language plpgsql as $$
declare
  o orders;
  v_captured bigint;
  v_refunded bigint;
  v_status text;
  v_sync text;
begin
  select * into o from orders where id = p_order_id for update;
  update payments pay
     set amount_refunded = least(t.total, pay.amount), updated_at = now()
    from (select x.id, coalesce(sum(r.amount) filter (where r.status in ('pending', 'requires_action', 'succeeded')), 0) as total
            from payments x left join refunds r on r.payment_id = x.id
           where x.order_id = o.id
           group by x.id) t
   where pay.id = t.id and pay.amount_refunded <> least(t.total, pay.amount);
  if order_status_rank(o.status) < order_status_rank('paid') then
    return;
  end if;
  select coalesce(sum(amount), 0), coalesce(sum(amount_refunded), 0) into v_captured, v_refunded
    from payments where order_id = o.id and status = 'succeeded' and currency = o.currency;
  v_status := case
    when exists (select 1 from disputes d where d.order_id = o.id and d.status not in ('won', 'warning_closed', 'prevented')) then 'disputed'
    when v_captured > 0 and v_captured - v_refunded <= 0 then 'refunded'
    when v_refunded > 0 and v_captured - v_refunded < o.amount then 'partially_refunded'
    else 'paid'
  end;
  v_sync := case
    when exists (select 1 from payments x where x.order_id = o.id and x.finding is not null
                    and x.status in ('succeeded', 'processing') and x.amount_refunded < x.amount) then 'failed'
    when o.sync_state = 'failed' or v_status <> o.status then 'confirmed'
    else o.sync_state
  end;
  if v_status <> o.status then
    update orders set status = v_status, sync_state = v_sync, updated_at = now() where id = o.id returning * into o;
    perform payment_log_for_order(o, 'order.' || v_status, v_status,
      jsonb_build_object('actor', p_actor, 'amount_refunded', v_refunded, 'amount_captured', v_captured, 'sync_state', v_sync));
  elsif v_sync is distinct from o.sync_state then
    -- The status holds; a finding opened or was settled (the duplicate refunded).
    update orders set sync_state = v_sync, updated_at = now() where id = o.id returning * into o;
    perform payment_log_for_order(o, 'payment.' || v_sync, o.status,
      jsonb_build_object('actor', p_actor, 'amount_refunded', v_refunded, 'amount_captured', v_captured, 'reason', 'findings'));
  end if;
end
$$;

-- payment_for_charge as in 20261122000400_webhook_apply.sql, with the charge's real amount (issue 15,
-- bug 4): a refund or dispute shows its charge succeeded, but only the charge's own amount may make
-- its order paid. Without it (an event whose PaymentIntent is not expanded) the caller retrieves the
-- object. A payment the check flags is still returned: its refunds and disputes are recorded
-- against it, and order_settle_after_payment leaves its unpaid order as it is.
-- p: { payment_intent_id, charge_id, amount, currency, order_id?, actor }
create or replace function payment_for_charge(p jsonb) returns payments language plpgsql as $$
declare
  pay payments;
  o orders;
begin
  select * into pay from payments where stripe_payment_intent_id = p->>'payment_intent_id';
  if found and pay.status = 'succeeded' then
    return pay;
  end if;
  select * into o from orders where id = payment_order_id(jsonb_build_object('object_id', p->>'payment_intent_id', 'order_id', p->>'order_id'));
  if o.id is null or p->>'payment_intent_id' is null or p->>'amount' is null or p->>'currency' is null then
    return null;
  end if;
  perform order_apply_payment(jsonb_build_object(
    'source', 'webhook', 'kind', 'payment_intent', 'object_id', p->>'payment_intent_id', 'order_id', o.id,
    'order_status', 'paid', 'payment_intent_id', p->>'payment_intent_id', 'charge_id', p->>'charge_id',
    'payment_status', 'succeeded', 'amount', (p->>'amount')::bigint, 'currency', p->>'currency', 'actor', p->>'actor'));
  update payments set status = 'succeeded', stripe_charge_id = coalesce(stripe_charge_id, p->>'charge_id'), updated_at = now()
   where stripe_payment_intent_id = p->>'payment_intent_id'
   returning * into pay;
  return pay;
end
$$;

-- checkout_record_attempt as in 20261122000200_checkout.sql; the order now names the live attempt's
-- object only (issue 15, bug 5): a switch between Elements and Checkout leaves no id of the
-- cancelled object on the order (the attempts keep it, and find the order by it).
create or replace function checkout_record_attempt(p jsonb) returns jsonb language plpgsql as $$
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

-- make_on_dispute_insert as in 20261122000600_make_outbox.sql: a dispute of a payment whose order was
-- never paid (a flagged mismatch) is staff's, not fulfilment's: Make hears of disputes of orders it
-- was told were paid.
create or replace function make_on_dispute_insert() returns trigger language plpgsql as $$
declare
  o orders;
begin
  select * into o from orders where id = new.order_id;
  if order_status_rank(o.status) < order_status_rank('paid') then
    return null;
  end if;
  perform make_enqueue('dispute_opened', new.id, new.order_id, o.customer_id, new.id,
    make_order_data(new.order_id) || jsonb_build_object('dispute', jsonb_build_object(
      'id', new.id, 'amount', new.amount, 'currency', new.currency, 'reason', new.reason, 'status', new.status)));
  return null;
end
$$;

-- create or replace keeps a function's grants; repeated so this file alone shows they stay closed.
revoke execute on function order_apply_payment(jsonb) from public, anon, authenticated;
revoke execute on function order_create_from_payment(jsonb) from public, anon, authenticated;
revoke execute on function order_settle_after_payment(uuid, text) from public, anon, authenticated;
revoke execute on function payment_for_charge(jsonb) from public, anon, authenticated;
revoke execute on function checkout_record_attempt(jsonb) from public, anon, authenticated;
revoke execute on function make_on_dispute_insert() from public, anon, authenticated;
