-- Issue 20: payment requests split among members (PAY-004). A request is a sum; each member owes a
-- share and pays it on their own, through one PaymentIntent per member, reused while it can still be
-- paid (option C).
--
-- Each share is backed by an order of its own (orders.payment_request_id set, price_id null: a share
-- is not bought at a catalog price). Its PaymentIntents are that order's payment_attempts (Stripe key
-- member_share:<member id>:<attempt>), so everything the order path already does right applies to
-- shares unchanged: the webhook applier and order_apply_payment (object order, exactly once), the
-- payments row, refunds with their guard (refundPayment on the share's order), disputes, and the
-- janitor's provisional and orphan checks. What is the request's own (member status, request status
-- and progress, the Make deliveries payment_request_completed / payment_request_reminder, and
-- add_project once for a request for a track) hangs off the share order's status changes.
--
-- Lock order, everywhere: the share's order, then its member row, then the request row. A path that
-- touches several shares (cancel, expiry) locks their orders in id order first.

-- Shares of a request with a free description (no track) are orders of this product; it is not for
-- sale (inactive, no price), so pricing and the catalog sync never show it.
insert into products (id, name, description, active, sort_order)
values ('payment_request', 'Payment request', 'A member''s share of a payment request with a free description', false, 1000)
on conflict (id) do nothing;

create table payment_requests (
  id           uuid primary key default gen_random_uuid(),
  title        text not null check (length(title) between 1 and 200),
  -- The track it buys; null for a free description.
  product_id   text references products(id),
  description  text check (length(description) <= 1000),
  currency     text not null check (currency ~ '^[a-z]{3}$'),
  -- Minor units; the members' shares sum to it (payment_request_shares_sum_to_total, at commit).
  total        bigint not null check (total > 0),
  status       text not null default 'open' check (status in ('open', 'partially_paid', 'paid', 'canceled', 'expired')),
  expires_at   timestamptz,
  -- staff:<user id>, customer:<user id> or api_key:<key id>: who may read, cancel and remind.
  created_by   text not null check (length(created_by) between 1 and 300),
  -- Shown to staff: the creator's email or the key's name.
  created_by_name text check (length(created_by_name) <= 320),
  metadata     jsonb not null default '{}'::jsonb,
  completed_at timestamptz,
  canceled_at  timestamptz,
  created_at   timestamptz not null default now(),
  updated_at   timestamptz not null default now(),
  check (product_id is not null or description is not null),
  check ((status = 'paid') = (completed_at is not null)),
  check ((status = 'canceled') = (canceled_at is not null))
);
alter table payment_requests enable row level security;
create index payment_requests_created_idx on payment_requests (created_at desc, id desc);
create index payment_requests_status_created_idx on payment_requests (status, created_at desc, id desc);
create index payment_requests_creator_created_idx on payment_requests (created_by, created_at desc, id desc);
create index payment_requests_expiring_idx on payment_requests (expires_at) where status in ('open', 'partially_paid') and expires_at is not null;

-- A share's order names its request (null for every other order), and has no catalog price.
alter table orders add column payment_request_id uuid references payment_requests(id);
alter table orders alter column price_id drop not null;
alter table orders add constraint orders_price_or_share check ((price_id is null) = (payment_request_id is not null));
create index orders_payment_request_idx on orders (payment_request_id) where payment_request_id is not null;

create table payment_request_members (
  id                 uuid primary key default gen_random_uuid(),
  payment_request_id uuid not null references payment_requests(id),
  email              text not null check (length(email) between 3 and 320),
  name               text check (length(name) <= 200),
  -- The share, in the request's currency's minor unit (pence for GBP).
  amount_pence       bigint not null check (amount_pence > 0),
  -- sha256 (hex) of the member's pay token; the token itself is never stored. A reminder replaces it.
  token_hash         text not null unique check (token_hash ~ '^[0-9a-f]{64}$'),
  status             text not null default 'pending' check (status in ('pending', 'processing', 'paid', 'failed', 'canceled', 'refunded')),
  -- PaymentIntents made for the share; a decline paid again on the same PaymentIntent does not count.
  payment_attempt_count integer not null default 0 check (payment_attempt_count >= 0),
  stripe_payment_intent_id text unique check (length(stripe_payment_intent_id) <= 255),
  -- The share's order: its payment, refunds and disputes.
  order_id           uuid not null unique references orders(id),
  paid_at            timestamptz,
  created_at         timestamptz not null default now(),
  updated_at         timestamptz not null default now()
);
alter table payment_request_members enable row level security;
create unique index payment_request_members_email_key on payment_request_members (payment_request_id, lower(email));
create index payment_request_members_request_idx on payment_request_members (payment_request_id);

-- Shares sum to the total: checked at commit, so a request and its members are written in any order
-- within one transaction (payment_request_create), and no later write can break it.
create function payment_request_shares_sum_to_total() returns trigger language plpgsql as $$
declare
  v_request uuid := case when tg_table_name = 'payment_requests' then new.id else new.payment_request_id end;
  v_total bigint;
  v_sum bigint;
begin
  select total into v_total from payment_requests where id = v_request;
  select coalesce(sum(amount_pence), 0) into v_sum from payment_request_members where payment_request_id = v_request;
  if v_total is distinct from v_sum then
    raise exception 'payment request %: shares sum to %, total is %', v_request, v_sum, v_total
      using errcode = '23514', constraint = 'payment_request_shares_sum_to_total';
  end if;
  return null;
end
$$;
revoke execute on function payment_request_shares_sum_to_total() from public, anon, authenticated;

create constraint trigger payment_request_shares_sum_to_total after insert or update of total on payment_requests
  deferrable initially deferred for each row execute function payment_request_shares_sum_to_total();
create constraint trigger payment_request_member_shares_sum_to_total after insert or update of amount_pence, payment_request_id on payment_request_members
  deferrable initially deferred for each row execute function payment_request_shares_sum_to_total();
