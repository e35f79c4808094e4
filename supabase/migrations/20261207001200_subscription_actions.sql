-- Subscriptions read and changed from here (issue 19, first slice): what the reads need beyond the
-- subscriptions table the webhooks kept (the period's start, the pause state, the invoices), and the
-- one locked path for cancel, pause and resume made by staff or the subscription's own customer.
--
-- Webhooks stay the source of truth. A mutation's own write is Stripe's answer, applied through the
-- same stripe_event_effect() the applier uses, and only while no webhook has been applied to the
-- subscription since the action was claimed (see subscription_action_record): the answer is then
-- Stripe's newest state. When a webhook got there first, the answer is not written at all: the
-- webhook of the change itself brings the state, so nothing is applied twice or moved backwards.

alter table subscriptions
  add column current_period_start timestamptz,
  -- Stripe's pause_collection: null when collecting.
  add column pause_behavior text check (pause_behavior in ('void', 'keep_as_draft', 'mark_uncollectible')),
  add column pause_resumes_at timestamptz;
create index subscriptions_created_idx on subscriptions (created_at desc, id desc);

-- The invoices of our subscriptions as the invoice.* webhooks report them (one row per invoice,
-- its latest state). No foreign key to subscriptions: an invoice's event may come before its
-- subscription's.
create table subscription_invoices (
  id                 text primary key check (length(id) <= 255),          -- Stripe's in_…
  subscription_id    text not null check (length(subscription_id) <= 255),
  status             text not null check (length(status) <= 50),
  amount_due         bigint not null check (amount_due >= 0),
  amount_paid        bigint not null check (amount_paid >= 0),
  currency           text not null check (currency ~ '^[a-z]{3}$'),
  hosted_invoice_url text check (length(hosted_invoice_url) <= 2048),
  period_start       timestamptz,
  period_end         timestamptz,
  stripe_created     timestamptz not null,
  created_at         timestamptz not null default now(),
  updated_at         timestamptz not null default now()
);
create index subscription_invoices_subscription_idx on subscription_invoices (subscription_id, stripe_created desc, id desc);
alter table subscription_invoices enable row level security;

-- One row per cancel, pause or resume asked for. Its id is the stable id of the Stripe idempotency key
-- (subscription_<action>:<id>); 'requested' while Stripe is asked, which holds off a second action on
-- the same subscription (one at a time: the other is told, not queued behind it).
create table subscription_actions (
  id                      uuid primary key default gen_random_uuid(),
  subscription_id         text not null references subscriptions (id),
  action                  text not null check (action in ('cancel', 'pause', 'resume', 'switch')),
  params                  jsonb not null default '{}'::jsonb,
  status                  text not null default 'requested' check (status in ('requested', 'done', 'failed')),
  error_code              text check (length(error_code) <= 100),
  -- 'staff' or 'customer' (payment_logs rows are read by customers: no staff id there); who exactly is in audit_log.
  actor                   text not null check (actor in ('staff', 'customer')),
  -- The subscription's last applied event when claimed: the answer is written only if it is still the last.
  seen_last_event_id      text,
  -- The caller's idempotency scope and key: an action left 'requested' because Stripe could not be
  -- reached (perhaps after making the change) is taken over by the same caller's retry with the same
  -- key, so Stripe is asked again with the same subscription_<action>:<id> key and answers once.
  caller_scope            text check (length(caller_scope) <= 300),
  caller_key              text check (length(caller_key) <= 300),
  created_at              timestamptz not null default now(),
  updated_at              timestamptz not null default now()
);
create index subscription_actions_subscription_idx on subscription_actions (subscription_id, created_at desc);
alter table subscription_actions enable row level security;

-- Customers act on their own subscriptions: their audit rows say so.
alter table audit_log drop constraint audit_log_actor_type_check;
alter table audit_log add constraint audit_log_actor_type_check check (actor_type in ('staff', 'api_key', 'system', 'customer'));

-- staff_action_complete (20261207000900_reconciliation_api.sql) with the audit row's actor type given
-- (a customer's key is kept the same way); 'staff' when not given, as before.
create or replace function staff_action_complete(p jsonb) returns boolean language plpgsql as $$
begin
  update idempotency_keys
     set status = 'completed', completed_at = now(), response = coalesce(p->'response', '{}'::jsonb)
   where scope = p->>'scope' and key = p->>'key' and operation = p->>'operation' and status = 'in_progress'
     and claim_token = (p->>'token')::uuid;
  if not found then
    return false;
  end if;
  insert into audit_log (actor_type, actor_id, action, target_type, target_id, details)
  values (coalesce(p->>'actor_type', 'staff'), p->>'actor', p->>'action', p->>'target_type', p->>'target_id',
          coalesce(p->'details', '{}'::jsonb) || jsonb_build_object('idempotency_key', p->>'key'));
  return true;
end
$$;

-- The applier's stripe_event_effect (last replaced in 20261207001000_refunds.sql) keeps its body; the
-- subscription and invoice facts it does not write are written here, after it, only when it applied
-- the event (so the same object-order guard decides). Wrapping rather than copying the whole body
-- keeps one copy of it; a later migration replacing stripe_event_effect must keep this wrapper's part.
alter function stripe_event_effect(jsonb) rename to stripe_event_effect_core;

create function stripe_event_effect(f jsonb) returns jsonb language plpgsql as $$
declare
  v_result jsonb := stripe_event_effect_core(f);
  s jsonb;
  i jsonb;
begin
  if v_result->>'outcome' <> 'applied' then
    return v_result;
  end if;
  if f->>'effect' = 'subscription' then
    s := f->'subscription';
    -- Facts stored before this migration lack these fields: they leave what is kept as it is.
    if s ? 'pause_collection' then
      update subscriptions
         set current_period_start = coalesce(to_timestamp((s->>'current_period_start')::bigint), current_period_start),
             pause_behavior = s->'pause_collection'->>'behavior',
             pause_resumes_at = to_timestamp((s->'pause_collection'->>'resumes_at')::bigint)
       where id = f->'object'->>'id';
    end if;
  elsif f->>'effect' = 'invoice' and f->'invoice'->>'subscription_id' is not null and f->'invoice' ? 'amount_due' then
    i := f->'invoice';
    insert into subscription_invoices (id, subscription_id, status, amount_due, amount_paid, currency, hosted_invoice_url,
                                       period_start, period_end, stripe_created)
    values (f->'object'->>'id', i->>'subscription_id', i->>'status', (i->>'amount_due')::bigint, (i->>'amount_paid')::bigint,
            i->>'currency', i->>'hosted_invoice_url', to_timestamp((i->>'period_start')::bigint),
            to_timestamp((i->>'period_end')::bigint), coalesce(to_timestamp((i->>'invoice_created')::bigint), to_timestamp((f->>'created')::bigint)))
    on conflict (id) do update
      set status = excluded.status, amount_due = excluded.amount_due, amount_paid = excluded.amount_paid,
          hosted_invoice_url = coalesce(excluded.hosted_invoice_url, subscription_invoices.hosted_invoice_url),
          period_start = excluded.period_start, period_end = excluded.period_end, updated_at = now();
  end if;
  return v_result;
end
$$;

-- Claims an action on a subscription, holding its row lock: p { subscription_id, action, params,
-- actor ('staff' | 'customer'), customer_user_id (a customer's own id; null for staff), caller_scope and
-- caller_key (the caller's idempotency scope and key) }.
-- Answers { ok: true, action_id } or { ok: false, code }; a customer's answer for another's
-- subscription is SUBSCRIPTION_NOT_FOUND, as for none. An incomplete subscription (never paid) is
-- neither paused nor switched. A switch (switchSubscription) is one more action on this path, Stripe
-- asked with subscription_switch:<action id>.
create function subscription_action_claim(p jsonb) returns jsonb language plpgsql as $$
declare
  s subscriptions;
  v_owner uuid;
  v_busy boolean;
  v_last text;
  v_id uuid;
begin
  select * into s from subscriptions where id = p->>'subscription_id' for update;
  if not found then
    return jsonb_build_object('ok', false, 'code', 'SUBSCRIPTION_NOT_FOUND');
  end if;
  if p->>'customer_user_id' is not null then
    select c.user_id into v_owner from customers c where c.id = s.customer_id;
    if v_owner is distinct from uuid_or_null(p->>'customer_user_id') then
      return jsonb_build_object('ok', false, 'code', 'SUBSCRIPTION_NOT_FOUND');
    end if;
  end if;
  if s.status in ('canceled', 'incomplete_expired')
     or (p->>'action' in ('pause', 'resume', 'switch') and s.status = 'incomplete') then
    return jsonb_build_object('ok', false, 'code', 'SUBSCRIPTION_NOT_ACTIVE', 'status', s.status);
  end if;
  -- A switch to the track the subscription is already for is SAME_TRACK, decided under the lock (a
  -- switch made meanwhile may have moved it there).
  if p->>'action' = 'switch' and exists (select 1 from prices pr where pr.stripe_price_id = s.stripe_price_id
                                                              and pr.product_id = p->'params'->>'track') then
    return jsonb_build_object('ok', false, 'code', 'SAME_TRACK');
  end if;
  -- The same caller's retry with the same key takes over its own action still 'requested' (Stripe was
  -- unreachable: it may have made the change), whatever its age: its id is the Stripe key's, so Stripe
  -- answers the retry as it answered (or would have answered) the first call, never a second change.
  if p->>'caller_key' is not null then
    select a.id into v_id from subscription_actions a
     where a.subscription_id = s.id and a.status = 'requested' and a.action = p->>'action'
       and a.caller_scope = p->>'caller_scope' and a.caller_key = p->>'caller_key'
     order by a.created_at desc limit 1;
    if v_id is not null then
      return jsonb_build_object('ok', true, 'action_id', v_id, 'resumed', true);
    end if;
  end if;
  select exists (select 1 from subscription_actions a where a.subscription_id = s.id and a.status = 'requested'
                  and a.created_at > now() - interval '5 minutes') into v_busy;
  if v_busy then
    return jsonb_build_object('ok', false, 'code', 'SUBSCRIPTION_CHANGE_IN_PROGRESS');
  end if;
  select o.last_event_id into v_last from stripe_objects o where o.id = s.id;
  insert into subscription_actions (subscription_id, action, params, actor, seen_last_event_id, caller_scope, caller_key)
  values (s.id, p->>'action', coalesce(p->'params', '{}'::jsonb), p->>'actor', v_last, p->>'caller_scope', p->>'caller_key')
  returning id into v_id;
  return jsonb_build_object('ok', true, 'action_id', v_id);
end
$$;

-- Records Stripe's answer to a claimed action: p { action_id, status ('done' | 'failed'), error_code,
-- facts (the subscription effect of Stripe's answer, as the translator reads it; null when none) }.
-- The action's payment_logs row is written either way; the answer's state only while no webhook was
-- applied to the subscription since the claim. Answers { state: 'applied' | 'left_to_webhook' | 'none' }.
create function subscription_action_record(p jsonb) returns jsonb language plpgsql as $$
declare
  a subscription_actions;
  s subscriptions;
  c customers;
  o stripe_objects;
  v_state text := 'none';
  v_created bigint;
begin
  select * into a from subscription_actions where id = (p->>'action_id')::uuid for update;
  if not found or a.status <> 'requested' then
    return jsonb_build_object('state', 'none');
  end if;
  update subscription_actions set status = p->>'status', error_code = p->>'error_code', updated_at = now() where id = a.id;
  -- The webhook applier locks the subscription's stripe_objects row, then its subscriptions row: the
  -- same order here, or an action's record and its own webhook (milliseconds apart) deadlock.
  select * into o from stripe_objects where id = a.subscription_id for update;
  select * into s from subscriptions where id = a.subscription_id for update;
  select * into c from customers where id = s.customer_id;
  if p->>'status' = 'done' and jsonb_typeof(p->'facts') = 'object' then
    if o.last_event_id is not distinct from a.seen_last_event_id then
      -- Stripe's current state, applied at the clock of the last event known: our own change's webhook
      -- (later) then finds the same state and does nothing; an older one is stale.
      v_created := coalesce(extract(epoch from o.last_event_created)::bigint, extract(epoch from now())::bigint);
      perform stripe_event_effect(p->'facts' || jsonb_build_object(
        'event_id', 'action:' || a.id, 'type', 'subscription.' || a.action, 'created', v_created, 'retrieved', true));
      v_state := 'applied';
    else
      v_state := 'left_to_webhook';
    end if;
  end if;
  insert into payment_logs (event_type, user_id, customer_id, status, metadata)
  values ('subscription.' || a.action || case when p->>'status' = 'done' then '_requested' else '_failed' end,
          c.user_id, c.id, p->>'status', jsonb_strip_nulls(jsonb_build_object(
            'actor', a.actor, 'subscription_id', a.subscription_id, 'action_id', a.id, 'params', a.params, 'error_code', p->>'error_code')));
  return jsonb_build_object('state', v_state);
end
$$;

revoke execute on function stripe_event_effect_core(jsonb) from public, anon, authenticated;
revoke execute on function stripe_event_effect(jsonb) from public, anon, authenticated;
revoke execute on function staff_action_complete(jsonb) from public, anon, authenticated;
revoke execute on function subscription_action_claim(jsonb) from public, anon, authenticated;
revoke execute on function subscription_action_record(jsonb) from public, anon, authenticated;
