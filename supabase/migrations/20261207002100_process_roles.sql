-- Web and worker processes on one database (issue 24, docs/scaling.md).
--
-- A web process stores Stripe events and runs no jobs: the worker that applies them may be another
-- process. Every insert of events to apply NOTIFYs stripe_events; PostgreSQL sends it at commit (and
-- drops it on rollback), so a worker LISTENing there is woken only once the events can be read. The
-- workers still poll on a timer, behind a NOTIFY lost with a connection.
--
-- A statement trigger with the inserted rows as a transition table: one NOTIFY per stored batch, none
-- for a batch of repeats (ON CONFLICT DO NOTHING inserts nothing) or of ignored events alone.
create function stripe_events_notify() returns trigger language plpgsql as $$
begin
  if exists (select 1 from stored_events where status = 'received') then
    perform pg_notify('stripe_events', '');
  end if;
  return null;
end
$$;

create trigger stripe_events_wake_workers
  after insert on stripe_events
  referencing new table as stored_events
  for each statement execute function stripe_events_notify();

revoke execute on function stripe_events_notify() from public, anon, authenticated;
