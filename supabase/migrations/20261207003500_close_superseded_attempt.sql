-- An order paid by an object that is not its live attempt's leaves no other attempt payable.
--
-- An attempt abandoned while Stripe was making its object (a crash, or the janitor) can leave that
-- object payable at Stripe while the order goes on to attempt n+1 with an object of its own. When the
-- customer pays the late object, order_apply_payment records the money and the order is paid by it, but
-- attempt n+1 stayed `open` on the paid order with its PaymentIntent (or Session) payable: nothing closed
-- it, and a second payment was only caught afterwards, as a duplicate to refund.
--
-- Now the order moving from unpaid to paid or processing hands any live attempt (creating or open) whose
-- object is not the one paying it to the janitor's cleanup path: `needs_cleanup`, which step 2 of a pass
-- settles as it does any other (paid: applied; open: cancelled or expired with the attempt's own key;
-- nothing at Stripe: abandoned), with a checkout.attempt_needs_cleanup payment log saying why.
--
-- An attempt still `creating` (Stripe's create in flight) is handed over too: when the create returns,
-- checkout_record_attempt refuses it (55000, attempt_closed_meanwhile, migration 2800), the caller closes
-- the object at Stripe and records it on the attempt (checkout_mark_attempt takes needs_cleanup and, if
-- the janitor abandoned it meanwhile, migration 3000's abandoned-without-object case), then begins again
-- and is told the order is paid. Left `creating`, it would be recorded `open` on the paid order.
--
-- A trigger rather than another copy of order_apply_payment: every path that pays an order (the
-- storefront, webhooks, the janitor, a subscription's first invoice, an adoption) goes through it, and
-- its WHEN clause keeps it out of every other update of an order. In the normal flow the paying attempt
-- is already `succeeded` when the order is updated, and the live-attempt probe is one lookup in
-- payment_attempts_one_live_per_order that finds nothing. Lock order as everywhere: the order (held by
-- the update that fired this), then its attempts.

create or replace function order_close_superseded_attempts() returns trigger language plpgsql as $$
declare
  a payment_attempts;
  v_paid_by text := coalesce(new.payment_intent_id, new.checkout_session_id);
begin
  -- In the normal flow the paying attempt is `succeeded` by now and the order has no live attempt: one
  -- read of payment_attempts_one_live_per_order, without setting up an UPDATE that finds nothing.
  if not exists (select 1 from payment_attempts where order_id = new.id and status in ('creating', 'open')) then
    return null;
  end if;
  for a in
    update payment_attempts
       set status = 'needs_cleanup',
           last_error = left(format('the order became %s by %s, not this attempt''s object: to be closed at Stripe by the janitor', new.status, coalesce(v_paid_by, 'another object')), 1000),
           updated_at = now()
     where order_id = new.id and status in ('creating', 'open')
       -- Never the object that pays the order (a session's attempt when its PaymentIntent pays).
       and (stripe_object_id is null
            or (stripe_object_id is distinct from new.payment_intent_id and stripe_object_id is distinct from new.checkout_session_id))
    returning *
  loop
    perform payment_log_for_order(new, 'checkout.attempt_needs_cleanup', a.status, jsonb_build_object(
      'actor', 'system', 'attempt', a.attempt, 'kind', a.kind, 'stripe_object_id', a.stripe_object_id,
      'reason', 'order_paid_by_another_object', 'order_status', new.status, 'paid_by', v_paid_by));
  end loop;
  return null;
end
$$;
revoke execute on function order_close_superseded_attempts() from public, anon, authenticated;

create trigger order_close_superseded_attempts
  after update of status on orders
  for each row
  when (old.status in ('pending', 'requires_action', 'processing', 'failed')
        and new.status in ('paid', 'processing') and old.status is distinct from new.status)
  execute function order_close_superseded_attempts();
