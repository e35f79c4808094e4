-- The applier's common path in one statement (issue 5's applied-events goal).
--
-- The endpoint already parses every event it verifies; it now also translates it into facts
-- (server/webhooks/translate.ts, a pure function of the payload) and stores them with the event. The
-- applier then claims due events and applies their stored facts in one call: no payload is read back,
-- sent to the server and parsed again, and there is no subtransaction per event. A subtransaction per
-- event gave every event of a 200-event batch its own subtransaction id, past the 64 a backend
-- caches, and from there every other session's snapshot checks went through pg_subtrans.
--
-- Isolation is kept where it is needed: if the one-statement path raises, the applier rolls it back
-- and applies the same events again with stripe_events_apply(), each event in its own
-- subtransaction, so one bad event never holds the others back. Events without stored facts (stored
-- before this migration, replayed, or unreadable at ingest) are translated by the server as before.

alter table stripe_events add column facts jsonb;

-- As before, plus the facts the endpoint translated (absent when it could not).
create or replace function stripe_events_store(events jsonb) returns setof text language sql as $$
  insert into stripe_events (id, type, object_type, object_id, created, livemode, api_version, payload, status, ignored_reason, facts)
  select e->>'id', e->>'type', e->>'object_type', e->>'object_id', to_timestamp((e->>'created')::bigint),
         (e->>'livemode')::boolean, e->>'api_version', e->'payload', e->>'status', e->>'ignored_reason', e->'facts'
    from jsonb_array_elements(events) as e
  on conflict (id) do nothing
  returning id
$$;

-- Applies one event's facts and marks the event; raises on any error, for the caller to record.
-- Returns { event_id, status, outcome }.
create function stripe_event_apply_one(f jsonb) returns jsonb language plpgsql as $$
declare
  v_result jsonb;
  v_status text;
  v_note text;
begin
  if f->>'error' is not null then
    raise exception '%', f->>'error';
  end if;
  v_result := stripe_event_effect(f);
  v_note := v_result->>'note';
  if v_result->>'outcome' = 'retrieve' then
    update stripe_events set next_attempt_at = now() + interval '1 minute', outcome = 'retrieving the object from Stripe'
     where id = f->>'event_id';
    v_status := 'received';
  else
    v_status := case when v_result->>'outcome' = 'ignored' then 'ignored' else 'applied' end;
    update stripe_events
       set status = v_status,
           outcome = left(case when v_note is null then v_result->>'outcome' else (v_result->>'outcome') || ': ' || v_note end, 300),
           ignored_reason = case when v_status = 'ignored' then left(v_note, 200) end,
           applied_at = case when v_status = 'applied' then now() end,
           attempts = attempts + 1, last_error = null, failed_at = null
     where id = f->>'event_id';
  end if;
  return jsonb_build_object('event_id', f->>'event_id', 'status', v_status, 'outcome', v_result->>'outcome');
end
$$;

-- Records a failed attempt: retried with backoff, failed after max_attempts.
-- Returns { event_id, status, outcome: 'error', error }.
create function stripe_event_record_error(p_event_id text, p_error text, max_attempts integer) returns jsonb language sql as $$
  update stripe_events
     set attempts = attempts + 1,
         last_error = left(p_error, 2000),
         -- 2, 4, 8 … seconds, at most an hour, with up to 50% jitter so retries do not march together.
         next_attempt_at = now() + least(interval '1 hour', interval '1 second' * power(2, least(attempts + 1, 12)))
                                 * (1 + random() * 0.5),
         status = case when attempts + 1 >= max_attempts then 'failed' else 'received' end,
         failed_at = case when attempts + 1 >= max_attempts then now() end,
         outcome = null
   where id = p_event_id
  returning jsonb_build_object('event_id', id, 'status', status, 'outcome', 'error', 'error', left(p_error, 500))
$$;

-- The isolated path, as in 20261122000400: each event in its own subtransaction, so an error is
-- recorded on its event and the others are applied. The caller holds the events' row locks.
create or replace function stripe_events_apply(facts jsonb, max_attempts integer) returns jsonb language plpgsql as $$
declare
  f jsonb;
  v_out jsonb[] := '{}';
begin
  for f in select * from jsonb_array_elements(facts) loop
    begin
      v_out := v_out || stripe_event_apply_one(f);
    exception when others then
      v_out := v_out || stripe_event_record_error(f->>'event_id', sqlerrm, max_attempts);
    end;
  end loop;
  return to_jsonb(v_out);
end
$$;

-- The common path: claims up to p_limit due events (FOR UPDATE SKIP LOCKED, so several processes can
-- run it) and applies the stored facts of each, with no subtransactions: any error aborts the whole
-- call, and the caller applies the batch again with stripe_events_apply(). Events without facts stay
-- claimed (locked until the caller's transaction ends) and are returned for the server to translate.
-- Returns { results: [{ event_id, status, outcome }], untranslated: [event_id] }.
create function stripe_events_apply_due(p_limit integer) returns jsonb language plpgsql as $$
declare
  v_ids text[];
  v_facts jsonb[];
  v_out jsonb[] := '{}';
  v_untranslated text[] := '{}';
begin
  -- Only the ids and facts: the payloads stay where they are.
  select coalesce(array_agg(d.id order by d.next_attempt_at), '{}'), coalesce(array_agg(d.facts order by d.next_attempt_at), '{}')
    into v_ids, v_facts
    from (select id, facts, next_attempt_at from stripe_events where status = 'received' and next_attempt_at <= now()
           order by next_attempt_at limit p_limit for update skip locked) as d;
  for i in 1 .. coalesce(array_length(v_ids, 1), 0) loop
    if v_facts[i] is null then
      v_untranslated := v_untranslated || v_ids[i];
    else
      v_out := v_out || stripe_event_apply_one(v_facts[i]);
    end if;
  end loop;
  return jsonb_build_object('results', to_jsonb(v_out), 'untranslated', to_jsonb(v_untranslated));
end
$$;

-- As in 20261122000400, and the stored facts are dropped: a replay is translated again by the
-- server running now, which may read the payload better than the one that stored it.
create or replace function stripe_event_replay(p_event_id text, p_actor text) returns boolean language plpgsql as $$
begin
  update stripe_events
     set status = 'received', attempts = 0, next_attempt_at = now(), last_error = null, failed_at = null,
         ignored_reason = null, applied_at = null, outcome = null, facts = null
   where id = p_event_id;
  if not found then
    return false;
  end if;
  insert into audit_log (actor_type, actor_id, action, target_type, target_id)
  values ('staff', p_actor, 'webhook_event.replay', 'stripe_event', p_event_id);
  return true;
end
$$;

revoke execute on function stripe_event_apply_one(jsonb) from public, anon, authenticated;
revoke execute on function stripe_event_record_error(text, text, integer) from public, anon, authenticated;
revoke execute on function stripe_events_apply_due(integer) from public, anon, authenticated;
