-- The Make signing secret every process agrees on (issue 24). Each process signs the deliveries it
-- posts with its own MAKE_SIGNING_SECRET, and Make's scenarios check one secret: a process started with
-- an old or mistyped one would sign every delivery it posts so that the scenarios refuse it. So, as the
-- Make routes are, it is seated at start (server/make/signingSecret.ts): written when none is stored,
-- checked against what is stored otherwise, a process that differs refusing to start unless
-- MAKE_SIGNING_SECRET_OVERWRITE=true. Only a fingerprint is kept, never the secret: HMAC-SHA256 of a
-- fixed label keyed with the secret, which tells two secrets apart and gives nothing of either away.
-- One row.
create table make_signing_secret (
  id          boolean primary key default true check (id),
  fingerprint text not null check (fingerprint ~ '^[0-9a-f]{64}$'),
  updated_at  timestamptz not null default now()
);
alter table make_signing_secret enable row level security;
