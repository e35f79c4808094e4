-- Stripe webhook events (DESIGN.md decision 6): verified, stored once by event id, acknowledged, then
-- applied by a worker. This migration holds what the endpoint writes; the applier's state lives on the
-- same rows (status, attempts, next_attempt_at, last_error, applied_at).

create table stripe_events (
  id             text primary key check (id ~ '^evt_[A-Za-z0-9_]{1,250}$'),
  type           text not null check (length(type) between 1 and 100),
  object_type    text check (length(object_type) <= 100),
  object_id      text check (length(object_id) <= 255),
  created        timestamptz not null,           -- the event's own `created`, for object order
  livemode       boolean not null,
  api_version    text check (length(api_version) <= 50),
  payload        jsonb not null,
  -- received: waiting to be applied; applied; ignored: stored only (a type we do not handle, the
  -- wrong mode, an object that is not ours); failed: gave up after the configured attempts.
  status         text not null default 'received' check (status in ('received', 'applied', 'ignored', 'failed')),
  ignored_reason text check (length(ignored_reason) <= 200),
  attempts       integer not null default 0 check (attempts >= 0),
  next_attempt_at timestamptz not null default now(),
  last_error     text check (length(last_error) <= 2000),
  received_at    timestamptz not null default now(),
  applied_at     timestamptz
);
-- The applier's queue: what is due, oldest first.
create index stripe_events_due_idx on stripe_events (next_attempt_at) where status = 'received';
-- The console lists newest first with keyset pagination, overall and by status, type or object.
create index stripe_events_created_idx on stripe_events (created desc, id desc);
create index stripe_events_status_created_idx on stripe_events (status, created desc, id desc);
create index stripe_events_type_created_idx on stripe_events (type, created desc, id desc);
create index stripe_events_object_created_idx on stripe_events (object_id, created desc, id desc);

alter table stripe_events enable row level security;

-- Stores a batch of verified events in one statement: the endpoint groups concurrent deliveries into
-- one commit. Returns the ids that were new; a repeat of a known id stores nothing.
-- events: [{ id, type, object_type, object_id, created (unix seconds), livemode, api_version, payload,
--            status, ignored_reason }]
create function stripe_events_store(events jsonb) returns setof text language sql as $$
  insert into stripe_events (id, type, object_type, object_id, created, livemode, api_version, payload, status, ignored_reason)
  select e->>'id', e->>'type', e->>'object_type', e->>'object_id', to_timestamp((e->>'created')::bigint),
         (e->>'livemode')::boolean, e->>'api_version', e->'payload', e->>'status', e->>'ignored_reason'
    from jsonb_array_elements(events) as e
  on conflict (id) do nothing
  returning id
$$;

revoke execute on function stripe_events_store(jsonb) from public, anon, authenticated;
