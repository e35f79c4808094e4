-- The outbox worker keeps several POSTs in flight and may wait on a slow Make for up to
-- MAKE_TIMEOUT_MS (issue 14, defect 7). Its claim's lease is therefore no longer sized to outlast the
-- slowest POST: the worker extends the lease of every attempt still running as the lease nears its
-- end, so a slow delivery is never claimed (and posted) a second time by another worker while its
-- first POST is still waiting for Make's answer. A worker that dies stops extending, and its rows
-- become due again when their last lease ends, as before.
--
-- The claim's token is the attempt number it took (make_deliveries_claim increments it; nothing else
-- does): a lease is extended only while the row is still `delivering` under that attempt, so a worker
-- whose lease was lost to another claim extends nothing (and its record is refused as `lease_lost`).
-- An ended lease that nobody claimed since is still that attempt's, and is extended.
--
-- p: [{ "id": uuid, "attempt": integer }, …]. Returns the attempts whose lease was extended.
create function make_deliveries_extend(p jsonb, p_lease_ms integer)
returns table (id uuid, attempt integer) language sql as $$
  update make_deliveries d
     set next_attempt_at = greatest(d.next_attempt_at, now() + p_lease_ms * interval '1 millisecond')
    from jsonb_to_recordset(p) as held (id uuid, attempt integer)
   where d.id = held.id and d.status = 'delivering' and d.attempts = held.attempt
  returning d.id, d.attempts
$$;

revoke execute on function make_deliveries_extend(jsonb, integer) from public, anon, authenticated;
