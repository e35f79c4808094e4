-- The first schema: catalogue, customers, orders, payments, the payment log, the audit log and API keys.
-- Amounts are integers in the currency's minor unit (cents for USD) with a lower-case ISO currency code.

create table products (
  id          text primary key check (id ~ '^[a-z][a-z0-9_]{1,62}$'),  -- the product track's slug
  name        text not null check (length(name) between 1 and 200),
  description text not null default '',
  active      boolean not null default true,
  sort_order  integer not null default 0,
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now()
);

create table prices (
  id                 text primary key check (id ~ '^[a-z][a-z0-9_]{1,62}$'),
  product_id         text not null references products (id),
  currency           text not null check (currency ~ '^[a-z]{3}$'),
  unit_amount        bigint not null check (unit_amount >= 0),
  kind               text not null default 'one_time' check (kind in ('one_time', 'recurring')),
  recurring_interval text check (recurring_interval in ('day', 'week', 'month', 'year')),
  stripe_price_id    text unique,
  active             boolean not null default true,
  created_at         timestamptz not null default now(),
  check ((kind = 'recurring') = (recurring_interval is not null))
);
create index prices_product_id_idx on prices (product_id) where active;

create table customers (
  id                 uuid primary key default gen_random_uuid(),
  user_id            uuid unique,           -- the Supabase Auth user, when the customer has an account
  email              text not null check (email ~ '^[^@\s]+@[^@\s]+$' and length(email) <= 320),
  name               text check (length(name) <= 200),
  stripe_customer_id text unique,
  created_at         timestamptz not null default now(),
  updated_at         timestamptz not null default now()
);
create unique index customers_email_key on customers (lower(email));

create table orders (
  id                  uuid primary key default gen_random_uuid(),
  customer_id         uuid not null references customers (id),
  product_id          text not null references products (id),
  price_id            text not null references prices (id),
  amount              bigint not null check (amount >= 0),
  currency            text not null check (currency ~ '^[a-z]{3}$'),
  status              text not null default 'pending' check (status in (
                        'pending', 'requires_action', 'processing', 'paid', 'failed', 'canceled',
                        'refunded', 'partially_refunded', 'disputed')),
  -- How far our record agrees with Stripe: provisional (seen by the storefront's confirm call),
  -- confirmed (by the webhook or the janitor), failed (could not be settled; staff must look).
  sync_state          text check (sync_state in ('provisional', 'confirmed', 'failed')),
  checkout_session_id text unique,
  payment_intent_id   text unique,
  metadata            jsonb not null default '{}'::jsonb,
  created_at          timestamptz not null default now(),
  updated_at          timestamptz not null default now()
);
create index orders_created_idx on orders (created_at desc, id desc);
create index orders_customer_created_idx on orders (customer_id, created_at desc, id desc);
create index orders_status_created_idx on orders (status, created_at desc, id desc);

create table payments (
  id                       uuid primary key default gen_random_uuid(),
  order_id                 uuid not null references orders (id),
  stripe_payment_intent_id text not null unique,
  stripe_charge_id         text unique,
  amount                   bigint not null check (amount >= 0),
  amount_refunded          bigint not null default 0 check (amount_refunded >= 0 and amount_refunded <= amount),
  currency                 text not null check (currency ~ '^[a-z]{3}$'),
  status                   text not null,       -- the PaymentIntent's status as Stripe last told us
  last_event_created       timestamptz,         -- object order: the newest Stripe event applied
  created_at               timestamptz not null default now(),
  updated_at               timestamptz not null default now()
);
create index payments_order_id_idx on payments (order_id);
create index payments_created_idx on payments (created_at desc, id desc);

create table payment_logs (
  id          bigint generated always as identity primary key,
  event_type  text not null check (length(event_type) between 1 and 100),
  user_id     uuid,                 -- the Supabase Auth user the row belongs to, if any
  customer_id uuid references customers (id),
  order_id    uuid references orders (id),
  amount      bigint,
  currency    text check (currency ~ '^[a-z]{3}$'),
  status      text not null,
  metadata    jsonb not null default '{}'::jsonb,
  created_at  timestamptz not null default now(),
  check ((amount is null) = (currency is null))
);
-- The console lists newest first with keyset pagination on (created_at, id), overall and filtered.
create index payment_logs_created_idx on payment_logs (created_at desc, id desc);
create index payment_logs_type_created_idx on payment_logs (event_type, created_at desc, id desc);
create index payment_logs_status_created_idx on payment_logs (status, created_at desc, id desc);
create index payment_logs_customer_created_idx on payment_logs (customer_id, created_at desc, id desc);
create index payment_logs_user_created_idx on payment_logs (user_id, created_at desc, id desc);
create index payment_logs_order_idx on payment_logs (order_id);

create table audit_log (
  id          bigint generated always as identity primary key,
  actor_type  text not null check (actor_type in ('staff', 'api_key', 'system')),
  actor_id    text not null,
  action      text not null,
  target_type text,
  target_id   text,
  details     jsonb not null default '{}'::jsonb,
  request_id  text,
  created_at  timestamptz not null default now()
);
create index audit_log_created_idx on audit_log (created_at desc, id desc);

-- Machine clients' keys. Only a SHA-256 of the key is kept: a key is 32 random bytes, so a fast hash
-- is enough (no password stretching needed) and lookups stay one index probe.
create table api_keys (
  id           uuid primary key default gen_random_uuid(),
  name         text not null check (length(name) between 1 and 100),
  scope        text not null check (scope in ('storefront', 'make')),
  prefix       text not null,        -- the key's first characters, to recognise it in lists
  key_hash     text not null unique check (key_hash ~ '^[0-9a-f]{64}$'),
  created_at   timestamptz not null default now(),
  last_used_at timestamptz,
  revoked_at   timestamptz
);

-- Row-level security. The server connects as the tables' owner and is not subject to it; it is the
-- guard for Supabase's `authenticated` role (a customer's browser talking to the Data API), which
-- sees only its own orders and log rows and nothing else.
alter table products enable row level security;
alter table prices enable row level security;
alter table customers enable row level security;
alter table orders enable row level security;
alter table payments enable row level security;
alter table payment_logs enable row level security;
alter table audit_log enable row level security;
alter table api_keys enable row level security;

grant select on products, prices, orders, payment_logs, customers to authenticated;
grant select on products, prices to anon;

create policy products_public_read on products for select to anon, authenticated using (active);
create policy prices_public_read on prices for select to anon, authenticated using (active);
create policy customers_own_row on customers for select to authenticated using (user_id = auth.uid());
create policy orders_own_rows on orders for select to authenticated
  using (customer_id in (select c.id from customers c where c.user_id = auth.uid()));
create policy payment_logs_own_rows on payment_logs for select to authenticated using (user_id = auth.uid());

-- Seed: the three product tracks and their prices.
insert into products (id, name, description, sort_order) values
  ('business_plan_builder', 'Business Plan Builder', 'A complete, investor-ready business plan built with you.', 1),
  ('social_media_email_campaign', 'Social Media & Email Campaign', 'A month of social posts and an email campaign, planned and written.', 2),
  ('website_audit_feedback', 'Website Audit & Feedback', 'A review of your website with prioritised, actionable feedback.', 3);

insert into prices (id, product_id, currency, unit_amount) values
  ('business_plan_builder_usd', 'business_plan_builder', 'usd', 9900),
  ('social_media_email_campaign_usd', 'social_media_email_campaign', 'usd', 4900),
  ('website_audit_feedback_usd', 'website_audit_feedback', 'usd', 7900);
