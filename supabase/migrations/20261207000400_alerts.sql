-- Which alert conditions of DESIGN.md decision 12 hold now, shared by every server process (issue 14).
--
-- The conditions themselves (thresholds, windows, messages) are defined once in server/ops/alerts.ts;
-- the alert job of each process evaluates them every minute and records the outcome here with
-- ops_alerts_record, which reports only the changes (an alert that starts or stops holding). The job
-- takes a transaction-level advisory lock before it reads the figures, so evaluations of several
-- processes are serialised: the first to see an onset records it and sends it to Sentry, the others
-- find it already holding and send nothing.

create table ops_alerts (
  code         text primary key check (code ~ '^[A-Z][A-Z0-9_]{0,63}$'),
  holding      boolean not null,
  -- holding: when the current onset was recorded; null while it does not hold.
  since        timestamptz,
  -- When it last stopped holding; null if it never did.
  resolved_at  timestamptz,
  -- How many times it started to hold.
  onsets       integer not null default 0 check (onsets >= 0),
  -- The last evaluation's message and figures (kept after it resolves, for whoever looks at the row).
  message      text check (length(message) <= 2000),
  figures      jsonb not null default '{}' check (jsonb_typeof(figures) = 'object'),
  evaluated_at timestamptz not null default now(),
  check (holding = (since is not null))
);

alter table ops_alerts enable row level security;

-- results = [{ code, holding, message, figures }]: one evaluation of the conditions. Updates every row
-- and returns one row per change: 'onset' (it did not hold and now does) or 'resolved'. The caller
-- holds the alert job's advisory lock, so no other evaluation interleaves with this one.
create function ops_alerts_record(results jsonb)
returns table (alert_code text, change text, held_since timestamptz)
language plpgsql as $$
declare
  r record;
  was_holding boolean;
begin
  for r in select * from jsonb_to_recordset(results) as x(code text, holding boolean, message text, figures jsonb) loop
    select a.holding into was_holding from ops_alerts a where a.code = r.code for update;
    if not found then
      insert into ops_alerts (code, holding, since, onsets, message, figures)
      values (r.code, r.holding, case when r.holding then now() end, case when r.holding then 1 else 0 end,
              r.message, coalesce(r.figures, '{}'));
      was_holding := false;
    else
      update ops_alerts a
         set holding = r.holding,
             since = case when not r.holding then null when was_holding then a.since else now() end,
             resolved_at = case when was_holding and not r.holding then now() else a.resolved_at end,
             onsets = a.onsets + case when r.holding and not was_holding then 1 else 0 end,
             message = r.message,
             figures = coalesce(r.figures, '{}'),
             evaluated_at = now()
       where a.code = r.code;
    end if;
    if r.holding and not was_holding then
      alert_code := r.code; change := 'onset'; held_since := now();
      return next;
    elsif was_holding and not r.holding then
      alert_code := r.code; change := 'resolved'; held_since := null;
      return next;
    end if;
  end loop;
end
$$;

revoke execute on function ops_alerts_record(jsonb) from public, anon, authenticated;
