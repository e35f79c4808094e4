-- Reconciliation (issue 17, DESIGN.md decisions 4 and 5): the janitor's runs, what it finds for a
-- person to see, the cursors it resumes from, and each order's re-check schedule.

-- The janitor re-checks a provisional order on a backed-off schedule (seed 002): how often it asked
-- Stripe about it, and when last.
alter table orders add column sync_attempts integer not null default 0 check (sync_attempts >= 0);
alter table orders add column last_sync_at timestamptz;
create index orders_provisional_idx on orders (last_sync_at nulls first, id) where sync_state = 'provisional';

create table reconciliation_runs (
  id uuid primary key default gen_random_uuid(),
  trigger text not null check (trigger in ('schedule', 'manual', 'cli')),
  actor text not null check (length(actor) between 1 and 200),
  status text not null default 'running' check (status in ('running', 'succeeded', 'failed')),
  started_at timestamptz not null default now(),
  -- Touched as the pass goes: a running row whose process died stops being touched and is taken over.
  heartbeat_at timestamptz not null default now(),
  finished_at timestamptz,
  counters jsonb not null default '{}',
  error text check (length(error) <= 2000)
);
-- The lock across processes: at most one running pass per database.
create unique index reconciliation_runs_one_running on reconciliation_runs ((true)) where status = 'running';
create index reconciliation_runs_started_idx on reconciliation_runs (started_at desc, id desc);
alter table reconciliation_runs enable row level security;

create table reconciliation_findings (
  id uuid primary key default gen_random_uuid(),
  kind text not null check (kind in ('PROVISIONAL_TOO_LONG', 'ATTEMPT_WITHOUT_OBJECT', 'NEEDS_CLEANUP', 'STRIPE_WITHOUT_RECORD', 'AMOUNT_MISMATCH')),
  -- What it is about: a Stripe object, an order, or both; the key makes one open finding per thing.
  subject text not null check (length(subject) between 1 and 300),
  stripe_object_id text,
  stripe_status text,
  amount bigint,
  currency text check (currency ~ '^[a-z]{3}$'),
  order_id uuid references orders (id),
  status text not null default 'open' check (status in ('open', 'resolved')),
  resolution text check (length(resolution) <= 1000),
  resolved_by text,
  resolved_at timestamptz,
  first_seen_at timestamptz not null default now(),
  last_checked_at timestamptz not null default now(),
  checks integer not null default 1,
  next_check_at timestamptz,
  run_id uuid references reconciliation_runs (id),
  details jsonb not null default '{}'
);
create unique index reconciliation_findings_one_open on reconciliation_findings (kind, subject) where status = 'open';
create index reconciliation_findings_first_seen_idx on reconciliation_findings (first_seen_at desc, id desc);
alter table reconciliation_findings enable row level security;

-- Where steps 3 and 4 resume: advanced only by a pass that succeeded.
create table reconciliation_cursors (
  name text primary key check (name in ('payment_intents', 'checkout_sessions', 'events')),
  position timestamptz not null,
  updated_at timestamptz not null default now()
);
alter table reconciliation_cursors enable row level security;

-- Claims the one running pass: a new running row, or (another is running) that one with busy = true.
-- A running row not touched for p.stale_seconds belonged to a process that died: it is failed first.
create or replace function reconcile_begin_run(p jsonb) returns jsonb language plpgsql as $$
declare
  r reconciliation_runs;
begin
  update reconciliation_runs set status = 'failed', finished_at = now(), error = 'abandoned: its process stopped touching it'
   where status = 'running' and heartbeat_at < now() - make_interval(secs => coalesce((p->>'stale_seconds')::integer, 900));
  insert into reconciliation_runs (trigger, actor) values (p->>'trigger', p->>'actor')
  on conflict do nothing
  returning * into r;
  if r.id is not null then
    return jsonb_build_object('busy', false, 'run', to_jsonb(r));
  end if;
  select * into r from reconciliation_runs where status = 'running';
  return jsonb_build_object('busy', true, 'run', to_jsonb(r));
end
$$;

-- Ends a pass: its status, counters and error; the cursors move only with a pass that succeeded, in
-- the same statement, so a failed pass leaves them where the next one must start.
create or replace function reconcile_finish_run(p jsonb) returns reconciliation_runs language plpgsql as $$
declare
  r reconciliation_runs;
  c record;
begin
  update reconciliation_runs
     set status = p->>'status', finished_at = now(), heartbeat_at = now(),
         counters = coalesce(p->'counters', counters), error = left(p->>'error', 2000)
   where id = (p->>'run_id')::uuid and status = 'running'
   returning * into r;
  if r.id is not null and r.status = 'succeeded' then
    for c in select key, value from jsonb_each_text(coalesce(p->'cursors', '{}')) loop
      insert into reconciliation_cursors (name, position) values (c.key, c.value::timestamptz)
      on conflict (name) do update set position = greatest(reconciliation_cursors.position, excluded.position), updated_at = now();
    end loop;
  end if;
  return r;
end
$$;

-- Records (or re-sees) a finding: one open row per kind and subject, its checks counted.
create or replace function reconcile_record_finding(p jsonb) returns reconciliation_findings language plpgsql as $$
declare
  f reconciliation_findings;
begin
  insert into reconciliation_findings (kind, subject, stripe_object_id, stripe_status, amount, currency, order_id, run_id, next_check_at, details)
  values (p->>'kind', p->>'subject', p->>'stripe_object_id', p->>'stripe_status', (p->>'amount')::bigint, p->>'currency',
          (p->>'order_id')::uuid, (p->>'run_id')::uuid, (p->>'next_check_at')::timestamptz, coalesce(p->'details', '{}'))
  on conflict (kind, subject) where status = 'open' do update
    set checks = reconciliation_findings.checks + 1, last_checked_at = now(), run_id = excluded.run_id,
        stripe_status = excluded.stripe_status, next_check_at = excluded.next_check_at
  returning * into f;
  return f;
end
$$;

-- Closes the open finding of a subject the janitor settled (paid, adopted, cancelled).
create or replace function reconcile_resolve_finding(p jsonb) returns integer language plpgsql as $$
declare
  n integer;
begin
  update reconciliation_findings
     set status = 'resolved', resolution = p->>'resolution', resolved_by = p->>'actor', resolved_at = now(), run_id = (p->>'run_id')::uuid
   where subject = p->>'subject' and status = 'open' and (p->>'kind' is null or kind = p->>'kind');
  get diagnostics n = row_count;
  return n;
end
$$;

revoke all on table reconciliation_runs, reconciliation_findings, reconciliation_cursors from anon, authenticated;
revoke execute on function reconcile_begin_run(jsonb) from public, anon, authenticated;
revoke execute on function reconcile_finish_run(jsonb) from public, anon, authenticated;
revoke execute on function reconcile_record_finding(jsonb) from public, anon, authenticated;
revoke execute on function reconcile_resolve_finding(jsonb) from public, anon, authenticated;
