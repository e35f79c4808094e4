-- stripe_events_apply_due (20261207002600_webhook_mark_batch.sql) handed stripe_events_mark four arrays
-- built by four separate subqueries over unnest(v_out), as if they were zipped: each array's order was
-- its own subquery's scan order, which PostgreSQL does not promise, so an event could in principle be
-- marked with another event's status, outcome or note. The four arrays are now built in one pass over
-- unnest(v_out) with ordinality, each ordered by the element's position: the i-th element of every
-- array comes from the same row. Otherwise the body is as in 20261207002600.
create or replace function stripe_events_apply_due(p_limit integer) returns jsonb language plpgsql as $$
declare
  v_ids text[];
  v_facts jsonb[];
  v_out jsonb[] := '{}';
  v_untranslated text[] := '{}';
  v_mark_ids text[];
  v_mark_statuses text[];
  v_mark_outcomes text[];
  v_mark_notes text[];
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
      v_out := v_out || stripe_event_outcome(v_facts[i]);
    end if;
  end loop;
  if array_length(v_out, 1) > 0 then
    -- One pass: the four arrays are zipped because each row gives one element to each.
    select array_agg(o->>'event_id' order by n), array_agg(o->>'status' order by n),
           array_agg(o->>'outcome' order by n), array_agg(o->>'note' order by n)
      into v_mark_ids, v_mark_statuses, v_mark_outcomes, v_mark_notes
      from unnest(v_out) with ordinality as u(o, n);
    perform stripe_events_mark(v_mark_ids, v_mark_statuses, v_mark_outcomes, v_mark_notes);
  end if;
  return jsonb_build_object('results', (select coalesce(jsonb_agg(o - 'note' order by n), '[]') from unnest(v_out) with ordinality as u(o, n)),
                            'untranslated', to_jsonb(v_untranslated));
end
$$;
revoke execute on function stripe_events_apply_due(integer) from public, anon, authenticated;
