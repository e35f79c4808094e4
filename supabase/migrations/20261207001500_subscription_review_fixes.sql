-- Fixes from the review of the subscription server code (issue 19).
--
-- 1. Every Stripe price we ever made for one of our prices. Stripe prices are immutable: a new amount
--    is a new Stripe price, and the catalog sync then points prices.stripe_price_id at it. Existing
--    subscribers stay on the old Stripe price at Stripe (it keeps renewing them), so a subscription
--    found its track through prices.stripe_price_id only until the first price change: after it, it
--    read no track and no price and could not be previewed or switched. stripe_prices keeps each one,
--    with what it was made for (amount, currency, interval), and a subscription's track is resolved
--    through it everywhere (server/subscriptions/read.sql.ts and the SAME_TRACK check below).
create table stripe_prices (
  stripe_price_id    text primary key check (length(stripe_price_id) <= 255),
  price_id           text not null references prices (id),
  -- What the Stripe price bills: the database price's at the time it was made (it may change since).
  currency           text not null check (currency ~ '^[a-z]{3}$'),
  unit_amount        bigint not null check (unit_amount >= 0),
  recurring_interval text,
  created_at         timestamptz not null default now()
);
create index stripe_prices_price_idx on stripe_prices (price_id);
alter table stripe_prices enable row level security;

insert into stripe_prices (stripe_price_id, price_id, currency, unit_amount, recurring_interval)
select stripe_price_id, id, currency, unit_amount, recurring_interval from prices where stripe_price_id is not null
on conflict do nothing;

-- Wherever prices.stripe_price_id is set (the catalog sync records its own row first, with the amount it
-- made the Stripe price for; this catches any other writer), the Stripe price is kept.
create function prices_keep_stripe_price() returns trigger language plpgsql as $$
begin
  if new.stripe_price_id is not null then
    insert into stripe_prices (stripe_price_id, price_id, currency, unit_amount, recurring_interval)
    values (new.stripe_price_id, new.id, new.currency, new.unit_amount, new.recurring_interval)
    on conflict do nothing;
  end if;
  return null;
end
$$;
create trigger prices_keep_stripe_price after insert or update of stripe_price_id on prices
  for each row execute function prices_keep_stripe_price();

-- subscription_action_claim as in 20261207001200_subscription_actions.sql, but SAME_TRACK is judged by
-- the subscription's Stripe price through stripe_prices (any price we made for the track, not only
-- its current one).
create or replace function subscription_action_claim(p jsonb) returns jsonb language plpgsql as $$
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
  if p->>'action' = 'switch' and exists (select 1 from stripe_prices sp join prices pr on pr.id = sp.price_id
                                          where sp.stripe_price_id = s.stripe_price_id and pr.product_id = p->'params'->>'track') then
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

revoke execute on function prices_keep_stripe_price() from public, anon, authenticated;
revoke execute on function subscription_action_claim(jsonb) from public, anon, authenticated;

-- 3. Make hears of pause, resume and cancel at period end. make_on_subscription_change
--    (20261122000600_make_outbox.sql) fired on status and price only, so a pause, a resume or a cancel at
--    period end reached no Make scenario. It now fires on those fields too, with them in the payload, and
--    enqueues one subscription_changed per distinct state: its dedupe key is the state (status, price,
--    cancel at period end, pause and its end, current period) and the delivery it follows, not the
--    moment. The same state written again (a mutation's answer and its webhook, a replay, two writers at
--    once) is one delivery; a state left and later reached again (paused, resumed, paused) is announced
--    each time, since it follows another delivery.
--
--    The applier writes a subscription in two statements (stripe_event_effect_core, then the pause and
--    period start in stripe_event_effect's wrapper), so a row trigger would see a half-written state
--    between them. The trigger is deferred to the end of the transaction and reads the row as it is then:
--    every firing of one transaction describes the same final state, under the same key.
create index make_deliveries_subject_idx on make_deliveries (kind, subject_id, created_at desc, id desc);

drop trigger make_on_subscription_change on subscriptions;
drop function make_on_subscription_change();

create function make_on_subscription_change() returns trigger language plpgsql as $$
declare
  s subscriptions;
  v_state text;
  v_previous make_deliveries;
begin
  select * into s from subscriptions where id = new.id;
  if not found then
    return null;
  end if;
  if tg_op = 'UPDATE'
     and old.status = s.status
     and old.stripe_price_id is not distinct from s.stripe_price_id
     and old.cancel_at_period_end = s.cancel_at_period_end
     and old.pause_behavior is not distinct from s.pause_behavior
     and old.pause_resumes_at is not distinct from s.pause_resumes_at then
    return null;
  end if;
  v_state := concat_ws(':', s.id, s.status, coalesce(s.stripe_price_id, ''), s.cancel_at_period_end::text,
                       coalesce(s.pause_behavior, ''), coalesce(extract(epoch from s.pause_resumes_at)::bigint::text, ''),
                       coalesce(extract(epoch from s.current_period_end)::bigint::text, ''));
  select * into v_previous from make_deliveries d
   where d.kind = 'subscription_changed' and d.subject_id = s.id
   order by d.created_at desc, d.id desc limit 1;
  -- The state Make last heard of: nothing new to tell.
  if v_previous.dedupe_key is not null and split_part(v_previous.dedupe_key, '|', 1) = v_state then
    return null;
  end if;
  perform make_enqueue('subscription_changed', v_state || '|' || coalesce(v_previous.id::text, 'first'),
    s.order_id, s.customer_id, s.id,
    jsonb_build_object(
      'order_id', s.order_id,
      'customer', (select jsonb_build_object('id', c.id, 'email', c.email, 'name', c.name) from customers c where c.id = s.customer_id),
      'subscription', jsonb_build_object(
        'id', s.id, 'status', s.status, 'previous_status', case when tg_op = 'UPDATE' then old.status end,
        'price_id', s.stripe_price_id, 'current_period_end', s.current_period_end,
        'cancel_at_period_end', s.cancel_at_period_end, 'canceled_at', s.canceled_at,
        'pause_behavior', s.pause_behavior, 'pause_resumes_at', s.pause_resumes_at)));
  return null;
end
$$;

create constraint trigger make_on_subscription_change
  after insert or update of status, stripe_price_id, cancel_at_period_end, pause_behavior, pause_resumes_at on subscriptions
  deferrable initially deferred
  for each row execute function make_on_subscription_change();

revoke execute on function make_on_subscription_change() from public, anon, authenticated;
