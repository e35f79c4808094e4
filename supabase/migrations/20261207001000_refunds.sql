-- Refunds staff make here, and disputes staff can act on (issue 18).
--
-- refunds: a refund made by refundPayment has our UUID as id from the start (status 'creating' until
-- Stripe answers) and Stripe's re_… in stripe_refund_id once known; a refund made at Stripe (its
-- dashboard) keeps Stripe's id as id, and in stripe_refund_id too, so one unique column finds every
-- Stripe refund and there is never a second row for one.
-- disputes: the evidence due date and whether the charge can still be refunded, from dispute events.

alter table refunds add column stripe_refund_id text unique check (length(stripe_refund_id) <= 255);
alter table refunds add column requested_by text check (length(requested_by) <= 255);
update refunds set stripe_refund_id = id where id like 're\_%';
-- status was only length-checked; the states are now named, 'creating' among them (held, Stripe not yet answered).
-- Stripe's refund.status is nullable and the applier once stored it as the text 'null': such a row (or
-- any other unknown word) is 'pending', Stripe's state for a refund not yet settled, or the constraint
-- below could not be added.
update refunds set status = 'pending'
 where status not in ('pending', 'requires_action', 'succeeded', 'failed', 'canceled');
alter table refunds add constraint refunds_status_known
  check (status in ('creating', 'pending', 'requires_action', 'succeeded', 'failed', 'canceled'));
-- The janitor settles rows creating untouched for 5 minutes: a repeat touches updated_at before it asks Stripe.
create index refunds_creating_idx on refunds (updated_at) where status = 'creating';
create index refunds_created_idx on refunds (created_at desc, id desc);

alter table disputes add column evidence_due_by timestamptz;
alter table disputes add column is_charge_refundable boolean;
create index disputes_created_idx on disputes (created_at desc, id desc);

-- The key of a refundPayment call names the refund it made: a repeat finds it.
alter table idempotency_keys add column refund_id text references refunds (id);

-- What a refund holds of its payment: every refund but a failed or canceled one, 'creating' included
-- (Stripe may be making it right now).
create function refund_holds(p_status text) returns boolean language sql immutable as $$
  select p_status in ('creating', 'pending', 'requires_action', 'succeeded')
$$;

-- The actor written in payment_logs, which customers read (payment_logs_own_rows): a staff member is
-- 'staff' there, as reconcile_staff_resolve writes; who it was is in audit_log.
create function refund_log_actor(p_actor text) returns text language sql immutable as $$
  select case when p_actor like 'staff:%' then 'staff' else p_actor end
$$;

-- The order's payment a refund is made of: its succeeded payment in the order's currency that is no
-- finding (a duplicate or mismatch is staff's to refund in Stripe), the first if several.
create function refund_payment_of(o orders) returns payments language sql stable as $$
  select * from payments x
   where x.order_id = o.id and x.status = 'succeeded' and x.currency = o.currency and x.finding is null
   order by x.created_at, x.id limit 1
$$;

-- Whether a dispute of the payment stops Stripe refunding it: lost, or open with is_charge_refundable
-- false (an inquiry Stripe says is refundable, or a dispute won or closed as a warning, does not).
create function refund_blocked_by_dispute(p_payment_id uuid) returns boolean language sql stable as $$
  select exists (select 1 from disputes d
                  where d.payment_id = p_payment_id
                    and (d.status = 'lost'
                         or (d.status in ('warning_needs_response', 'warning_under_review', 'needs_response', 'under_review')
                             and d.is_charge_refundable is false)))
$$;

-- refundPayment's one statement. p: { scope, key, request_hash, order_id, amount (null: the rest),
-- reason, note, actor }.
-- Returns { outcome: 'created', refund } (call Stripe), { outcome: 'repeat', refund } (this key made
-- it: its state says what to do), { outcome: 'conflict', operation }, or
-- { outcome: 'refused', code, refundable, currency } (nothing written: the key is not used up).
create function refund_claim(p jsonb) returns jsonb language plpgsql as $$
declare
  k idempotency_keys;
  o orders;
  pay payments;
  rf refunds;
  v_remaining bigint;
  v_amount bigint;
  v_id text := gen_random_uuid()::text;
begin
  -- A concurrent call with this key waits here until the first commits: it then sees its refund.
  insert into idempotency_keys (scope, key, operation, request_hash, status, completed_at)
  values (p->>'scope', p->>'key', 'refund_payment', p->>'request_hash', 'completed', now())
  on conflict do nothing
  returning * into k;
  if k.scope is null then
    select * into k from idempotency_keys where scope = p->>'scope' and key = p->>'key';
    if k.operation <> 'refund_payment' or k.request_hash <> p->>'request_hash' or k.refund_id is null then
      return jsonb_build_object('outcome', 'conflict', 'operation', k.operation);
    end if;
    select * into rf from refunds where id = k.refund_id;
    return jsonb_build_object('outcome', 'repeat', 'refund', to_jsonb(rf));
  end if;

  select * into o from orders where id = uuid_or_null(p->>'order_id') for update;
  if o.id is null then
    delete from idempotency_keys where scope = k.scope and key = k.key;
    return jsonb_build_object('outcome', 'refused', 'code', 'ORDER_NOT_FOUND');
  end if;
  pay := refund_payment_of(o);
  if pay.id is not null then
    select pay.amount - coalesce(sum(r.amount) filter (where refund_holds(r.status)), 0) into v_remaining
      from refunds r where r.payment_id = pay.id;
  end if;
  -- Not refundable: never paid or failed, or (no amount asked) nothing left. An amount asked of a paid
  -- order with nothing left, refunded in full or held by a refund in flight, is more than the remainder
  -- (0): ten presses at once get one answer whichever moment they meet the winner in.
  if pay.id is null or o.status not in ('paid', 'partially_refunded', 'disputed', 'refunded')
     or (v_remaining <= 0 and p->>'amount' is null) then
    delete from idempotency_keys where scope = k.scope and key = k.key;
    return jsonb_build_object('outcome', 'refused', 'code', 'ORDER_NOT_REFUNDABLE',
      'refundable', greatest(coalesce(v_remaining, 0), 0), 'currency', o.currency);
  end if;
  -- A charge Stripe will not refund (a dispute lost, or open and not refundable): refused here, before
  -- a row, a log line and a Stripe call that could only be refused.
  if refund_blocked_by_dispute(pay.id) then
    delete from idempotency_keys where scope = k.scope and key = k.key;
    return jsonb_build_object('outcome', 'refused', 'code', 'CHARGE_DISPUTED', 'refundable', 0, 'currency', o.currency);
  end if;
  v_amount := coalesce((p->>'amount')::bigint, v_remaining);
  if v_amount > v_remaining then
    delete from idempotency_keys where scope = k.scope and key = k.key;
    return jsonb_build_object('outcome', 'refused', 'code', 'REFUND_EXCEEDS_REMAINING', 'refundable', v_remaining, 'currency', o.currency);
  end if;

  insert into refunds (id, order_id, payment_id, amount, currency, status, reason, requested_by)
  values (v_id, o.id, pay.id, v_amount, pay.currency, 'creating', p->>'reason', p->>'actor')
  returning * into rf;
  update idempotency_keys set refund_id = rf.id, order_id = o.id where scope = k.scope and key = k.key;
  insert into audit_log (actor_type, actor_id, action, target_type, target_id, details)
  values ('staff', p->>'actor', 'refund.create', 'order', o.id::text, jsonb_strip_nulls(jsonb_build_object(
    'refund_id', rf.id, 'amount', rf.amount, 'currency', rf.currency, 'reason', rf.reason, 'note', p->>'note',
    'idempotency_key', k.key)));
  -- Customers read their orders' payment logs: 'staff' there, the staff member's id in audit_log only.
  perform payment_log_for_order(o, 'refund.creating', 'creating', jsonb_build_object(
    'actor', refund_log_actor(p->>'actor'), 'refund_id', rf.id, 'refund_amount', rf.amount, 'reason', rf.reason));
  return jsonb_build_object('outcome', 'created', 'refund', to_jsonb(rf));
end
$$;

-- Records Stripe's answer to the create call. p: { refund_id, stripe_refund_id (null: refused),
-- status, failure_reason, actor }. A row the webhook already linked (its event came first) keeps what
-- the webhook wrote: events are ordered by their time, this answer has none. One exception: a row the
-- janitor marked failed/not_created (Stripe listed no refund for it) while a create call was still
-- under way takes an answer that names a Stripe refund, since Stripe made it after all: left failed,
-- its amount would be offered again and a new press would refund twice. Returns the row.
create function refund_record(p jsonb) returns refunds language plpgsql as $$
declare
  rf refunds;
  o orders;
begin
  select * into rf from refunds where id = p->>'refund_id' for update;
  if rf.id is null then
    raise exception 'refund % does not exist', p->>'refund_id';
  end if;
  if rf.status <> 'creating'
     and not (rf.status = 'failed' and rf.failure_reason = 'not_created' and rf.stripe_refund_id is null
              and p->>'stripe_refund_id' is not null) then
    return rf;
  end if;
  update refunds
     set stripe_refund_id = p->>'stripe_refund_id', status = p->>'status',
         failure_reason = left(p->>'failure_reason', 100), updated_at = now()
   where id = rf.id
   returning * into rf;
  select * into o from orders where id = rf.order_id;
  perform payment_log_for_order(o, 'refund.' || rf.status, rf.status, jsonb_strip_nulls(jsonb_build_object(
    'actor', refund_log_actor(p->>'actor'), 'refund_id', rf.id, 'stripe_refund_id', rf.stripe_refund_id, 'refund_amount', rf.amount,
    'reason', rf.reason, 'failure_reason', rf.failure_reason)));
  perform order_settle_after_payment(rf.order_id, refund_log_actor(p->>'actor'));
  return rf;
end
$$;

-- stripe_event_effect as in 20261122000400_webhook_apply.sql (its last definition), with the marked
-- (----) refund matching, and the dispute's evidence due date and refundability.
create or replace function stripe_event_effect(f jsonb) returns jsonb language plpgsql as $$
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
  rf refunds;
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
      ---- One row per Stripe refund: the row we made (refundPayment) is found by its Stripe id once
      ---- recorded, or before that by metadata.refund_id (our write failed after Stripe made it, or the
      ---- janitor marked it failed/not_created while the create call was still under way).
      select * into rf from refunds
       where stripe_refund_id = r->'object'->>'id' or id = r->'object'->>'id'
       for update;
      if rf.id is null and uuid_or_null(r->>'refund_id') is not null then
        select * into rf from refunds
         where id = r->>'refund_id' and stripe_refund_id is null and payment_id = pay.id
         for update;
      end if;
      if rf.id is not null then
        update refunds
           set stripe_refund_id = r->'object'->>'id', status = r->>'status', amount = (r->>'amount')::bigint,
               reason = coalesce(r->>'reason', rf.reason), failure_reason = r->>'failure_reason', updated_at = now()
         where id = rf.id;
      else
        insert into refunds (id, stripe_refund_id, order_id, payment_id, amount, currency, status, reason, failure_reason)
        values (r->'object'->>'id', r->'object'->>'id', pay.order_id, pay.id, (r->>'amount')::bigint, r->>'currency', r->>'status', r->>'reason', r->>'failure_reason');
      end if;
      ----
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
    insert into disputes (id, order_id, payment_id, amount, currency, status, reason, evidence_due_by, is_charge_refundable)
    values (f->'object'->>'id', pay.order_id, pay.id, (f->'dispute'->>'amount')::bigint, f->'dispute'->>'currency',
            f->'dispute'->>'status', f->'dispute'->>'reason',
            to_timestamp((f->'dispute'->>'evidence_due_by')::bigint), (f->'dispute'->>'is_charge_refundable')::boolean)
    on conflict (id) do update set status = excluded.status, amount = excluded.amount, reason = excluded.reason,
      evidence_due_by = coalesce(excluded.evidence_due_by, disputes.evidence_due_by),
      is_charge_refundable = coalesce(excluded.is_charge_refundable, disputes.is_charge_refundable), updated_at = now();
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

-- order_settle_after_payment (20261207000500_money_path.sql) counts pending, requires_action and
-- succeeded refunds as refunded: a 'creating' row is held by refund_claim but not yet refunded, and a
-- failed one (refused, or failed later) gives its amount back. make_on_refund_change
-- (20261122000600_make_outbox.sql) enqueues refund_completed keyed by the row's id when its status
-- becomes succeeded: a row we made keeps its id when the webhook links it, so once per refund.

revoke execute on function refund_holds(text) from public, anon, authenticated;
revoke execute on function refund_blocked_by_dispute(uuid) from public, anon, authenticated;
revoke execute on function refund_payment_of(orders) from public, anon, authenticated;
revoke execute on function refund_claim(jsonb) from public, anon, authenticated;
revoke execute on function refund_record(jsonb) from public, anon, authenticated;
revoke execute on function stripe_event_effect(jsonb) from public, anon, authenticated;
revoke execute on function refund_log_actor(text) from public, anon, authenticated;
