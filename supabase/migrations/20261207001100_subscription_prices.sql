-- Issue 19: subscriptions to a track. Each track gets a monthly recurring price beside its one-time
-- price, at the same amount until the business sets another (prices stay in the database: a checkout
-- or a switch reads its amount here, never from the client). The id names the track, the currency
-- and the interval, so code and Stripe's lookup_key find it without a stored mapping.
--
-- One-time checkouts are unaffected: every path that picks a track's price for an order already asks
-- for kind = 'one_time'. The monthly price takes the one-time price's amount as it is when this runs
-- (a price changed since the seed keeps its new amount), and is active only if that one is.
insert into prices (id, product_id, currency, unit_amount, kind, recurring_interval, active)
select pr.product_id || '_' || pr.currency || '_monthly', pr.product_id, pr.currency, pr.unit_amount, 'recurring', 'month', pr.active
  from prices pr
 where pr.kind = 'one_time'
   and pr.product_id in ('business_plan_builder', 'social_media_email_campaign', 'website_audit_feedback')
   and pr.id = pr.product_id || '_' || pr.currency
on conflict (id) do nothing;
