-- Staff replay of a stored Stripe event, idempotent by the caller's key like every other staff
-- mutation: a double press (or a client retrying after a lost answer) resets and applies the event
-- once. The same key for the same event returns 'repeat' without acting; the key with another event
-- (or another operation) is a conflict. Audited with the key.
-- p: { event_id, actor, scope, key, request_hash }
-- Returns { outcome: 'done' | 'repeat' | 'not_found' | 'conflict', operation? }.
drop function stripe_event_replay(text, text);

create function stripe_event_replay(p jsonb) returns jsonb language plpgsql as $$
declare
  k idempotency_keys;
  v_exists boolean;
begin
  -- The event's lock serialises two calls with one key, so the second sees the first's key.
  perform 1 from stripe_events where id = p->>'event_id' for update;
  v_exists := found;
  select * into k from idempotency_keys where scope = p->>'scope' and key = p->>'key';
  if found then
    if k.operation <> 'webhook_event_replay' or k.request_hash <> p->>'request_hash' then
      return jsonb_build_object('outcome', 'conflict', 'operation', k.operation);
    end if;
    return jsonb_build_object('outcome', 'repeat');
  end if;
  if not v_exists then
    return jsonb_build_object('outcome', 'not_found');
  end if;

  insert into idempotency_keys (scope, key, operation, request_hash, status, completed_at)
  values (p->>'scope', p->>'key', 'webhook_event_replay', p->>'request_hash', 'completed', now())
  on conflict do nothing;
  if not found then
    -- The same key, used at the same moment for another event: that call committed first.
    return jsonb_build_object('outcome', 'conflict', 'operation', 'webhook_event_replay');
  end if;
  update stripe_events
     set status = 'received', attempts = 0, next_attempt_at = now(), last_error = null, failed_at = null,
         ignored_reason = null, applied_at = null, outcome = null, facts = null
   where id = p->>'event_id';
  insert into audit_log (actor_type, actor_id, action, target_type, target_id, details)
  values ('staff', p->>'actor', 'webhook_event.replay', 'stripe_event', p->>'event_id',
          jsonb_build_object('idempotency_key', p->>'key'));
  return jsonb_build_object('outcome', 'done');
end
$$;

revoke execute on function stripe_event_replay(jsonb) from public, anon, authenticated;
