-- When we learned that a subscription invoice was paid, for the Overview's revenue (opsActivity): it
-- counts every paid subscription invoice by the time it was paid, and until now an invoice row had only
-- Stripe's created and our updated_at (moved by every later write of the row).
--
-- paid_at is set once, when the row first becomes 'paid' (insert or update), by our clock: the same
-- clock as payment_logs.created_at, which times the orders' payments the Overview counts beside it
-- (Stripe's status_transitions.paid_at is a test clock's time in the sandbox, and the applier's facts do
-- not carry it). A row already paid before this migration takes its updated_at, the nearest time kept.
alter table subscription_invoices add column paid_at timestamptz;

update subscription_invoices set paid_at = updated_at where status = 'paid';

create function subscription_invoice_paid_at() returns trigger language plpgsql as $$
begin
  -- An update that does not name paid_at (the applier's upsert) carries the row's own: set once.
  if new.status = 'paid' and new.paid_at is null then
    new.paid_at := now();
  end if;
  return new;
end
$$;
revoke execute on function subscription_invoice_paid_at() from public, anon, authenticated;

create trigger subscription_invoice_paid_at before insert or update on subscription_invoices
  for each row execute function subscription_invoice_paid_at();

-- The Overview reads the paid invoices of a period (30 days at most) by this time.
create index subscription_invoices_paid_idx on subscription_invoices (paid_at) where status = 'paid';
