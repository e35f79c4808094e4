-- The price a subscription invoice billed, for the Overview's revenue by track: it took the track of the
-- subscription's price now, so a renewal paid before a later switch moved to the new track. The
-- translator names the price from the invoice's own lines (invoicePriceId in server/webhooks/translate.ts:
-- the period's charge, or a proration invoice's largest positive line, the new price's). Null for rows
-- recorded before, facts stored before, and an invoice whose lines name no price: the Overview then
-- falls back to the subscription's price, the rule before.
alter table subscription_invoices add column stripe_price_id text check (length(stripe_price_id) <= 255);

-- stripe_event_effect as 20261207001200 defined it, the invoice's price written too. A later write
-- without one (facts stored before this migration) keeps the row's.
create or replace function stripe_event_effect(f jsonb) returns jsonb language plpgsql as $$
declare
  v_result jsonb := stripe_event_effect_core(f);
  s jsonb;
  i jsonb;
begin
  if v_result->>'outcome' <> 'applied' then
    return v_result;
  end if;
  if f->>'effect' = 'subscription' then
    s := f->'subscription';
    -- Facts stored before this migration lack these fields: they leave what is kept as it is.
    if s ? 'pause_collection' then
      update subscriptions
         set current_period_start = coalesce(to_timestamp((s->>'current_period_start')::bigint), current_period_start),
             pause_behavior = s->'pause_collection'->>'behavior',
             pause_resumes_at = to_timestamp((s->'pause_collection'->>'resumes_at')::bigint)
       where id = f->'object'->>'id';
    end if;
  elsif f->>'effect' = 'invoice' and f->'invoice'->>'subscription_id' is not null and f->'invoice' ? 'amount_due' then
    i := f->'invoice';
    insert into subscription_invoices (id, subscription_id, status, amount_due, amount_paid, currency, hosted_invoice_url,
                                       period_start, period_end, stripe_created, stripe_price_id)
    values (f->'object'->>'id', i->>'subscription_id', i->>'status', (i->>'amount_due')::bigint, (i->>'amount_paid')::bigint,
            i->>'currency', i->>'hosted_invoice_url', to_timestamp((i->>'period_start')::bigint),
            to_timestamp((i->>'period_end')::bigint), coalesce(to_timestamp((i->>'invoice_created')::bigint), to_timestamp((f->>'created')::bigint)),
            i->>'price_id')
    on conflict (id) do update
      set status = excluded.status, amount_due = excluded.amount_due, amount_paid = excluded.amount_paid,
          hosted_invoice_url = coalesce(excluded.hosted_invoice_url, subscription_invoices.hosted_invoice_url),
          period_start = excluded.period_start, period_end = excluded.period_end,
          stripe_price_id = coalesce(excluded.stripe_price_id, subscription_invoices.stripe_price_id), updated_at = now();
  end if;
  return v_result;
end
$$;
revoke execute on function stripe_event_effect(jsonb) from public, anon, authenticated;
