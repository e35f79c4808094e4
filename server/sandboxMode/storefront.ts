// A demo storefront, served only in sandbox mode, so the hosted checkout can be followed from end to
// end offline: pick a track, pay on the sandbox's Checkout page, land on the details page, which calls
// confirmPayment as a storefront's success page would and shows the order (provisional at once).
// It calls the checkout code in-process as the storefront role; a real storefront calls the GraphQL API.
import { randomUUID } from 'node:crypto';
import type { Env, Hono } from 'hono';
import type { Viewer } from '../auth/viewer';
import { listPricing } from '../catalog/catalog.sql';
import { formatMoney } from '../catalog/money';
import type { ConfirmPaymentInputFields, ConfirmPaymentResult } from '../checkout/confirmPayment';
import { SANDBOX_STOREFRONT_PATH } from '../checkout/returnUrls';
import type { CheckoutInputFields } from '../checkout/input';
import type { StartPaymentResult } from '../checkout/startPayment';
import type { Db } from '../platform/db/db';
import { AppError, NotFoundError } from '../platform/errors';
import { isUuid } from '../platform/ids';
import { findOrder, findOrderByPayment, type OrderRow } from '../orders/orders.sql';

/**
 * What the storefront needs, as arguments: the database (prices, orders) and the two checkout calls
 * a storefront makes, bound by the composition root to this server's Stripe client and return URLs.
 */
export interface SandboxStorefrontDeps {
  db: Db;
  /** Starts a hosted Checkout Session (startPayment with kind checkout_session). */
  startCheckout: (viewer: Viewer, input: CheckoutInputFields) => Promise<StartPaymentResult>;
  confirmPayment: (viewer: Viewer, input: ConfirmPaymentInputFields) => Promise<ConfirmPaymentResult>;
}

const STOREFRONT: Viewer = { role: 'STOREFRONT', id: 'sandbox-storefront', name: 'Sandbox demo storefront', kind: 'api_key' };
const CHECKOUT_SESSION_ID = /^cs_(test|live)_[A-Za-z0-9]{1,250}$/;

export function mountSandboxStorefront<E extends Env>(app: Hono<E>, deps: SandboxStorefrontDeps) {
  app.get(SANDBOX_STOREFRONT_PATH, async (c) => {
    const products = await listPricing(deps.db);
    const rows = products
      .flatMap((product) => product.prices.filter((price) => price.kind === 'one_time').slice(0, 1).map((price) => ({ product, price })))
      .map(
        ({ product, price }) => `<form method="post" action="${SANDBOX_STOREFRONT_PATH}/buy" class="card">
          <h2>${esc(product.name)}</h2><p>${esc(product.description)}</p><p class="price">${esc(formatMoney({ amount: price.unit_amount, currency: price.currency }))}</p>
          <input type="hidden" name="track" value="${esc(product.id)}">
          <input type="hidden" name="idempotency_key" value="${randomUUID()}">
          <label>Email <input type="email" name="email" required value="ada@example.com"></label>
          <button type="submit">Buy with Stripe Checkout</button></form>`,
      )
      .join('');
    return c.html(page('Demo storefront', `<h1>Demo storefront</h1><p class="note">Sandbox mode: nothing is charged. Card 4242 4242 4242 4242 pays; 4000 0000 0000 0002 is declined.</p>${rows}`));
  });

  app.post(`${SANDBOX_STOREFRONT_PATH}/buy`, async (c) => {
    const form = await c.req.parseBody();
    try {
      // The key was made when the page was rendered: a double-clicked button buys once.
      const result = await deps.startCheckout(STOREFRONT, {
        idempotencyKey: String(form.idempotency_key ?? ''),
        track: String(form.track ?? ''),
        email: String(form.email ?? ''),
      });
      if (result.attempt?.url) return c.redirect(result.attempt.url, 303);
      return c.html(page('Cannot pay', `<h1>Cannot pay</h1><p>${esc(result.error?.message ?? 'No checkout could be started.')}</p>${back()}`), 409);
    } catch (error) {
      if (error instanceof AppError) return c.html(page('Cannot pay', `<h1>Cannot pay</h1><p>${esc(error.message)}</p>${back()}`), error.httpStatus as 400);
      throw error;
    }
  });

  app.get(`${SANDBOX_STOREFRONT_PATH}/checkout/details`, async (c) => {
    const sessionId = c.req.query('session_id') ?? '';
    try {
      const result = await deps.confirmPayment(STOREFRONT, { checkoutSessionId: sessionId });
      const heading = result.outcome === 'SUCCEEDED' ? 'Thank you: your order is paid' : result.outcome === 'PROCESSING' ? 'Thank you: your payment is on its way' : 'Your payment is not complete';
      return c.html(page(heading, `<h1>${esc(heading)}</h1>${result.error ? `<p>${esc(result.error.message)}</p>` : ''}${result.order ? orderTable(result.order) : ''}${back()}`));
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

const back = () => `<p><a href="${SANDBOX_STOREFRONT_PATH}">Back to the shop</a></p>`;

function esc(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · Demo storefront</title>
<style>
  body{margin:0;font:16px/1.5 system-ui,sans-serif;color:#1a1f36;background:#f6f9fc}
  main{max-width:720px;margin:0 auto;padding:40px 24px}
  .card{background:#fff;border:1px solid #e3e8ee;border-radius:8px;padding:16px 20px;margin:16px 0}
  .price{font-weight:600} .note{color:#4f566b}
  label{display:block;margin:8px 0} input[type=email]{padding:6px;width:16rem}
  button{background:#635bff;color:#fff;border:0;border-radius:6px;padding:8px 16px;font-weight:600;cursor:pointer}
  table{border-collapse:collapse;background:#fff} th,td{border:1px solid #e3e8ee;padding:6px 12px;text-align:left}
  a{color:#4b42e0}
</style></head><body><main>${body}</main></body></html>`;
}
