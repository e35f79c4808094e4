-- Retention (seed 001, issue 14): what the business keeps, and for how long.
--
--   payment_logs              24 months, then deleted
--   idempotency_keys          7 days, then deleted (Stripe keeps its own 24 hours; a client retrying a
--                             week later is making a new request)
--   stripe_events payloads    90 days, then dropped: the row (id, type, object, status, outcome, times)
--                             stays as the record that the event arrived and what it did; the payload
--                             and the facts translated from it (customer details) go
--   make_delivery_attempts    90 days after their delivery was delivered, then deleted; the delivery
--                             row stays (its dedupe key keeps a late repeat from provisioning twice),
--                             and a pending, delivering or dead delivery keeps every attempt
--
-- One function per table removes one batch of rows older than a cut-off the caller gives, so each batch
-- is its own short transaction holding few row locks, and the cut-off comes from the caller's clock
-- (tests move it; the database's now() cannot be moved). The server's retention job
-- (server/retention/) calls them in a loop with the RETENTION_* settings. Rows are picked with
-- FOR UPDATE SKIP LOCKED, so several processes (or pg_cron beside the server) running at once split
-- the work instead of waiting on each other, and a row a request is writing is left for the next run.
--
-- Where pg_cron is installed (Supabase), the procedure retention_run, which calls the same functions
-- with the defaults and commits after every batch, is scheduled daily. Elsewhere (PGlite, plain
-- PostgreSQL) nothing is scheduled and the server's job does the work.

-- The payload goes, the row stays: payload is null exactly when retention dropped it.
alter table stripe_events alter column payload drop not null;

-- Each function finds its next batch through an index on the age column; the partial indexes hold only
-- what is still to be removed, so a run over an already-trimmed table reads next to nothing.
create index stripe_events_payload_retention_idx on stripe_events (received_at) where payload is not null and status <> 'received';
create index make_delivery_attempts_finished_idx on make_delivery_attempts (finished_at);
-- payment_logs (created_at desc, id desc) and idempotency_keys (created_at) already have one.

create function retention_delete_payment_logs(p_before timestamptz, p_limit integer) returns integer language plpgsql as $$
declare
  v_count integer;
begin
  delete from payment_logs
   where id in (select id from payment_logs where created_at < p_before
                 order by created_at limit p_limit for update skip locked);
  get diagnostics v_count = row_count;
  return v_count;
end
$$;

create function retention_delete_idempotency_keys(p_before timestamptz, p_limit integer) returns integer language plpgsql as $$
declare
  v_count integer;
begin
  delete from idempotency_keys k
   using (select scope, key from idempotency_keys where created_at < p_before
           order by created_at limit p_limit for update skip locked) old
   where k.scope = old.scope and k.key = old.key;
  get diagnostics v_count = row_count;
  return v_count;
end
$$;

-- An event still waiting to be applied (received) keeps its payload whatever its age: the applier needs
-- it. Applied, ignored and failed events lose it; a staff replay of one is refused with a typed error
-- (stripe_event_replay below), as Stripe's own Events list keeps an event for 30 days only.
create function retention_drop_webhook_payloads(p_before timestamptz, p_limit integer) returns integer language plpgsql as $$
declare
  v_count integer;
begin
  update stripe_events e
     set payload = null, facts = null
    from (select id from stripe_events where received_at < p_before and payload is not null and status <> 'received'
           order by received_at limit p_limit for update skip locked) old
   where e.id = old.id;
  get diagnostics v_count = row_count;
  return v_count;
end
$$;

-- Only attempts of deliveries that are delivered, and delivered before the cut-off, so a delivery's
-- history goes whole or not at all. The delivery row is locked too (SKIP LOCKED), so a staff replay
-- that is making it pending again either waits for this batch or is skipped by it.
create function retention_delete_make_attempts(p_before timestamptz, p_limit integer) returns integer language plpgsql as $$
declare
  v_count integer;
begin
  delete from make_delivery_attempts a
   using (select a2.delivery_id, a2.attempt
            from make_delivery_attempts a2
            join make_deliveries d on d.id = a2.delivery_id
           where a2.finished_at < p_before and d.status = 'delivered' and d.delivered_at < p_before
           order by a2.finished_at limit p_limit for update skip locked) old
   where a.delivery_id = old.delivery_id and a.attempt = old.attempt;
  get diagnostics v_count = row_count;
  return v_count;
end
$$;

-- The limits the servers run with (RETENTION_*), written by each server at start, so that pg_cron's run
-- below keeps what the operator configured and not the defaults: with a longer limit set for
-- compliance, the scheduled run must not delete what the server's own job keeps. One row.
create table retention_settings (
  id boolean primary key default true check (id),
  payment_logs_days integer not null check (payment_logs_days > 0),
  idempotency_keys_days integer not null check (idempotency_keys_days > 0),
  webhook_payload_days integer not null check (webhook_payload_days > 0),
  make_attempts_days integer not null check (make_attempts_days > 0),
  batch_size integer not null check (batch_size > 0),
  updated_at timestamptz not null default now()
);
alter table retention_settings enable row level security;

-- Every table, batch after batch, committing after each batch. For pg_cron (CALL outside a transaction
-- block, so COMMIT is allowed); the server's job calls the functions above itself, with its settings.
-- A limit not given is the one retention_settings holds, else the RETENTION_* default of server/config.ts.
create procedure retention_run(
  p_payment_logs_days integer default null,
  p_idempotency_keys_days integer default null,
  p_webhook_payload_days integer default null,
  p_make_attempts_days integer default null,
  p_batch_size integer default null
) language plpgsql as $$
declare
  v_count integer;
  s retention_settings%rowtype;
begin
  select * into s from retention_settings;
  p_payment_logs_days := coalesce(p_payment_logs_days, s.payment_logs_days, 730);
  p_idempotency_keys_days := coalesce(p_idempotency_keys_days, s.idempotency_keys_days, 7);
  p_webhook_payload_days := coalesce(p_webhook_payload_days, s.webhook_payload_days, 90);
  p_make_attempts_days := coalesce(p_make_attempts_days, s.make_attempts_days, 90);
  p_batch_size := coalesce(p_batch_size, s.batch_size, 1000);
  loop
    v_count := retention_delete_payment_logs(now() - make_interval(days => p_payment_logs_days), p_batch_size);
    commit;
    exit when v_count < p_batch_size;
  end loop;
  loop
    v_count := retention_delete_idempotency_keys(now() - make_interval(days => p_idempotency_keys_days), p_batch_size);
    commit;
    exit when v_count < p_batch_size;
  end loop;
  loop
    v_count := retention_drop_webhook_payloads(now() - make_interval(days => p_webhook_payload_days), p_batch_size);
    commit;
    exit when v_count < p_batch_size;
  end loop;
  loop
    v_count := retention_delete_make_attempts(now() - make_interval(days => p_make_attempts_days), p_batch_size);
    commit;
    exit when v_count < p_batch_size;
  end loop;
end
$$;

revoke execute on function retention_delete_payment_logs(timestamptz, integer) from public, anon, authenticated;
revoke execute on function retention_delete_idempotency_keys(timestamptz, integer) from public, anon, authenticated;
revoke execute on function retention_drop_webhook_payloads(timestamptz, integer) from public, anon, authenticated;
revoke execute on function retention_delete_make_attempts(timestamptz, integer) from public, anon, authenticated;
revoke execute on procedure retention_run(integer, integer, integer, integer, integer) from public, anon, authenticated;

-- A replay needs the payload (the applier translates it again). One whose payload retention dropped is
-- refused with 'payload_dropped' before anything changes or the key is recorded, so the same key may
-- be used again and the event stays as it was. Otherwise as in 20261122000700.
-- p: { event_id, actor, scope, key, request_hash }
-- Returns { outcome: 'done' | 'repeat' | 'not_found' | 'conflict' | 'payload_dropped', operation? }.
create or replace function stripe_event_replay(p jsonb) returns jsonb language plpgsql as $$
declare
  k idempotency_keys;
  v_exists boolean;
  v_has_payload boolean;
begin
  -- The event's lock serialises two calls with one key, so the second sees the first's key.
  select payload is not null into v_has_payload from stripe_events where id = p->>'event_id' for update;
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
  if not v_has_payload then
    return jsonb_build_object('outcome', 'payload_dropped');
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

-- pg_cron (Supabase: Database > Extensions): the retention run daily at 03:17 UTC, a quiet hour, under
-- a fixed job name (cron.schedule with a name replaces an earlier job of that name). Checked by the
-- function's presence rather than pg_extension, as a Supabase project exposes it in the cron schema.
-- With pg_cron enabled after this migration ran, schedule it the same way by hand (README: Retention).
do $$
begin
  if to_regprocedure('cron.schedule(text, text, text)') is not null then
    perform cron.schedule('payments-ops-retention', '17 3 * * *', 'call public.retention_run()');
  end if;
end
$$;
