// A demo storefront, served only in sandbox mode, so the hosted checkout can be followed from end to
// end offline: pick a track, pay on the sandbox's Checkout page, land on the details page, which calls
// confirmPayment as a storefront's success page would and shows the order (provisional at once).
// A track is bought once or subscribed to monthly (createSubscriptionCheckout's path); a customer
// signed in with the demo sign-in subscribes as themselves and manages it on "My subscriptions"
// (customerPages.ts). It calls the checkout code in-process as the storefront role, or as the signed-in
// customer; a real storefront calls the GraphQL API. "Split a payment" and the member's pay page
// (payment requests) are in paymentRequestPages.ts.
import { randomUUID } from 'node:crypto';
import type { Env, Hono } from 'hono';
import type { Viewer } from '../auth/viewer';
import { listPricing } from '../catalog/catalog.sql';
import { formatMoney } from '../catalog/money';
import type { CheckoutMode } from '../checkout/input';
import type { ConfirmPaymentInputFields, ConfirmPaymentResult } from '../checkout/confirmPayment';
import { SANDBOX_STOREFRONT_PATH } from '../checkout/returnUrls';
import type { CheckoutInputFields } from '../checkout/input';
import type { StartPaymentResult } from '../checkout/startPayment';
import type { Db } from '../platform/db/db';
import { AppError, NotFoundError } from '../platform/errors';
import { isUuid } from '../platform/ids';
import { findOrder, findOrderByPayment, type OrderRow } from '../orders/orders.sql';
import { findSubscription, type SubscriptionRecord } from '../subscriptions/read.sql';
import { ACCOUNT_PATH, mountCustomerPages, type StorefrontCustomerDeps } from './customerPages';
import { readCustomerSession } from './customerSession';
import { mountPaymentRequestPages, SPLIT_PATH, type StorefrontPaymentRequestDeps } from './paymentRequestPages';
import { field, FormError, readForm } from './forms';
import { back, esc, page } from './html';

/**
 * What the storefront needs, as arguments: the database (prices, orders) and the two checkout calls
 * a storefront makes, bound by the composition root to this server's Stripe client and return URLs.
 */
export interface SandboxStorefrontDeps {
  db: Db;
  /** Starts a hosted Checkout Session (startPayment with kind checkout_session), once or monthly. */
  startCheckout: (viewer: Viewer, input: CheckoutInputFields, mode: CheckoutMode) => Promise<StartPaymentResult>;
  confirmPayment: (viewer: Viewer, input: ConfirmPaymentInputFields) => Promise<ConfirmPaymentResult>;
  /** The demo customer sign-in and My subscriptions; absent when tokens come from a JWKS (no secret to sign with). */
  customers: StorefrontCustomerDeps | undefined;
  /** Split a payment and the member's pay page; absent when the server has no payment requests. */
  paymentRequests: StorefrontPaymentRequestDeps | undefined;
}

const STOREFRONT: Viewer = { role: 'STOREFRONT', id: 'sandbox-storefront', name: 'Sandbox demo storefront', kind: 'api_key' };
const CHECKOUT_SESSION_ID = /^cs_(test|live)_[A-Za-z0-9]{1,250}$/;

export function mountSandboxStorefront<E extends Env>(app: Hono<E>, deps: SandboxStorefrontDeps) {
  app.get(SANDBOX_STOREFRONT_PATH, async (c) => {
    const customer = deps.customers ? await readCustomerSession(deps.customers.session, c.req.header('cookie')) : null;
    const products = await listPricing(deps.db);
    const rows = products
      .flatMap((product) => product.prices.filter((price) => price.kind === 'one_time').slice(0, 1).map((price) => ({ product, price })))
      .map(({ product, price }) => {
        const monthly = product.prices.find((p) => p.kind === 'recurring' && p.recurring_interval === 'month');
        // Signed in, the customer subscribes as themselves (their sign-in's email); a guest types one.
        const subscribe = monthly
          ? `<form method="post" action="${SANDBOX_STOREFRONT_PATH}/subscribe" class="subscribe">
              <p class="price">${esc(formatMoney({ amount: monthly.unit_amount, currency: monthly.currency }))} / month</p>
              <input type="hidden" name="track" value="${esc(product.id)}">
              <input type="hidden" name="idempotency_key" value="${randomUUID()}">
              ${customer ? `<p class="note">As ${esc(customer.viewer.name)}</p>` : '<label>Email <input type="email" name="email" required value="ada@example.com"></label>'}
              <button type="submit">Subscribe monthly</button></form>`
          : '';
        return `<section class="card"><h2>${esc(product.name)}</h2><p>${esc(product.description)}</p>
          <div class="offers"><form method="post" action="${SANDBOX_STOREFRONT_PATH}/buy">
          <p class="price">${esc(formatMoney({ amount: price.unit_amount, currency: price.currency }))} once</p>
          <input type="hidden" name="track" value="${esc(product.id)}">
          <input type="hidden" name="idempotency_key" value="${randomUUID()}">
          <label>Email <input type="email" name="email" required value="ada@example.com"></label>
          <button type="submit">Buy with Stripe Checkout</button></form>${subscribe}</div></section>`;
      })
      .join('');
    const account = deps.customers
      ? `<p><a href="${ACCOUNT_PATH}">${customer ? `My subscriptions (${esc(customer.viewer.name)})` : 'Customer sign-in (demo) and my subscriptions'}</a></p>`
      : '';
    const split = deps.paymentRequests ? `<p><a href="${SPLIT_PATH}">Split a payment among friends</a></p>` : '';
    return c.html(page('Demo storefront', `<h1>Demo storefront</h1><p class="note">Sandbox mode: nothing is charged. Card 4242 4242 4242 4242 pays; 4000 0000 0000 0002 is declined.</p>${account}${split}${rows}`));
  });

  app.post(`${SANDBOX_STOREFRONT_PATH}/buy`, async (c) => {
    const form = await c.req.parseBody();
    try {
      // The key was made when the page was rendered: a double-clicked button buys once.
      const result = await deps.startCheckout(
        STOREFRONT,
        { idempotencyKey: String(form.idempotency_key ?? ''), track: String(form.track ?? ''), email: String(form.email ?? '') },
        'payment',
      );
      if (result.attempt?.url) return c.redirect(result.attempt.url, 303);
      return c.html(page('Cannot pay', `<h1>Cannot pay</h1><p>${esc(result.error?.message ?? 'No checkout could be started.')}</p>${back()}`), 409);
    } catch (error) {
      if (error instanceof AppError) return c.html(page('Cannot pay', `<h1>Cannot pay</h1><p>${esc(error.message)}</p>${back()}`), error.httpStatus as 400);
      throw error;
    }
  });

  app.post(`${SANDBOX_STOREFRONT_PATH}/subscribe`, async (c) => {
    try {
      const form = await readForm(c);
      const customer = deps.customers ? await readCustomerSession(deps.customers.session, c.req.header('cookie')) : null;
      const input: CheckoutInputFields = {
        // The key was made when the page was rendered: a double-clicked button subscribes once.
        idempotencyKey: field(form, 'idempotency_key', { max: 255, label: 'The request key' }),
        track: field(form, 'track', { max: 63, label: 'The track' }),
        // A signed-in customer's email is their sign-in's: the subscription is theirs (customers.user_id).
        email: customer ? null : field(form, 'email', { max: 320, label: 'Email' }),
      };
      const result = await deps.startCheckout(customer?.viewer ?? STOREFRONT, input, 'subscription');
      if (result.attempt?.url) return c.redirect(result.attempt.url, 303);
      return c.html(page('Cannot subscribe', `<h1>Cannot subscribe</h1><p>${esc(result.error?.message ?? 'No checkout could be started.')}</p>${back()}`), 409);
    } catch (error) {
      if (error instanceof FormError) return c.html(page('Bad request', `<h1>Bad request</h1><p>${esc(error.message)} Nothing was changed.</p>${back()}`), 400);
      if (error instanceof AppError) return c.html(page('Cannot subscribe', `<h1>Cannot subscribe</h1><p>${esc(error.message)}</p>${back()}`), error.httpStatus as 400);
      throw error;
    }
  });

  app.get(`${SANDBOX_STOREFRONT_PATH}/checkout/details`, async (c) => {
    const sessionId = c.req.query('session_id') ?? '';
    try {
      const result = await deps.confirmPayment(STOREFRONT, { checkoutSessionId: sessionId });
      const heading = result.outcome === 'SUCCEEDED' ? 'Thank you: your order is paid' : result.outcome === 'PROCESSING' ? 'Thank you: your payment is on its way' : 'Your payment is not complete';
      const subscription = result.order ? await subscriptionSection(deps, result.order) : '';
      return c.html(page(heading, `<h1>${esc(heading)}</h1>${result.error ? `<p>${esc(result.error.message)}</p>` : ''}${result.order ? orderTable(result.order) : ''}${subscription}${back()}`));
    } catch (error) {
      // Stripe no longer knows the session (its test data was deleted), but our records do: the
      // customer still sees their order as we last knew it rather than "Unknown payment".
      const order = error instanceof NotFoundError && CHECKOUT_SESSION_ID.test(sessionId) ? await findOrderByPayment(deps.db, sessionId) : null;
      if (order) return c.html(page('Your order', `<h1>Your order</h1><p class="note">Stripe cannot show this payment now; this is the order as we recorded it.</p>${orderTable(order)}${back()}`));
      if (error instanceof AppError) return c.html(page('Unknown payment', `<h1>Unknown payment</h1><p>${esc(error.message)}</p>${back()}`), error.httpStatus as 400);
      throw error;
    }
  });

  app.get(`${SANDBOX_STOREFRONT_PATH}/checkout`, async (c) => {
    const orderId = c.req.query('order_id') ?? '';
    const order = isUuid(orderId) ? await findOrder(deps.db, orderId) : null;
    return c.html(page('Payment cancelled', `<h1>Payment cancelled</h1><p>Nothing was charged.</p>${order ? orderTable(order) : ''}${back()}`));
  });

  mountCustomerPages(app, deps.db, deps.customers);
  mountPaymentRequestPages(app, deps.db, STOREFRONT, deps.confirmPayment, deps.paymentRequests);
}

/**
 * A subscription order's subscription, as the webhooks have kept it (they are its source of truth:
 * until customer.subscription.created arrives there is none to show, and the page says so).
 */
async function subscriptionSection(deps: SandboxStorefrontDeps, order: OrderRow): Promise<string> {
  const { rows } = await deps.db.query<{ id: string; kind: string | null }>(
    `select s.id, pr.kind from orders o left join prices pr on pr.id = o.price_id left join subscriptions s on s.order_id = o.id
      where o.id = $1 order by s.created_at desc limit 1`,
    [order.id],
  );
  const row = rows[0];
  if (!row || row.kind !== 'recurring') return '';
  const sub = row.id ? await findSubscription(deps.db, row.id) : null;
  const link = deps.customers ? `<p><a href="${ACCOUNT_PATH}">Manage it on My subscriptions</a></p>` : '';
  if (!sub) return `<h2>Your subscription</h2><p class="note">Stripe is still telling us about your subscription; it appears on My subscriptions in a moment.</p>${link}`;
  return `<h2>Your subscription</h2>${subscriptionTable(sub)}${link}`;
}

function subscriptionTable(sub: SubscriptionRecord): string {
  const rows: Array<[string, string]> = [
    ['Subscription', sub.id],
    ['Track', sub.track_name ?? '—'],
    ['Price', sub.unit_amount !== null && sub.currency ? `${formatMoney({ amount: sub.unit_amount, currency: sub.currency })} / ${sub.recurring_interval ?? 'month'}` : '—'],
    ['Status', sub.status],
    ['Period ends', sub.current_period_end?.slice(0, 10) ?? '—'],
  ];
  return `<table>${rows.map(([label, value]) => `<tr><th class="nowrap">${esc(label)}</th><td class="id">${esc(value)}</td></tr>`).join('')}</table>`;
}

function orderTable(order: OrderRow): string {
  const rows: Array<[string, string]> = [
    ['Order', order.id],
    ['Track', order.product_name],
    ['Amount', formatMoney({ amount: order.amount, currency: order.currency })],
    ['Status', order.status],
    ['Sync state', order.sync_state ? `${order.sync_state}${order.sync_state === 'provisional' ? ' (until Stripe’s webhook confirms it)' : ''}` : '—'],
    ['Customer', order.customer_email],
    ['PaymentIntent', order.payment_intent_id ?? '—'],
  ];
  return `<table>${rows.map(([label, value]) => `<tr><th>${esc(label)}</th><td>${esc(value)}</td></tr>`).join('')}</table>`;
}
