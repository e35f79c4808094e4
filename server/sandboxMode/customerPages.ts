// The demo storefront's customer side (sandbox mode only): sign in with an email (customerSession.ts)
// and "My subscriptions", where the customer sees their subscriptions and switches track (a preview of
// Stripe's prorations first, then the switch at the preview's proration date), pauses, resumes and
// cancels at period end. Every change goes through the same domain functions as GraphQL
// (server/subscriptions/*) as the CUSTOMER viewer, so another customer's subscription answers as not
// found there, not here. Each form carries an idempotency key made when the page was rendered (a
// double click acts once) and a CSRF token bound to the session cookie.
import { randomUUID } from 'node:crypto';
import type { Context, Env, Hono } from 'hono';
import { z } from 'zod';
import { listPricing } from '../catalog/catalog.sql';
import { formatMoney } from '../catalog/money';
import { SANDBOX_STOREFRONT_PATH } from '../checkout/returnUrls';
import type { StaffActionResult } from '../idempotency/staffAction';
import type { Db } from '../platform/db/db';
import { AppError } from '../platform/errors';
import type { SubscriptionAction, SubscriptionActionResponse, SubscriptionError } from '../subscriptions/actions';
import { SWITCHABLE_STATUSES, type SwitchPreviewResult } from '../subscriptions/preview';
import { invoicesOfSubscription, listSubscriptions, SUBSCRIPTION_ID, type SubscriptionInvoiceRecord, type SubscriptionRecord } from '../subscriptions/read.sql';
import type { SwitchRequest } from '../subscriptions/switch';
import {
  clearedSessionCookie,
  csrfMatches,
  csrfToken,
  type CustomerSession,
  type CustomerSessionOptions,
  readCustomerSession,
  sessionCookie,
  signCustomerSession,
} from './customerSession';
import { field, FormError, readForm } from './forms';
import { back, esc, page } from './html';

/** The subscription calls, bound by the composition root to this server's Stripe client and clock. */
export interface StorefrontCustomerDeps {
  session: CustomerSessionOptions;
  previewSwitch: (request: { subscriptionId: string; track: string; ownerUserId: string }) => Promise<SwitchPreviewResult>;
  switchSubscription: (request: SwitchRequest) => Promise<StaffActionResult<SubscriptionActionResponse>>;
  subscriptionAction: (request: { viewer: SwitchRequest['viewer']; idempotencyKey: string; subscriptionId: string; action: SubscriptionAction }) => Promise<StaffActionResult<SubscriptionActionResponse>>;
}

export const ACCOUNT_PATH = `${SANDBOX_STOREFRONT_PATH}/account`;

const TRACK = /^[a-z][a-z0-9_]{1,62}$/;
const KEY = /^[\x21-\x7e]{1,255}$/;
const UNIX_SECONDS = /^[1-9][0-9]{0,11}$/;
/** A price in minor units as the preview wrote it (a safe integer). */
const MINOR_UNITS = /^(0|[1-9][0-9]{0,14})$/;
const email = z.email();

/** The notices a change redirects with (only these are shown: the query cannot put words on the page). */
const DONE: Record<string, string> = {
  switch: 'Your subscription is switched.',
  pause: 'Your subscription is paused: no invoice is collected until you resume it.',
  resume: 'Your subscription is resumed.',
  cancel: 'Your subscription will end at the end of the current period.',
  pending: 'Your earlier press is still being made at Stripe; reload in a moment to see it.',
};

const subscriptionIdField = (form: URLSearchParams) => field(form, 'subscription_id', { max: 255, pattern: SUBSCRIPTION_ID, label: 'The subscription' });
const keyField = (form: URLSearchParams) => field(form, 'idempotency_key', { max: 255, pattern: KEY, label: 'The request key' });

/**
 * Whether a form with no session behind it was sent from this origin. Sec-Fetch-Site says so when the
 * browser sends it: same-origin, or none (typed or bookmarked); same-site is refused too (a sibling
 * subdomain is another site's code). Without it (older browsers, other clients) the Origin header, or
 * else the Referer, must name this host; neither is refused.
 */
function sentFromThisOrigin(c: { req: { header(name: string): string | undefined } }): boolean {
  const site = c.req.header('sec-fetch-site');
  if (site !== undefined) return site === 'same-origin' || site === 'none';
  const host = c.req.header('host');
  const from = c.req.header('origin') ?? c.req.header('referer');
  if (!host || !from || from === 'null') return false;
  try {
    return new URL(from).host === host;
  } catch {
    return false;
  }
}

export function mountCustomerPages<E extends Env>(app: Hono<E>, db: Db, deps: StorefrontCustomerDeps | undefined) {
  const { session: options } = deps ?? {};

  app.get(ACCOUNT_PATH, async (c) => {
    if (!deps || !options) return c.html(unavailable(), 404);
    const session = await readCustomerSession(options, c.req.header('cookie'));
    if (!session) return c.html(signInPage());
    const notice = DONE[c.req.query('done') ?? ''];
    return c.html(await accountPage(db, options, session, notice));
  });

  app.post(`${ACCOUNT_PATH}/sign-in`, async (c) => {
    if (!deps || !options) return c.html(unavailable(), 404);
    // There is no session yet to bind a CSRF token to: another site's form signing the visitor in as
    // someone else (whose subscriptions they would then start) is refused by the browser's own word.
    if (!sentFromThisOrigin(c)) return c.html(page('Not sent from this site', `<h1>Not sent from this site</h1>${accountLink()}`), 403);
    return withForm(c, async (form) => {
      const given = field(form, 'email', { max: 320, label: 'Email' }).trim();
      if (!email.safeParse(given).success) throw new FormError('Email must be an email address.');
      c.header('Set-Cookie', sessionCookie(await signCustomerSession(options, given)));
      return c.redirect(ACCOUNT_PATH, 303);
    });
  });

  // The rest change something: each needs the session and its CSRF token before the form is acted on.
  const signedIn = (handler: (c: Context<E>, session: CustomerSession, form: URLSearchParams, deps: StorefrontCustomerDeps) => Promise<Response>) => async (c: Context<E>) => {
    if (!deps || !options) return c.html(unavailable(), 404);
    return withForm(c, async (form) => {
      const session = await readCustomerSession(options, c.req.header('cookie'));
      if (!session) return c.html(page('Please sign in', `<h1>Please sign in</h1><p>Your session has ended or was not sent. Nothing was changed.</p>${accountLink()}`), 401);
      if (!csrfMatches(options, session, form.get('csrf') ?? '')) {
        return c.html(page('Not sent from this page', `<h1>Not sent from this page</h1><p>The form did not come from your account page. Nothing was changed.</p>${accountLink()}`), 403);
      }
      return handler(c, session, form, deps);
    });
  };

  app.post(
    `${ACCOUNT_PATH}/sign-out`,
    signedIn(async (c) => {
      c.header('Set-Cookie', clearedSessionCookie());
      return c.redirect(ACCOUNT_PATH, 303);
    }),
  );

  // The preview only reads (Stripe's arithmetic, nothing written), so it is a GET: the SameSite=Strict
  // cookie is not sent from another site, and the confirm form it renders carries the CSRF token.
  app.get(`${ACCOUNT_PATH}/switch`, async (c) => {
    if (!deps || !options) return c.html(unavailable(), 404);
    const session = await readCustomerSession(options, c.req.header('cookie'));
    if (!session) return c.html(signInPage(), 401);
    return withForm(c, async () => {
      const query = new URLSearchParams(new URL(c.req.url).search);
      const subscriptionId = subscriptionIdField(query);
      const track = field(query, 'track', { max: 63, pattern: TRACK, label: 'The track' });
      const result = await deps.previewSwitch({ subscriptionId, track, ownerUserId: session.viewer.id });
      if (result.error) return c.html(errorPage(result.error), statusOf(result.error));
      const product = (await listPricing(db)).find((p) => p.id === track);
      return c.html(previewPage(options, session, result.preview, product?.name ?? track));
    });
  });

  app.post(
    `${ACCOUNT_PATH}/switch`,
    signedIn(async (c, session, form, deps) => {
      const subscriptionId = subscriptionIdField(form);
      const track = field(form, 'track', { max: 63, pattern: TRACK, label: 'The track' });
      // The price the preview showed: a price changed since is refused (preview again), never charged.
      const priceId = field(form, 'price_id', { max: 63, pattern: TRACK, label: 'The preview’s price' });
      const unitAmount = Number(field(form, 'unit_amount', { max: 15, pattern: MINOR_UNITS, label: 'The preview’s price' }));
      const prorationDate = Number(field(form, 'proration_date', { max: 12, pattern: UNIX_SECONDS, label: 'The preview’s date' }));
      const idempotencyKey = keyField(form);
      // ALWAYS_INVOICE: the customer pays the amount the preview showed as due now, at once.
      const { response } = await deps.switchSubscription({ viewer: session.viewer, idempotencyKey, subscriptionId, track, priceId, unitAmount, prorationDate, prorationBehavior: 'always_invoice' });
      return answer(c, response, 'switch');
    }),
  );

  const action = (kind: 'pause' | 'resume' | 'cancel', of: SubscriptionAction) =>
    signedIn(async (c, session, form, deps) => {
      const subscriptionId = subscriptionIdField(form);
      const idempotencyKey = keyField(form);
      const { response } = await deps.subscriptionAction({ viewer: session.viewer, idempotencyKey, subscriptionId, action: of });
      return answer(c, response, kind);
    });
  // A customer pauses collection (the invoices of the pause are voided) until they resume, and cancels
  // at period end only: ending at once forfeits the period paid for, which admins alone decide.
  app.post(`${ACCOUNT_PATH}/pause`, action('pause', { kind: 'pause', behavior: 'void', resumesAt: null }));
  app.post(`${ACCOUNT_PATH}/resume`, action('resume', { kind: 'resume' }));
  app.post(`${ACCOUNT_PATH}/cancel`, action('cancel', { kind: 'cancel', atPeriodEnd: true }));
}

/** Runs a handler, answering bad input with a 400 page and our typed errors with theirs, in words. */
async function withForm(c: Context, handler: (form: URLSearchParams) => Promise<Response>): Promise<Response> {
  try {
    const form = c.req.method === 'POST' ? await readForm(c) : new URLSearchParams();
    return await handler(form);
  } catch (error) {
    // The second press of a double click while the first is still at Stripe: it is the same request,
    // so the customer is shown their page rather than an error (the first press's answer lands there).
    if (error instanceof AppError && error.details?.reason === 'IDEMPOTENCY_KEY_IN_PROGRESS') return c.redirect(`${ACCOUNT_PATH}?done=pending`, 303);
    if (error instanceof FormError) return c.html(page('Bad request', `<h1>Bad request</h1><p>${esc(error.message)} Nothing was changed.</p>${accountLink()}`), 400);
    if (error instanceof AppError) return c.html(page('Cannot do that', `<h1>Cannot do that</h1><p>${esc(error.message)}</p>${accountLink()}`), error.httpStatus as 400);
    throw error;
  }
}

function answer(c: Context, response: SubscriptionActionResponse, kind: string): Response {
  if (response.error) return c.html(errorPage(response.error), statusOf(response.error));
  return c.redirect(`${ACCOUNT_PATH}?done=${kind}`, 303);
}

const statusOf = (error: SubscriptionError) => (error.code === 'SUBSCRIPTION_NOT_FOUND' ? 404 : 409);

function errorPage(error: SubscriptionError): string {
  return page('Cannot do that', `<h1>Cannot do that</h1><p class="error">${esc(error.message)}</p>${accountLink()}`);
}

const accountLink = () => `<p><a href="${ACCOUNT_PATH}">Back to my subscriptions</a></p>`;

const unavailable = () =>
  page('Not available', `<h1>Not available</h1><p>The demo customer sign-in needs the server’s own HS256 token secret; it is off when tokens come from a JWKS.</p>${back()}`);

const DEMO_NOTE = `<p class="note">This is a demo of the customer’s side, in sandbox mode only: you sign in with an email and no password. A real storefront signs its customers in with Supabase Auth.</p>`;

function signInPage(): string {
  return page(
    'Sign in',
    `<h1>Customer sign-in (demo)</h1>${DEMO_NOTE}
     <form method="post" action="${ACCOUNT_PATH}/sign-in" class="card">
       <label>Email <input type="email" name="email" required maxlength="320" autocomplete="email"></label>
       <button type="submit">Sign in</button></form>${back()}`,
  );
}

async function accountPage(db: Db, options: CustomerSessionOptions, session: CustomerSession, notice: string | undefined): Promise<string> {
  const csrf = csrfToken(options, session);
  const { rows } = await listSubscriptions(db, { filter: { ownerUserId: session.viewer.id }, first: 50 });
  const products = await listPricing(db);
  const tracks = products.filter((p) => p.prices.some((price) => price.kind === 'recurring')).map((p) => ({ id: p.id, name: p.name }));
  const cards = await Promise.all(rows.map(async (sub) => subscriptionCard(sub, await invoicesOfSubscription(db, sub.id), tracks, csrf)));
  return page(
    'My subscriptions',
    `<nav><h1>My subscriptions</h1><form method="post" action="${ACCOUNT_PATH}/sign-out"><input type="hidden" name="csrf" value="${esc(csrf)}">
       <button type="submit" class="secondary">Sign out</button></form></nav>
     <p>Signed in as <strong>${esc(session.viewer.name)}</strong> (demo sign-in, no password).</p>
     ${notice ? `<p class="notice" role="status">${esc(notice)}</p>` : ''}
     ${cards.length > 0 ? cards.join('') : `<p>You have no subscriptions yet. Subscribe to a track in the shop while signed in.</p>`}${back()}`,
  );
}

function subscriptionCard(sub: SubscriptionRecord, invoices: SubscriptionInvoiceRecord[], tracks: Array<{ id: string; name: string }>, csrf: string): string {
  const price = sub.unit_amount !== null && sub.currency ? `${formatMoney({ amount: sub.unit_amount, currency: sub.currency })} / ${sub.recurring_interval ?? 'month'}` : '—';
  const facts: Array<[string, string]> = [
    ['Subscription', sub.id],
    ['Status', sub.status],
    ['Price', price],
    ['Period ends', day(sub.current_period_end)],
    ['Cancellation', sub.cancel_at_period_end ? `Ends at period end (${day(sub.current_period_end)})` : sub.canceled_at ? `Canceled ${day(sub.canceled_at)}` : 'Not canceled'],
    ['Paused', sub.pause_behavior ? `Collection paused${sub.pause_resumes_at ? ` until ${day(sub.pause_resumes_at)}` : ' until you resume'}` : 'No'],
  ];
  const hidden = (key: string) =>
    `<input type="hidden" name="subscription_id" value="${esc(sub.id)}"><input type="hidden" name="idempotency_key" value="${key}"><input type="hidden" name="csrf" value="${esc(csrf)}">`;
  const button = (path: string, label: string, secondary = false) =>
    `<form method="post" action="${ACCOUNT_PATH}/${path}">${hidden(randomUUID())}<button type="submit"${secondary ? ' class="secondary"' : ''}>${esc(label)}</button></form>`;
  const others = tracks.filter((t) => t.id !== sub.track);
  const actions = SWITCHABLE_STATUSES.has(sub.status)
    ? `${others.length > 0 ? `<div class="actions"><form method="get" action="${ACCOUNT_PATH}/switch"><input type="hidden" name="subscription_id" value="${esc(sub.id)}">
          <label>Switch to <select name="track">${others.map((t) => `<option value="${esc(t.id)}">${esc(t.name)}</option>`).join('')}</select></label>
          <button type="submit">Preview switch</button></form></div>` : ''}
      <div class="actions">
        ${sub.pause_behavior ? button('resume', 'Resume') : button('pause', 'Pause', true)}
        ${sub.cancel_at_period_end ? '' : button('cancel', 'Cancel at period end', true)}
      </div>`
    : '';
  return `<section class="card" data-subscription="${esc(sub.id)}"><h2>${esc(sub.track_name ?? 'Unknown track')}</h2>
    <table>${facts.map(([label, value]) => `<tr><th class="nowrap">${esc(label)}</th><td class="id">${esc(value)}</td></tr>`).join('')}</table>
    ${invoiceTable(invoices.slice(0, 3))}${actions}</section>`;
}

function invoiceTable(invoices: SubscriptionInvoiceRecord[]): string {
  if (invoices.length === 0) return '<p class="note">No invoices yet.</p>';
  const rows = invoices.map((invoice) => {
    const money = (amount: number) => formatMoney({ amount: Number(amount), currency: invoice.currency });
    // Only Stripe's own https (or the sandbox's http) links become links.
    const link = invoice.hosted_invoice_url && /^https?:\/\//.test(invoice.hosted_invoice_url) ? `<a href="${esc(invoice.hosted_invoice_url)}">Invoice</a>` : '—';
    // A first invoice's period is its own moment (Stripe's), so the invoice's date says more.
    // What is still owed shows beside the amount when a part is paid (four columns fit a phone).
    const partly = invoice.amount_paid > 0 && invoice.amount_paid < invoice.amount_due ? ` (${money(invoice.amount_paid)} paid)` : '';
    return `<tr><td class="nowrap">${esc(day(invoice.stripe_created))}</td><td>${esc(invoice.status)}</td><td class="nowrap">${esc(money(invoice.amount_due) + partly)}</td><td class="nowrap">${link}</td></tr>`;
  });
  return `<h3>Latest invoices</h3><table><tr><th>Date</th><th>Status</th><th>Amount</th><th></th></tr>${rows.join('')}</table>`;
}

function previewPage(options: CustomerSessionOptions, session: CustomerSession, preview: NonNullable<SwitchPreviewResult['preview']>, trackName: string): string {
  const money = (amount: number) => esc(formatMoney({ amount, currency: preview.currency }));
  const lines = preview.lines
    .map(
      (line) =>
        `<tr><td>${esc(line.description ?? 'Proration')}</td><td><span class="nowrap">${esc(day(unix(line.periodStart)))}</span> – <span class="nowrap">${esc(day(unix(line.periodEnd)))}</span></td><td class="nowrap">${money(line.amount)}</td></tr>`,
    )
    .join('');
  return page(
    'Switch track',
    `<h1>Switch to ${esc(trackName)}</h1>
     <p>Stripe’s prorations for switching now: the unused time of your current track is credited, the rest of the period on the new one charged.</p>
     <table><tr><th>Line</th><th>Period</th><th>Amount</th></tr>${lines}<tr><th colspan="2">Proration total</th><td class="nowrap">${money(preview.prorationTotal)}</td></tr></table>
     <p class="price">Amount due now: ${money(preview.amountDueNow)}</p>
     ${preview.creditApplied > 0 ? `<p class="note">${money(preview.creditApplied)} of your account’s credit is used first.</p>` : ''}
     ${preview.prorationTotal < 0 ? `<p class="note">The credit of ${money(-preview.prorationTotal)} goes towards your next invoices.</p>` : ''}
     <p class="note">Then ${money(preview.price.unit_amount)} / ${esc(preview.price.recurring_interval)}. This preview is good for an hour.</p>
     <form method="post" action="${ACCOUNT_PATH}/switch" class="actions">
       <input type="hidden" name="subscription_id" value="${esc(preview.subscriptionId)}">
       <input type="hidden" name="track" value="${esc(preview.toTrack)}">
       <input type="hidden" name="price_id" value="${esc(preview.price.id)}">
       <input type="hidden" name="unit_amount" value="${preview.price.unit_amount}">
       <input type="hidden" name="proration_date" value="${preview.prorationDate}">
       <input type="hidden" name="idempotency_key" value="${randomUUID()}">
       <input type="hidden" name="csrf" value="${esc(csrfToken(options, session))}">
       <button type="submit">Confirm switch</button></form>${accountLink()}`,
  );
}

const unix = (seconds: number) => new Date(seconds * 1000).toISOString();
const day = (value: string | null) => (value ? value.slice(0, 10) : '—');
