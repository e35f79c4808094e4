-- The database's cost per applied event, Make outbox and webhook store (issue 23, goals c and d).
--
-- 1. The Make outbox records its attempts in sets: make_delivery_records takes every attempt
-- a worker's POSTs finished together and records them in one set-based statement, where each was a
-- call of make_delivery_record (20261122000600_make_outbox.sql): a PL/pgSQL call per attempt, each
-- reading and locking its row, then inserting the attempt and updating the row. Measured on
-- PostgreSQL 15 (backend CPU from /proc, 20 attempts a call, interleaved rounds, load 16-27 on 2
-- cores): 133-180 µs per attempt one by one, 67-100 µs as a set.
--
-- Each attempt is recorded exactly as before: its row is locked (all of them, in id order, so two
-- workers recording overlapping rows cannot deadlock); its outcome is its own (delivered, retry, dead,
-- or lease_lost when the row is no longer delivering under the attempt the caller claimed); a retry
-- past the horizon (counted from retry_window_from) is dead instead; the attempt row is always written
-- (the POST happened) and the delivery moves only for an attempt that still holds it. An id with no
-- delivery fails the whole call, with the error make_delivery_record gave, and records nothing.
--
-- p: [{ id, attempt, outcome: 'delivered' | 'retry' | 'dead', retry_in_ms?, horizon_ms, started_at,
-- latency_ms, status_code?, error?, response? }, …]. Returns each attempt's outcome as applied.
create function make_delivery_records(p jsonb)
returns table (id uuid, attempt integer, outcome text) language plpgsql as $$
#variable_conflict use_column
declare
  v_ids uuid[];
  v_locked integer;
  v_missing uuid;
begin
  -- Every statement below reaches make_deliveries through its primary key with these ids (= any, or
  -- a lateral lookup per attempt): a join the planner was free to shape read the whole table (a
  -- function's rows are estimated at 100, so a hash join looked cheaper), at a cost growing with it.
  select coalesce(array_agg(distinct x.id), '{}') into v_ids from jsonb_to_recordset(p) as x (id uuid);
  perform 1 from make_deliveries d where d.id = any (v_ids) order by d.id for update;
  get diagnostics v_locked = row_count;
  if v_locked <> cardinality(v_ids) then
    select x.id into v_missing from unnest(v_ids) as x (id)
     where not exists (select 1 from make_deliveries d where d.id = x.id) limit 1;
    raise exception 'make delivery % does not exist', v_missing;
  end if;

  -- One statement: the CTE r reads each locked row once; the attempt rows and the moves are written
  -- from it. Two attempts of one delivery cannot both hold it (a row holds one attempt number).
  return query
  with r as (
    select x.id, x.attempt, x.outcome as asked, x.status_code, x.started_at, x.latency_ms, x.error, x.response,
           case when x.outcome = 'retry' then now() + coalesce(x.retry_in_ms, 0) * interval '1 millisecond' end as next,
           case
             when d.status <> 'delivering' or d.attempts <> x.attempt then 'lease_lost'
             when x.outcome = 'retry'
                  and now() + coalesce(x.retry_in_ms, 0) * interval '1 millisecond' > d.retry_window_from + x.horizon_ms * interval '1 millisecond'
               then 'dead'
             else x.outcome
           end as applied
      from jsonb_to_recordset(p) as x (id uuid, attempt integer, outcome text, retry_in_ms bigint, horizon_ms bigint,
                                       started_at timestamptz, latency_ms integer, status_code integer, error text, response text)
     cross join lateral (select d.status, d.attempts, d.retry_window_from from make_deliveries d where d.id = x.id offset 0) as d
  ), attempts as (
    insert into make_delivery_attempts (delivery_id, attempt, started_at, finished_at, status_code, latency_ms, outcome, error, response)
    select r.id, r.attempt, r.started_at, now(), r.status_code, greatest(r.latency_ms, 0), r.applied, left(r.error, 1000), left(r.response, 2048)
      from r
    on conflict on constraint make_delivery_attempts_pkey do nothing
  ), moved as (
    update make_deliveries d
       set status = case r.applied when 'delivered' then 'delivered' when 'dead' then 'dead' else 'pending' end,
           next_attempt_at = coalesce(r.next, now()),
           last_status_code = r.status_code,
           last_error = left(r.error, 1000),
           last_response = left(r.response, 2048),
           delivered_at = case when r.applied = 'delivered' then now() else d.delivered_at end,
           dead_at = case when r.applied = 'dead' then now() end,
           updated_at = now()
      from r
     where d.id = any (v_ids) and d.id = r.id and r.applied <> 'lease_lost'
  )
  select r.id, r.attempt, r.applied from r;
end
$$;

-- make_delivery_record stays for an attempt recorded alone (a POST that finished by itself, as at a
-- trickle of paid orders): as a set of one this function cost about 60 µs more per attempt (its
-- array and lateral steps), so each keeps its own statement of the same rules, and
-- tests/make/delivery.test.ts checks that both record the same outcomes.
revoke execute on function make_delivery_records(jsonb) from public, anon, authenticated;

-- 2. make_deliveries_claim and stripe_events_store become PL/pgSQL, with the same statement. A
--    LANGUAGE sql function that is not inlined (these are not: one modifies rows, the other is a
--    set-returning INSERT) is parsed and planned again on every call, where PL/pgSQL keeps the
--    statement's plan for the session. Both are called once per batch, and batches are small when
--    events arrive one at a time (a quiet machine at 1,000 events/s): measured on PostgreSQL 15
--    (backend CPU from /proc, interleaved rounds, load 28-32 on 2 cores), a claim of 5 deliveries
--    cost 150 µs per delivery as SQL and 83-100 µs as PL/pgSQL; storing one event alone 430-470 µs
--    against 250-310 µs, eight at a time 129-150 µs per event against 108-113 µs.
create or replace function make_deliveries_claim(p_limit integer, p_lease_ms integer)
returns table (id uuid, kind text, url text, payload jsonb, attempt integer, created_at timestamptz)
language plpgsql as $$
#variable_conflict use_column
begin
  return query
  with due as (
    select d.id from make_deliveries d
     where d.status in ('pending', 'delivering') and d.next_attempt_at <= now()
     order by d.next_attempt_at
     limit p_limit
       for update skip locked
  ), claimed as (
    update make_deliveries d
       set status = 'delivering', attempts = d.attempts + 1,
           next_attempt_at = now() + p_lease_ms * interval '1 millisecond', updated_at = now()
      from due
     where d.id = due.id
    returning d.id, d.kind, d.payload, d.attempts, d.created_at
  )
  select c.id, c.kind, r.url, c.payload, c.attempts, c.created_at
    from claimed c left join make_routes r on r.kind = c.kind;
end
$$;

create or replace function stripe_events_store(events jsonb) returns setof text language plpgsql as $$
begin
  return query
  insert into stripe_events (id, type, object_type, object_id, created, livemode, api_version, payload, status, ignored_reason, facts, source)
  select e->>'id', e->>'type', e->>'object_type', e->>'object_id', to_timestamp((e->>'created')::bigint),
         (e->>'livemode')::boolean, e->>'api_version', e->'payload', e->>'status', e->>'ignored_reason', e->'facts',
         coalesce(e->>'source', 'endpoint')
    from jsonb_array_elements(events) as e
  on conflict (id) do nothing
  returning id;
end
$$;

revoke execute on function make_deliveries_claim(integer, integer) from public, anon, authenticated;
revoke execute on function stripe_events_store(jsonb) from public, anon, authenticated;
