// The hosted Checkout page a person (or a browser test) pays on, at a session's `url`:
//   GET  /checkout/<id>               the payment form (test card pre-filled)
//   POST /checkout/<id>               pay: card_number, email (and name) as a form
//   GET  /checkout/<id>/authenticate  3-D Secure challenge for a card that requires it
//   POST /checkout/<id>/authenticate  outcome=complete|fail
// Paying creates and confirms a PaymentIntent exactly as the API would, emits the same events, then
// completes the session (`checkout.session.completed`) and redirects to `success_url` with
// `{CHECKOUT_SESSION_ID}` filled in. A decline shows the card error and leaves the session open.
import type Stripe from 'stripe';
import type { SandboxCore } from '../core';
import { StripeApiError } from '../errors';
import { newId } from '../ids';
import type { Params } from '../params';
import type { RouteContext } from '../router';
import {
  checkoutSessions,
  emptyCustomerDetails,
  sessionInternals,
} from './checkoutSessions';
import { createCustomer } from './customers';
import { createPaymentIntent } from './paymentIntents';
import { completeThreeDSecure, confirmPaymentIntent } from './paymentIntents.machine';
import { paymentMethodForCardNumber, TEST_PAYMENT_METHODS } from './paymentMethods';
import { createSubscription } from './subscriptions';

type Session = Stripe.Checkout.Session;

export const HOSTED_PAGE_PREFIX = '/checkout/';

export async function handleHostedPage(core: SandboxCore, request: Request, url: URL): Promise<Response> {
  const [id = '', action = '', ...extra] = decodeURIComponent(url.pathname.slice(HOSTED_PAGE_PREFIX.length)).split('/');
  const method = request.method.toUpperCase();
  if (extra.length > 0 || (action !== '' && action !== 'authenticate') || (method !== 'GET' && method !== 'POST' && method !== 'HEAD')) {
    return html(messagePage('Page not found', 'There is nothing at this address.'), 404);
  }
  const session = checkoutSessions(core).get(id);
  if (!session) return html(messagePage('Checkout session not found', 'This checkout link is invalid. Check the address, or start the checkout again from the shop.'), 404);
  if (session.status === 'expired') {
    return html(messagePage('This checkout session has expired', 'The time to pay on this page has run out. Go back to the shop to start a new checkout.', session.cancel_url), 410);
  }
  if (session.status === 'complete') {
    return html(messagePage('Payment complete', 'This checkout session is already paid. Thank you!', session.success_url ? successUrl(session) : null, 'Continue'), 200);
  }
  const ctx = pageContext(core);
  try {
    if (action === 'authenticate') {
      return method === 'POST' ? await finishAuthentication(ctx, session, new URLSearchParams(await request.text())) : authenticationPage(ctx, session);
    }
    if (method === 'POST') return await pay(ctx, session, new URLSearchParams(await request.text()));
    return html(paymentPage(session, {}), 200);
  } catch (error) {
    if (error instanceof StripeApiError) return html(paymentPage(session, { error: error.body.message }), error.status);
    core.log(`sandbox: checkout page error: ${(error as Error).stack ?? String(error)}`);
    return html(messagePage('Something went wrong', 'The sandbox could not process this payment. See the server log.'), 500);
  }
}

/** Changes made on the hosted page are not API requests: their events carry `request.id: null`. */
function pageContext(core: SandboxCore): RouteContext {
  return {
    core,
    params: {},
    path: {},
    requestId: newId('req', 14),
    idempotencyKey: null,
    // RouteContext types the request id as a string; Stripe sends null for changes made outside the API.
    eventRequest: { id: null as unknown as string, idempotency_key: null },
  };
}

interface FormState {
  error?: string;
  email?: string;
  name?: string;
  cardNumber?: string;
}

async function pay(ctx: RouteContext, session: Session, form: URLSearchParams): Promise<Response> {
  const email = (form.get('email') ?? '').trim();
  const name = (form.get('name') ?? '').trim();
  const cardNumber = (form.get('card_number') ?? '').replace(/[\s-]/g, '');
  const state: FormState = { email, name, cardNumber: form.get('card_number') ?? '' };
  if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) return html(paymentPage(session, { ...state, error: 'Enter a valid email address.' }), 400);
  if (!/^\d{12,19}$/.test(cardNumber)) return html(paymentPage(session, { ...state, error: 'Your card number is incomplete.' }), 400);

  const paymentMethod = paymentMethodForCardNumber(cardNumber);
  if (!paymentMethod) return html(paymentPage(session, { ...state, error: 'Your card number is invalid. Use one of Stripe’s test cards.' }), 400);

  if (session.mode === 'subscription') return subscribe(ctx, session, paymentMethod, state);

  // Payment mode. Stripe creates a Customer only with customer_creation=always; otherwise the
  // payment is a guest payment and the session's customer stays null.
  const core = ctx.core;
  let customerId = typeof session.customer === 'string' ? session.customer : (session.customer?.id ?? null);
  if (!customerId && session.customer_creation === 'always') {
    customerId = createCustomer(ctx, { email, ...(name ? { name } : {}) }).id;
    session.customer = customerId;
  }

  // A retry after a decline reuses the session's PaymentIntent, as at Stripe.
  let intent = paymentIntentOf(core, session);
  if (!intent || intent.status !== 'requires_payment_method') {
    const extra = sessionInternals(session).paymentIntentData;
    const params: Params = {
      ...extra,
      amount: String(session.amount_total ?? 0),
      currency: session.currency ?? 'usd',
      ...(customerId ? { customer: customerId } : {}),
      receipt_email: typeof extra.receipt_email === 'string' ? extra.receipt_email : email,
    };
    intent = createPaymentIntent(ctx, params);
    session.payment_intent = intent.id;
  }
  try {
    intent = confirmPaymentIntent(ctx, intent, paymentMethod);
  } catch (error) {
    // A module may also throw the card error the API returns; show it like a returned decline.
    if (error instanceof StripeApiError && error.body.type === 'card_error') return html(paymentPage(session, { ...state, error: error.body.message }), 402);
    throw error;
  }
  session.customer_details = { ...emptyCustomerDetails(email), name: name || null };
  return afterConfirmation(ctx, session, intent, state);
}

/**
 * Subscription mode: a Customer (the session's, or a new one), then the subscription with the card
 * as its default payment method; its first invoice is paid at once. A declined test card is refused
 * before anything is created, and shows the card error.
 */
function subscribe(ctx: RouteContext, session: Session, paymentMethod: string, state: FormState): Response {
  const email = state.email ?? '';
  const name = state.name ?? '';
  const extra = sessionInternals(session).subscriptionData;
  const items = sessionInternals(session).lineItems.map((li) => {
    const price = li.price!;
    // Inline (price_data) prices are inactive, and subscriptions accept only active price ids:
    // pass inline ones as price_data again.
    const entry: Params = price.active
      ? { price: price.id }
      : {
          price_data: {
            currency: price.currency,
            unit_amount: String(price.unit_amount),
            product: typeof price.product === 'string' ? price.product : price.product.id,
            recurring: { interval: price.recurring!.interval, interval_count: String(price.recurring!.interval_count) },
          },
        };
    return { ...entry, quantity: String(li.quantity ?? 1) };
  });
  // A declined card is refused before anything is created.
  const behaviour = TEST_PAYMENT_METHODS[paymentMethod]?.behaviour;
  if (behaviour?.kind === 'decline') return html(paymentPage(session, { ...state, error: behaviour.message }), 402);
  let customerId = typeof session.customer === 'string' ? session.customer : (session.customer?.id ?? null);
  if (!customerId) customerId = createCustomer(ctx, { email, ...(name ? { name } : {}) }).id;
  const subscription = createSubscription(ctx, { ...extra, items, customer: customerId, default_payment_method: paymentMethod, payment_behavior: 'error_if_incomplete' });
  session.customer = customerId;
  session.subscription = subscription.id;
  session.invoice = typeof subscription.latest_invoice === 'string' ? subscription.latest_invoice : (subscription.latest_invoice?.id ?? null);
  session.customer_details = { ...emptyCustomerDetails(email), name: name || null };
  completeSession(ctx, session, subscription.status === 'trialing' ? 'no_payment_required' : 'paid');
  return redirect(successUrl(session), session);
}

function paymentIntentOf(core: SandboxCore, session: Session): Stripe.PaymentIntent | undefined {
  const id = typeof session.payment_intent === 'string' ? session.payment_intent : session.payment_intent?.id;
  return id ? (core.store.find(id) as Stripe.PaymentIntent | undefined) : undefined;
}

function afterConfirmation(ctx: RouteContext, session: Session, intent: Stripe.PaymentIntent, state: FormState): Response {
  switch (intent.status) {
    case 'succeeded':
    case 'requires_capture':
      completeSession(ctx, session, 'paid');
      return redirect(successUrl(session), session);
    case 'processing':
      // An asynchronous payment: the session completes unpaid, and a later
      // checkout.session.async_payment_succeeded (or _failed) tells the outcome.
      completeSession(ctx, session, 'unpaid');
      return redirect(successUrl(session), session);
    case 'requires_action':
      return Response.redirect(`${ctx.core.publicUrl}${HOSTED_PAGE_PREFIX}${session.id}/authenticate`, 303);
    default: {
      // Like Stripe's page: a card_error's message is written for the customer and shown as is; any
      // other error's (a failed 3-D Secure is an invalid_request_error telling a developer to "provide
      // payment_method_data") is not, so the customer gets words of the page's own.
      const error = intent.last_payment_error;
      const message =
        error?.type === 'card_error' && error.message
          ? error.message
          : error?.code === 'payment_intent_authentication_failure'
            ? 'Your card failed authentication with your bank. Try again, or choose another payment method.'
            : 'Your card was declined.';
      return html(paymentPage(session, { ...state, error: message }), 402);
    }
  }
}

export function completeSession(ctx: RouteContext, session: Session, paymentStatus: Stripe.Checkout.Session.PaymentStatus): void {
  session.status = 'complete';
  session.payment_status = paymentStatus;
  session.url = null;
  if (session.customer_details && !session.customer_details.email) session.customer_details.email = session.customer_email;
  ctx.core.events.emit('checkout.session.completed', session, { request: ctx.eventRequest });
}

function successUrl(session: Session): string {
  return (session.success_url ?? '').replaceAll('{CHECKOUT_SESSION_ID}', session.id);
}

function redirect(location: string, session: Session): Response {
  if (!location) return html(messagePage('Payment complete', `Thank you! Your payment of ${formatAmount(session.amount_total ?? 0, session.currency ?? 'usd')} was received.`), 200);
  return new Response(null, { status: 303, headers: { location } });
}

// --- 3-D Secure ------------------------------------------------------------------------------

function authenticationPage(ctx: RouteContext, session: Session): Response {
  const intent = paymentIntentOf(ctx.core, session);
  if (!intent || intent.status !== 'requires_action') return Response.redirect(`${ctx.core.publicUrl}${HOSTED_PAGE_PREFIX}${session.id}`, 303);
  const total = formatAmount(session.amount_total ?? 0, session.currency ?? 'usd');
  return html(
    layout(
      '3D Secure authentication',
      `<main class="card narrow">
        <h1>Complete authentication</h1>
        <p>Your bank asks you to confirm the payment of <strong>${esc(total)}</strong>. This is a test page: choose the outcome.</p>
        <form method="post" action="${esc(`${HOSTED_PAGE_PREFIX}${session.id}/authenticate`)}" class="buttons">
          <button type="submit" name="outcome" value="complete" class="pay">Complete authentication</button>
          <button type="submit" name="outcome" value="fail" class="secondary">Fail authentication</button>
        </form>
      </main>`,
    ),
    200,
  );
}

async function finishAuthentication(ctx: RouteContext, session: Session, form: URLSearchParams): Promise<Response> {
  const intent = paymentIntentOf(ctx.core, session);
  if (!intent || intent.status !== 'requires_action') return Response.redirect(`${ctx.core.publicUrl}${HOSTED_PAGE_PREFIX}${session.id}`, 303);
  const next = completeThreeDSecure(ctx.core, intent.id, form.get('outcome') === 'complete' ? 'succeed' : 'fail');
  return afterConfirmation(ctx, session, next, { email: session.customer_details?.email ?? '' });
}

// --- HTML ------------------------------------------------------------------------------------

function html(body: string, status: number): Response {
  return new Response(body, { status, headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' } });
}

function esc(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function formatAmount(amount: number, currency: string): string {
  const format = new Intl.NumberFormat('en-US', { style: 'currency', currency: currency.toUpperCase() });
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  return format.format(amount / 10 ** digits);
}

function intervalLabel(price: Stripe.Price | null): string {
  const r = price?.recurring;
  if (!r) return '';
  return r.interval_count === 1 ? ` / ${r.interval}` : ` every ${r.interval_count} ${r.interval}s`;
}

function paymentPage(session: Session, state: FormState): string {
  const items = sessionInternals(session).lineItems;
  const currency = session.currency ?? 'usd';
  const total = formatAmount(session.amount_total ?? 0, currency);
  const names = items.map((li) => li.description ?? 'Item').join(', ');
  const recurring = items.find((li) => li.price?.recurring)?.price ?? null;
  const email = state.email ?? session.customer_email ?? '';
  const rows = items
    .map(
      (li) => `<li><span class="name">${esc(li.description ?? 'Item')}${li.quantity && li.quantity > 1 ? ` <span class="qty">× ${li.quantity}</span>` : ''}</span>
        <span class="amount">${esc(formatAmount(li.amount_total, li.currency))}${esc(intervalLabel(li.price))}</span></li>`,
    )
    .join('\n');
  const error = state.error ? `<div class="error" role="alert" id="payment-error">${esc(state.error)}</div>` : '';
  const cancel = session.cancel_url ? `<a class="cancel" href="${esc(session.cancel_url)}">Cancel and return to the shop</a>` : '';
  const action = session.mode === 'subscription' ? 'Subscribe' : 'Pay';
  return layout(
    `${action} ${total}`,
    `<main class="checkout">
      <section class="summary" aria-labelledby="summary-heading">
        <p class="badge">Test mode</p>
        <h1 id="summary-heading">${esc(names)} <span class="total">${esc(total)}${esc(intervalLabel(recurring))}</span></h1>
        <ul class="items">${rows}</ul>
        <p class="sum"><span>Total due today</span><span>${esc(total)}</span></p>
      </section>
      <section class="card" aria-labelledby="pay-heading">
        <h2 id="pay-heading">Pay with card</h2>
        ${error}
        <form method="post" action="${esc(`${HOSTED_PAGE_PREFIX}${session.id}`)}" novalidate>
          <label for="email">Email</label>
          <input id="email" name="email" type="email" autocomplete="email" required value="${esc(email)}" ${state.error ? 'aria-describedby="payment-error"' : ''}>
          <label for="card_number">Card number</label>
          <input id="card_number" name="card_number" inputmode="numeric" autocomplete="cc-number" required value="${esc(state.cardNumber ?? '4242 4242 4242 4242')}">
          <div class="row">
            <div><label for="exp">Expiration (MM / YY)</label><input id="exp" name="exp" autocomplete="cc-exp" value="12 / 34"></div>
            <div><label for="cvc">CVC</label><input id="cvc" name="cvc" inputmode="numeric" autocomplete="cc-csc" value="123"></div>
          </div>
          <label for="name">Name on card</label>
          <input id="name" name="name" autocomplete="cc-name" value="${esc(state.name ?? '')}">
          <button type="submit" class="pay">${action} ${esc(total)}</button>
        </form>
        ${cancel}
        <p class="hint">Stripe sandbox: use 4242 4242 4242 4242 to succeed, 4000 0000 0000 0002 to be declined, 4000 0027 6000 3184 for 3D Secure.</p>
      </section>
    </main>`,
  );
}

function messagePage(title: string, text: string, link: string | null = null, linkLabel = 'Return to the shop'): string {
  return layout(
    title,
    `<main class="card narrow"><h1>${esc(title)}</h1><p>${esc(text)}</p>${link ? `<p><a href="${esc(link)}">${esc(linkLabel)}</a></p>` : ''}</main>`,
  );
}

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · Stripe sandbox checkout</title>
<style>
  *{box-sizing:border-box}
  body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1f36;background:#f6f9fc}
  main{max-width:960px;margin:0 auto;padding:48px 24px}
  .checkout{display:grid;grid-template-columns:1fr 1fr;gap:48px;align-items:start}
  @media (max-width:760px){.checkout{grid-template-columns:1fr}}
  .badge{display:inline-block;margin:0 0 12px;padding:2px 8px;border-radius:4px;background:#ffde92;color:#7a4a00;font-size:12px;font-weight:600;text-transform:uppercase;letter-spacing:.04em}
  h1{font-size:22px;font-weight:600;margin:0 0 24px}
  h1 .total{display:block;font-size:36px;font-weight:700;margin-top:4px}
  h2{font-size:18px;margin:0 0 16px}
  .items{list-style:none;margin:0;padding:0}
  .items li,.sum{display:flex;justify-content:space-between;gap:16px;padding:12px 0;border-bottom:1px solid #e3e8ee}
  .qty{color:#697386}
  .sum{font-weight:600;border-bottom:0}
  .card{background:#fff;border-radius:8px;padding:32px;box-shadow:0 2px 5px rgba(60,66,87,.08),0 1px 1px rgba(0,0,0,.12)}
  .narrow{max-width:480px;margin:64px auto}
  label{display:block;font-size:14px;font-weight:500;color:#3c4257;margin:16px 0 6px}
  input{width:100%;padding:10px 12px;font:inherit;border:1px solid #cfd7df;border-radius:6px;background:#fff}
  input:focus{outline:2px solid #635bff;outline-offset:1px;border-color:#635bff}
  .row{display:grid;grid-template-columns:1fr 1fr;gap:12px}
  button{font:inherit;cursor:pointer;border:0;border-radius:6px;padding:12px 16px}
  .pay{width:100%;margin-top:24px;background:#635bff;color:#fff;font-weight:600}
  .pay:hover{background:#5046e4}
  .secondary{width:100%;margin-top:12px;background:#e3e8ee;color:#1a1f36}
  .buttons{margin-top:8px}
  .error{margin:0 0 8px;padding:12px;border-radius:6px;background:#fde8e8;color:#a4141b;border:1px solid #f5b5b8}
  .cancel{display:block;margin-top:16px;text-align:center;color:#635bff}
  .hint{margin-top:24px;font-size:13px;color:#697386}
</style>
</head>
<body>
${body}
</body>
</html>`;
}

