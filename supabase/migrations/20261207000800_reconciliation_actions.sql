-- Reconciliation's staff actions and what 20261207000700 left out (issue 17): where a stored event came
-- from, an attempt Stripe never made anything for, and the SQL that lets one staff member at a time
-- settle a finding.

-- Where an event came from: delivered to the endpoint, or listed from Stripe's Events by the janitor's
-- step 4 (an event Stripe never delivered). Both are applied alike; the source tells staff which loop
-- caught it.
alter table stripe_events add column source text not null default 'endpoint' check (source in ('endpoint', 'backfill'));

-- Stored as before; an event without a source (every endpoint delivery) takes the column's default.
create or replace function stripe_events_store(events jsonb) returns setof text language sql as $$
  insert into stripe_events (id, type, object_type, object_id, created, livemode, api_version, payload, status, ignored_reason, facts, source)
  select e->>'id', e->>'type', e->>'object_type', e->>'object_id', to_timestamp((e->>'created')::bigint),
         (e->>'livemode')::boolean, e->>'api_version', e->'payload', e->>'status', e->>'ignored_reason', e->'facts',
         coalesce(e->>'source', 'endpoint')
    from jsonb_array_elements(events) as e
  on conflict (id) do nothing
  returning id
$$;

-- abandoned: the janitor found nothing at Stripe for an attempt left `creating` (the create never
-- reached Stripe): unlike canceled, nothing was ever payable through it.
alter table payment_attempts drop constraint payment_attempts_status_check;
alter table payment_attempts add constraint payment_attempts_status_check check (status in (
  'creating', 'open', 'succeeded', 'canceled', 'expired', 'needs_cleanup', 'abandoned'));

-- A staff member settling a finding holds it while Stripe is asked (cancel, adopt): a second one
-- pressing at the same time finds it held and is refused, rather than both acting. The hold (300 s by
-- default) outlasts one Stripe call with the SDK's retries (about 80 s), so it does not lapse mid-call.
alter table reconciliation_findings add column claim_token uuid;
alter table reconciliation_findings add column claimed_until timestamptz;

-- Holds an open finding for one staff action. p: { finding_id, token, seconds? }.
-- Returns { claimed, finding } (finding null when there is none).
create or replace function reconcile_claim_finding(p jsonb) returns jsonb language plpgsql as $$
declare
  f reconciliation_findings;
begin
  update reconciliation_findings
     set claim_token = (p->>'token')::uuid, claimed_until = now() + make_interval(secs => greatest(coalesce((p->>'seconds')::integer, 300), 300))
   where id = (p->>'finding_id')::uuid and status = 'open' and (claimed_until is null or claimed_until < now())
  returning * into f;
  if f.id is not null then
    return jsonb_build_object('claimed', true, 'finding', to_jsonb(f));
  end if;
  select * into f from reconciliation_findings where id = (p->>'finding_id')::uuid;
  return jsonb_build_object('claimed', false, 'finding', case when f.id is null then null else to_jsonb(f) end);
end
$$;

-- Lets go of a hold without resolving (Stripe could not be reached): the finding is as it was.
create or replace function reconcile_release_finding(p jsonb) returns void language sql as $$
  update reconciliation_findings set claim_token = null, claimed_until = null
   where id = (p->>'finding_id')::uuid and claim_token = (p->>'token')::uuid
$$;

-- Resolves a held finding by a staff action, with its payment_logs row, in one statement.
-- p: { finding_id, token, action, resolution, note, actor, order_id?, stripe_status? }. Returns the
-- finding, or null when it is no longer open (the janitor settled it meanwhile) or another staff
-- member holds it now. A hold that lapsed with nobody else holding it is still this caller's to close:
-- what it did at Stripe is done.
-- The payment_logs row may be readable by the order's customer (payment_logs_own_rows): it names no
-- staff member ("staff") and carries no note; the finding row and audit_log keep both.
create or replace function reconcile_staff_resolve(p jsonb) returns jsonb language plpgsql as $$
declare
  f reconciliation_findings;
  o orders;
  v_meta jsonb;
begin
  update reconciliation_findings
     set status = 'resolved', resolution = left(p->>'resolution', 1000), resolved_by = p->>'actor', resolved_at = now(),
         stripe_status = coalesce(p->>'stripe_status', stripe_status), order_id = coalesce((p->>'order_id')::uuid, order_id),
         details = details || jsonb_strip_nulls(jsonb_build_object('note', p->>'note', 'action', p->>'action')),
         claim_token = null, claimed_until = null
   where id = (p->>'finding_id')::uuid and status = 'open'
     and (claim_token = (p->>'token')::uuid or claimed_until is null or claimed_until < now())
  returning * into f;
  if f.id is null then
    return null;
  end if;
  v_meta := jsonb_build_object('finding_id', f.id, 'kind', f.kind, 'action', p->>'action',
                               'actor', case when p->>'actor' like 'staff:%' then 'staff' else p->>'actor' end,
                               'stripe_object_id', f.stripe_object_id);
  select * into o from orders where id = f.order_id;
  if o.id is not null then
    perform payment_log_for_order(o, 'reconcile.finding_resolved', p->>'action', v_meta);
  else
    insert into payment_logs (event_type, status, metadata) values ('reconcile.finding_resolved', p->>'action', v_meta);
  end if;
  return to_jsonb(f);
end
$$;

revoke execute on function stripe_events_store(jsonb) from public, anon, authenticated;
revoke execute on function reconcile_claim_finding(jsonb) from public, anon, authenticated;
revoke execute on function reconcile_release_finding(jsonb) from public, anon, authenticated;
revoke execute on function reconcile_staff_resolve(jsonb) from public, anon, authenticated;
