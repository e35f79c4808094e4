-- The first paid invoice of a subscription bought through Checkout pays its order (issue 19: "the first
-- paid invoice of a new subscription forwards add_project once, as a completed checkout does").
--
-- Until now only checkout.session.completed paid a subscription's order. Stripe delivers events in any
-- order and retries a failed delivery for days: with customer.subscription.created and invoice.paid
-- applied and the session's completion not yet arrived, the customer had paid and their subscription
-- was active, but the order stayed pending and no project reached Make.
--
-- Now a paid invoice of a subscription whose order (subscriptions.order_id, from the subscription's
-- metadata) is not yet paid pays it through order_apply_payment, as the session's attempt, with the
-- invoice's amount: the same locked path, so the order's trigger forwards add_project once, and the
-- session's completion arriving later finds the order paid and changes nothing. Either may come first
-- (the invoice's row has no order; the subscription's row may come after it), so both rows' writes ask.
-- Triggers rather than a new stripe_event_effect: that wrapper (20261207001200) and its core stay as
-- they are.
create function subscription_order_pay_from_invoice(p_subscription_id text) returns void language plpgsql as $$
declare
  o orders;
  a payment_attempts;
  i subscription_invoices;
begin
  select ord.* into o from subscriptions s join orders ord on ord.id = s.order_id where s.id = p_subscription_id;
  if o.id is null or o.status not in ('pending', 'requires_action', 'processing', 'failed') then
    return;
  end if;
  select * into i from subscription_invoices
   where subscription_id = p_subscription_id and status = 'paid'
   order by stripe_created, id limit 1;
  if i.id is null then
    return;
  end if;
  -- The subscription Checkout's attempt (the session that started the subscription).
  select * into a from payment_attempts
   where order_id = o.id and kind = 'checkout_session' and stripe_object_id is not null
   order by attempt desc limit 1;
  if a.id is null then
    return;
  end if;
  perform order_apply_payment(jsonb_build_object(
    'kind', 'checkout_session', 'object_id', a.stripe_object_id, 'order_id', o.id, 'attempt', a.attempt,
    'order_status', 'paid', 'attempt_status', null, 'payment_intent_id', null, 'charge_id', null,
    'payment_status', 'succeeded', 'amount', i.amount_paid, 'currency', i.currency,
    'source', 'webhook', 'actor', 'stripe:invoice:' || i.id, 'user_id', null));
end
$$;
revoke execute on function subscription_order_pay_from_invoice(text) from public, anon, authenticated;

create function subscription_invoice_pays_order() returns trigger language plpgsql as $$
begin
  perform subscription_order_pay_from_invoice(new.subscription_id);
  return null;
end
$$;

create trigger subscription_invoice_pays_order after insert or update of status on subscription_invoices
  for each row when (new.status = 'paid') execute function subscription_invoice_pays_order();

create function subscription_order_paid_by_invoice() returns trigger language plpgsql as $$
begin
  perform subscription_order_pay_from_invoice(new.id);
  return null;
end
$$;

create trigger subscription_order_paid_by_invoice after insert or update of order_id on subscriptions
  for each row when (new.order_id is not null) execute function subscription_order_paid_by_invoice();

revoke execute on function subscription_invoice_pays_order() from public, anon, authenticated;
revoke execute on function subscription_order_paid_by_invoice() from public, anon, authenticated;
