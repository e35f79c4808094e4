-- switchSubscription (issue 19): a switch of track is one more action on the same locked path as
-- cancel, pause and resume (20261207001200_subscription_actions.sql): claimed under the
-- subscription's row lock, one at a time, Stripe asked with subscription_switch:<action id>, its
-- answer recorded by subscription_action_record (payment_logs row; the state only while no webhook
-- got there first). Only the claim changes: an incomplete subscription (never paid) is not switched,
-- as it is not paused.

alter table subscription_actions drop constraint subscription_actions_action_check;
alter table subscription_actions add constraint subscription_actions_action_check
  check (action in ('cancel', 'pause', 'resume', 'switch'));

-- As in 20261207001200, with 'switch' refused for an incomplete subscription too.
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
  if p->>'action' = 'switch' and exists (select 1 from prices pr where pr.stripe_price_id = s.stripe_price_id
                                                              and pr.product_id = p->'params'->>'track') then
    return jsonb_build_object('ok', false, 'code', 'SAME_TRACK');
  end if;
  select exists (select 1 from subscription_actions a where a.subscription_id = s.id and a.status = 'requested'
                  and a.created_at > now() - interval '5 minutes') into v_busy;
  if v_busy then
    return jsonb_build_object('ok', false, 'code', 'SUBSCRIPTION_CHANGE_IN_PROGRESS');
  end if;
  select o.last_event_id into v_last from stripe_objects o where o.id = s.id;
  insert into subscription_actions (subscription_id, action, params, actor, seen_last_event_id)
  values (s.id, p->>'action', coalesce(p->'params', '{}'::jsonb), p->>'actor', v_last)
  returning id into v_id;
  return jsonb_build_object('ok', true, 'action_id', v_id);
end
$$;

revoke execute on function subscription_action_claim(jsonb) from public, anon, authenticated;
