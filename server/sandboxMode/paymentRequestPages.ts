// The demo storefront's payment requests (issue 20, sandbox mode only): "Split a payment", where a
// visitor splits a sum (a track, or something described) among members and is shown each member's pay
// link once, and the member's pay page the link opens, which pays the share Elements-style: payShare
// hands out the member's PaymentIntent (option C: the same one again while it can still be paid), the
// card is confirmed against it with its client secret, and the result page reads the payment back as a
// storefront's return page does (confirmPayment: the share shows paid at once, provisional until
// Stripe's webhook). Everything goes through the PaymentRequests service in-process, as the STOREFRONT
// viewer for the request; a real storefront calls the GraphQL API and confirms with Stripe.js.
//
// A visitor here has no session, so each form's CSRF token is a double-submit one: a random value in an
// HttpOnly SameSite=Strict cookie of the storefront's path, repeated in the form; another site's form
// can send neither. Each form also carries an idempotency key made when it was rendered.
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Context, Env, Hono } from 'hono';
import Stripe from 'stripe';
import { z } from 'zod';
import { paymentMethodForCardNumber } from '../../stripe-sandbox/resources/paymentMethods';
import type { Viewer } from '../auth/viewer';
import { listPricing } from '../catalog/catalog.sql';
import { formatMoney, minorToInput, parseMoney } from '../catalog/money';
import type { ConfirmPaymentInputFields, ConfirmPaymentResult } from '../checkout/confirmPayment';
import { SANDBOX_STOREFRONT_PATH } from '../checkout/returnUrls';
import { isPayTokenShape } from '../paymentRequests/tokens';
import type { CreatePaymentRequestInput, MemberPayLink, MemberShareView, PaymentRequestError, PaymentRequestRow, PaymentRequests } from '../paymentRequests/service';
import type { Db } from '../platform/db/db';
import { AppError } from '../platform/errors';
import { isUuid } from '../platform/ids';
import { declineFor, isProviderUnavailable, PROVIDER_UNAVAILABLE } from '../stripe/payments';
import { FormError, readForm } from './forms';
import { back, esc, page } from './html';

export const SPLIT_PATH = `${SANDBOX_STOREFRONT_PATH}/split`;
export const PAY_PATH = `${SANDBOX_STOREFRONT_PATH}/pay`;

/** What the pages need, bound by the composition root; the service is made after the HTTP app, hence a getter. */
export interface StorefrontPaymentRequestDeps {
  service: () => PaymentRequests;
  /** Confirms the share's PaymentIntent with a test card, as Stripe.js's confirmPayment would from the page. */
  confirmCard: (request: CardConfirmation) => Promise<CardConfirmationResult>;
  /** The PaymentIntent, if the client secret is its own (what a return page may show); else null. */
  intentFor: (paymentIntentId: string, clientSecret: string) => Promise<{ memberId: string | null; status: string } | null>;
}

export interface CardConfirmation {
  paymentIntentId: string;
  clientSecret: string;
  paymentMethod: string;
  returnUrl: string;
}

export type CardConfirmationResult =
  | { outcome: 'confirmed'; status: string; nextActionUrl: string | null }
  | { outcome: 'declined'; message: string }
  | { outcome: 'refused'; message: string }
  | { outcome: 'unavailable' };

/** The two Stripe calls the pay pages make, against this server's Stripe client (the sandbox). */
export function storefrontShareCalls(stripe: () => Stripe): Pick<StorefrontPaymentRequestDeps, 'confirmCard' | 'intentFor'> {
  return {
    async confirmCard({ paymentIntentId, clientSecret, paymentMethod, returnUrl }) {
      try {
        // The client secret is what Stripe.js confirms with; the server SDK's type has no field for
        // it, but sends it, and the sandbox refuses a secret that is not the PaymentIntent's.
        const params = { client_secret: clientSecret, payment_method: paymentMethod, return_url: returnUrl } as Stripe.PaymentIntentConfirmParams;
        const intent = await stripe().paymentIntents.confirm(paymentIntentId, params);
        return { outcome: 'confirmed', status: intent.status, nextActionUrl: intent.next_action?.redirect_to_url?.url ?? null };
      } catch (error) {
        // What the customer can act on, in the checkout's words (a fraud decline reads as a plain one).
        if (error instanceof Stripe.errors.StripeCardError) return { outcome: 'declined', message: declineFor(error.decline_code ?? error.code ?? null).message };
        if (isProviderUnavailable(error)) return { outcome: 'unavailable' };
        // A wrong client secret, or a PaymentIntent no longer confirmable (paid or canceled meanwhile).
        if (error instanceof Stripe.errors.StripeInvalidRequestError) return { outcome: 'refused', message: error.message };
        throw error;
      }
    },
    async intentFor(paymentIntentId, clientSecret) {
      try {
        const intent = await stripe().paymentIntents.retrieve(paymentIntentId, { client_secret: clientSecret });
        return { memberId: intent.metadata.payment_request_member_id ?? null, status: intent.status };
      } catch (error) {
        if (error instanceof Stripe.errors.StripeInvalidRequestError) return null;
        if (isProviderUnavailable(error)) throw new AppError('SERVICE_UNAVAILABLE', PROVIDER_UNAVAILABLE.message);
        throw error;
      }
    },
  };
}

const FORM_COOKIE = 'storefront_form';
const FORM_COOKIE_VALUE = /^[A-Za-z0-9_-]{43}$/;
const KEY = /^[\x21-\x7e]{1,255}$/;
const TRACK = /^[a-z][a-z0-9_]{1,62}$/;
const CURRENCY = /^[a-z]{3}$/;
const PAYMENT_INTENT_ID = /^pi_[A-Za-z0-9]{1,250}$/;
const CLIENT_SECRET = /^pi_[A-Za-z0-9]{1,250}_secret_[A-Za-z0-9]{1,250}$/;
/** An <input type="datetime-local"> value, read as UTC. */
const LOCAL_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/;
// Control characters (NUL among them; line breaks where a description allows them) and U+FFFD, which
// is what bytes that were not UTF-8 became; and a surrogate without its pair.
const UNPRINTABLE = /[\p{Cc}\uFFFD]/u;
const UNPRINTABLE_BUT_LINE_BREAKS = /[^\P{Cc}\t\n\r]|\uFFFD/u;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const email = z.email();

const DEFAULT_ROWS = 3;
const MAX_MEMBERS = 50;
/** Stripe's largest card payment in the minor unit; the request's total too. */
const MAX_AMOUNT = 99_999_999;
/** 50 members' emails, names and shares, percent-encoded, with room to spare. */
const MAX_SPLIT_FORM_BYTES = 128 * 1024;

/** The form as typed, kept to render it again with its problems. */
interface SplitForm {
  key: string;
  title: string;
  track: string;
  description: string;
  currency: string;
  expires: string;
  members: Array<{ email: string; name: string; amount: string }>;
}

const blankMember = () => ({ email: '', name: '', amount: '' });
const blankForm = (): SplitForm => ({
  key: randomUUID(),
  title: '',
  track: '',
  description: '',
  currency: 'gbp',
  expires: '',
  members: Array.from({ length: DEFAULT_ROWS }, blankMember),
});

export function mountPaymentRequestPages<E extends Env>(app: Hono<E>, db: Db, storefront: Viewer, confirmPayment: (viewer: Viewer, input: ConfirmPaymentInputFields) => Promise<ConfirmPaymentResult>, deps: StorefrontPaymentRequestDeps | undefined) {
  app.get(SPLIT_PATH, async (c) => {
    if (!deps) return c.html(unavailable(), 404);
    return c.html(await splitPage(db, formCsrf(c), blankForm(), []));
  });

  app.post(SPLIT_PATH, (c) =>
    guarded(c, MAX_SPLIT_FORM_BYTES, async (form, csrf) => {
      if (!deps) return c.html(unavailable(), 404);
      const typed = readSplitForm(form);
      // "Add a member row" posts the form back with one more blank row; nothing is created.
      if (form.has('add_row')) {
        if (typed.members.length < MAX_MEMBERS) typed.members.push(blankMember());
        return c.html(await splitPage(db, csrf, typed, []));
      }
      const products = await listPricing(db);
      const checked = checkSplitForm(typed, new Set(products.map((p) => p.id)));
      if ('problems' in checked) return c.html(await splitPage(db, csrf, typed, checked.problems), 400);
      try {
        const result = await deps.service().create(storefront, checked.input);
        if (result.outcome === 'conflict') {
          // The key already made another request (the form was sent again after a change): a new key.
          return c.html(await splitPage(db, csrf, { ...typed, key: randomUUID() }, ['This form already created a request. Press Create request again to make a new one.']), 409);
        }
        const members = await deps.service().members(result.request.id);
        return c.html(createdPage(result.request, members, result.payLinks, result.isRepeat));
      } catch (error) {
        // The service's rules, in words, with the form kept (the request was not written).
        if (error instanceof AppError && error.code === 'BAD_USER_INPUT') return c.html(await splitPage(db, csrf, typed, [ruleInWords(error)]), 400);
        throw error;
      }
    }),
  );

  app.get(PAY_PATH, async (c) => {
    if (!deps) return c.html(unavailable(), 404);
    const token = c.req.query('token') ?? '';
    const share = isPayTokenShape(token) ? await deps.service().shareByToken(token) : null;
    if (!share) return c.html(invalidLink(), 404);
    return c.html(sharePage(share, token, formCsrf(c)));
  });

  // "Pay": the member's PaymentIntent (a new one only when there is none that can still be paid).
  app.post(PAY_PATH, (c) =>
    guarded(c, undefined, async (form, csrf) => {
      if (!deps) return c.html(unavailable(), 404);
      const token = single(form, 'token');
      const key = single(form, 'idempotency_key');
      if (!isPayTokenShape(token)) return c.html(invalidLink(), 404);
      if (!KEY.test(key)) throw new FormError('The request key is not valid.');
      let result;
      try {
        result = await deps.service().payShare(token, key);
      } catch (error) {
        // The second press of a double click while the first is still at Stripe: the first's answer
        // is the same PaymentIntent, which the pay page hands out again.
        if (error instanceof AppError && error.details?.reason === 'IDEMPOTENCY_KEY_IN_PROGRESS') return c.redirect(`${PAY_PATH}?token=${encodeURIComponent(token)}`, 303);
        throw error;
      }
      if (result.outcome === 'conflict') throw new FormError('The request key was used for something else.');
      if (result.outcome === 'refused') {
        if (!result.share) return c.html(invalidLink(), 404);
        return c.html(sharePage(result.share, token, csrf, result.error), statusOf(result.error));
      }
      return c.html(cardPage(result.share, { paymentIntentId: result.paymentIntentId, clientSecret: result.clientSecret }, csrf));
    }),
  );

  // The card, confirmed against the share's PaymentIntent with its client secret (what Stripe.js does
  // from the page; the sandbox takes its test card numbers only). A decline leaves the PaymentIntent
  // payable: the same page again, to try another card on it.
  app.post(`${PAY_PATH}/confirm`, (c) =>
    guarded(c, undefined, async (form, csrf) => {
      if (!deps) return c.html(unavailable(), 404);
      const intent = { paymentIntentId: single(form, 'payment_intent'), clientSecret: single(form, 'client_secret') };
      if (!PAYMENT_INTENT_ID.test(intent.paymentIntentId) || !CLIENT_SECRET.test(intent.clientSecret)) throw new FormError('The payment is not valid.');
      const read = await deps.intentFor(intent.paymentIntentId, intent.clientSecret);
      const share = read?.memberId ? await memberShare(db, read.memberId) : null;
      if (!share) return c.html(unknownPayment(), 404);
      const cardNumber = single(form, 'card_number', 40);
      const paymentMethod = paymentMethodForCardNumber(cardNumber);
      if (!paymentMethod) return c.html(cardPage(share, intent, csrf, { message: 'Use one of the sandbox’s test card numbers (below).', cardNumber }), 400);
      const returnUrl = new URL(`${PAY_PATH}/result`, c.req.url);
      returnUrl.searchParams.set('payment_intent', intent.paymentIntentId);
      returnUrl.searchParams.set('payment_intent_client_secret', intent.clientSecret);
      const confirmed = await deps.confirmCard({ ...intent, paymentMethod, returnUrl: returnUrl.toString() });
      switch (confirmed.outcome) {
        case 'declined':
          return c.html(cardPage(share, intent, csrf, { message: `${confirmed.message} Nothing was charged.`, cardNumber }), 402);
        case 'unavailable':
          return c.html(cardPage(share, intent, csrf, { message: PROVIDER_UNAVAILABLE.message, cardNumber }), 503);
        case 'refused':
          // Paid or canceled since the page was shown: the result page says which.
          return c.redirect(`${returnUrl.pathname}${returnUrl.search}`, 303);
        case 'confirmed':
          // 3-D Secure: the sandbox's challenge page, which comes back to the result page.
          if (confirmed.status === 'requires_action' && confirmed.nextActionUrl) return c.redirect(confirmed.nextActionUrl, 303);
          return c.redirect(`${returnUrl.pathname}${returnUrl.search}`, 303);
      }
    }),
  );

  // Stripe's return page: the payment read back (confirmPayment records it at once, provisional).
  app.get(`${PAY_PATH}/result`, (c) =>
    answering(c, async () => {
      if (!deps) return c.html(unavailable(), 404);
      const intent = { paymentIntentId: c.req.query('payment_intent') ?? '', clientSecret: c.req.query('payment_intent_client_secret') ?? '' };
      const read = PAYMENT_INTENT_ID.test(intent.paymentIntentId) && CLIENT_SECRET.test(intent.clientSecret) ? await deps.intentFor(intent.paymentIntentId, intent.clientSecret) : null;
      if (!read?.memberId) return c.html(unknownPayment(), 404);
      const confirmed = await confirmPayment(storefront, { paymentIntentId: intent.paymentIntentId });
      const share = await memberShare(db, read.memberId);
      if (!share) return c.html(unknownPayment(), 404);
      return c.html(resultPage(share, confirmed, intent, formCsrf(c)));
    }),
  );
}

// --- forms ----------------------------------------------------------------------------------------

/**
 * A form post's common checks, in order: another site's post, the body (size, encoding), the CSRF token
 * against the cookie; then the handler. Bad input is a 400 page and changes nothing.
 */
function guarded(c: Context, maxBytes: number | undefined, handler: (form: URLSearchParams, csrf: string) => Promise<Response>): Promise<Response> {
  return answering(c, async () => {
    // Another site's post, a sibling subdomain's included (it could have set the cookie it then repeats).
    const site = c.req.header('sec-fetch-site');
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return c.html(notFromHere(), 403);
    const form = await readForm(c, maxBytes);
    const cookie = cookieValue(c.req.header('cookie'), FORM_COOKIE);
    if (!cookie || !FORM_COOKIE_VALUE.test(cookie) || !sameText(cookie, form.get('csrf') ?? '')) return c.html(notFromHere(), 403);
    return handler(form, cookie);
  });
}

/** Bad input as a 400 page and our typed errors (Stripe unreachable among them) as theirs, in words. */
async function answering(c: Context, handler: () => Promise<Response>): Promise<Response> {
  try {
    return await handler();
  } catch (error) {
    if (error instanceof FormError) return c.html(page('Bad request', `<h1>Bad request</h1><p>${esc(error.message)} Nothing was changed.</p>${back()}`), 400);
    if (error instanceof AppError) return c.html(page('Cannot do that', `<h1>Cannot do that</h1><p>${esc(error.message)}</p>${back()}`), error.httpStatus as 400);
    throw error;
  }
}

/** The visitor's CSRF value: the cookie's, or a new one set now (a first visit, or a link opened from another site). */
function formCsrf(c: Context): string {
  const existing = cookieValue(c.req.header('cookie'), FORM_COOKIE);
  if (existing && FORM_COOKIE_VALUE.test(existing)) return existing;
  const value = randomBytes(32).toString('base64url');
  c.header('Set-Cookie', `${FORM_COOKIE}=${value}; Path=${SANDBOX_STOREFRONT_PATH}; HttpOnly; SameSite=Strict`);
  return value;
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function cookieValue(header: string | undefined, name: string): string | null {
  for (const part of (header ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=') || null;
  }
  return null;
}

/** One field, present at most once (absent is ''), at most `max` characters, printable, well-formed UTF-16. */
function single(form: URLSearchParams, name: string, max = 255, lineBreaks = false): string {
  const values = form.getAll(name);
  if (values.length > 1) throw new FormError(`The field ${name} was sent more than once.`);
  const value = values[0] ?? '';
  if (value.length > max) throw new FormError(`The field ${name} is longer than ${max} characters.`);
  if ((lineBreaks ? UNPRINTABLE_BUT_LINE_BREAKS : UNPRINTABLE).test(value) || LONE_SURROGATE.test(value)) throw new FormError(`The field ${name} contains characters that are not allowed.`);
  return value;
}

/** The fields as typed; only what no person types (NUL, oversized text, a forged row count) is refused here. */
function readSplitForm(form: URLSearchParams): SplitForm {
  const rows = Number(single(form, 'rows', 2));
  if (!Number.isInteger(rows) || rows < 1 || rows > MAX_MEMBERS) throw new FormError(`A request has 1 to ${MAX_MEMBERS} member rows.`);
  const key = single(form, 'idempotency_key');
  if (!KEY.test(key)) throw new FormError('The request key is not valid.');
  return {
    key,
    title: single(form, 'title', 400),
    track: single(form, 'track', 63),
    description: single(form, 'description', 2000, true),
    currency: single(form, 'currency', 10),
    expires: single(form, 'expires', 20),
    members: Array.from({ length: rows }, (_, i) => ({ email: single(form, `email_${i}`, 400), name: single(form, `name_${i}`, 400), amount: single(form, `amount_${i}`, 40) })),
  };
}

/** The rules a person can break, each in words; the service checks them again in SQL. */
function checkSplitForm(form: SplitForm, tracks: ReadonlySet<string>): { input: CreatePaymentRequestInput } | { problems: string[] } {
  const problems: string[] = [];
  const title = form.title.trim();
  if (title.length === 0 || Array.from(title).length > 200) problems.push('Give the request a title of 1 to 200 characters.');
  const description = form.description.trim();
  const track = form.track;
  if (track !== '' && (!TRACK.test(track) || !tracks.has(track))) problems.push('Choose a track from the list.');
  if (track === '' && description === '') problems.push('Choose a track, or describe what the payment is for.');
  if (track !== '' && description !== '') problems.push('Choose a track or write a description, not both.');
  if (Array.from(description).length > 1000) problems.push('The description is at most 1,000 characters.');
  const currency = form.currency.trim().toLowerCase();
  if (!CURRENCY.test(currency)) problems.push('The currency is a three-letter code, such as gbp.');

  let expiresAt: number | null = null;
  if (form.expires.trim() !== '') {
    const match = LOCAL_TIME.exec(form.expires.trim());
    const time = match ? Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]), Number(match[4]), Number(match[5])) : NaN;
    // Date.UTC rolls 2027-02-30 over into March: only a time that reads back the same is the one meant.
    if (!match || Number.isNaN(time) || new Date(time).toISOString().slice(0, 16) !== form.expires.trim()) problems.push('The expiry is a date and time, such as 2027-01-31T18:00 (UTC).');
    else expiresAt = time;
  }

  const filled = form.members.map((member, index) => ({ ...member, row: index + 1 })).filter((m) => m.email.trim() !== '' || m.name.trim() !== '' || m.amount.trim() !== '');
  if (filled.length === 0) problems.push('Add at least one member: an email and a share.');
  const seen = new Set<string>();
  let total = 0;
  const members: CreatePaymentRequestInput['members'] = [];
  for (const member of filled) {
    const address = member.email.trim();
    if (address.length > 320 || !email.safeParse(address).success) problems.push(`Member ${member.row}: give an email address.`);
    else if (seen.has(address.toLowerCase())) problems.push(`Member ${member.row}: ${address} is already a member; each email once.`);
    seen.add(address.toLowerCase());
    const name = member.name.trim();
    if (Array.from(name).length > 200) problems.push(`Member ${member.row}: the name is at most 200 characters.`);
    const amount = CURRENCY.test(currency) ? parseMoney(member.amount, currency) : null;
    if (amount && !amount.ok) problems.push(`Member ${member.row}: ${amount.message}`);
    else if (amount && (amount.minor < 1 || amount.minor > MAX_AMOUNT)) problems.push(`Member ${member.row}: a share is more than nothing and at most ${minorToInput(MAX_AMOUNT, currency)}.`);
    else if (amount) total += amount.minor;
    members.push({ email: address, name: name === '' ? null : name, amount: amount?.ok ? amount.minor : 0 });
  }
  if (total > MAX_AMOUNT) problems.push(`The shares add up to more than ${minorToInput(MAX_AMOUNT, currency)}, the most one request may ask for.`);
  if (problems.length > 0) return { problems };
  return {
    input: { idempotencyKey: form.key, title, track: track === '' ? null : track, description: description === '' ? null : description, currency, members, expiresAt, metadata: {} },
  };
}

/** The service's own refusals (its SQL checks the rules again) in the page's words where they name a field. */
function ruleInWords(error: AppError): string {
  switch (error.details?.reason) {
    case 'INVALID_EXPIRES_AT':
      return 'The expiry must be in the future, and within a year.';
    case 'UNKNOWN_TRACK':
      return 'That track is not for sale.';
    case 'DUPLICATE_MEMBER_EMAIL':
      return 'Each member’s email may be given once (in any case).';
    case 'TOTAL_TOO_LARGE':
      return 'The shares may add up to at most 99,999,999 in the minor unit.';
    case 'AMOUNT_BELOW_MINIMUM':
      return 'Each share must be at least Stripe’s minimum charge in the currency (30p in GBP, 50 cents in USD or EUR).';
    default:
      return error.message;
  }
}

// --- pages ----------------------------------------------------------------------------------------

const csrfInput = (csrf: string) => `<input type="hidden" name="csrf" value="${esc(csrf)}">`;
const money = (amount: number, currency: string) => esc(formatMoney({ amount, currency }));
const day = (value: string | null) => (value ? `${value.slice(0, 16).replace('T', ' ')} UTC` : '—');

async function splitPage(db: Db, csrf: string, form: SplitForm, problems: string[]): Promise<string> {
  const products = await listPricing(db);
  const trackOptions = [`<option value="">— none: describe it below —</option>`]
    .concat(products.map((p) => `<option value="${esc(p.id)}"${p.id === form.track ? ' selected' : ''}>${esc(p.name)}</option>`))
    .join('');
  const rows = form.members
    .map(
      (member, i) => `<fieldset class="member fields"><legend>Member ${i + 1}</legend>
        <label>Email <input type="email" name="email_${i}" value="${esc(member.email)}" maxlength="320" autocomplete="off"></label>
        <label>Name <input type="text" name="name_${i}" value="${esc(member.name)}" maxlength="200" autocomplete="off"></label>
        <label class="short">Share <input type="text" name="amount_${i}" value="${esc(member.amount)}" inputmode="decimal" placeholder="29.70"></label></fieldset>`,
    )
    .join('');
  const errors = problems.length > 0 ? `<div class="error" role="alert"><p>Nothing was created:</p><ul>${problems.map((p) => `<li>${esc(p)}</li>`).join('')}</ul></div>` : '';
  return page(
    'Split a payment',
    `<h1>Split a payment</h1>
     <p>Split a sum among members: each gets a link of their own to pay their share. The request is paid when every share is.</p>
     ${errors}
     <form method="post" action="${SPLIT_PATH}" class="card stacked">
       <input type="hidden" name="idempotency_key" value="${esc(form.key)}">${csrfInput(csrf)}
       <input type="hidden" name="rows" value="${form.members.length}">
       <label>Title <input type="text" name="title" value="${esc(form.title)}" maxlength="200" placeholder="Team offsite workshop"></label>
       <label>Track <select name="track">${trackOptions}</select></label>
       <label>Or a description <textarea name="description" rows="2" maxlength="1000">${esc(form.description)}</textarea></label>
       <div class="fields">
         <label class="short">Currency <input type="text" name="currency" value="${esc(form.currency)}" maxlength="3" autocomplete="off"></label>
         <label>Expires (UTC, optional) <input type="datetime-local" name="expires" value="${esc(form.expires)}"></label>
       </div>
       <h2>Members</h2>
       <p class="note">Shares in the currency’s units, such as 29.70; they add up to the request’s total. Blank rows are left out.</p>
       ${rows}
       <div class="actions"><button type="submit">Create request</button>
         <button type="submit" name="add_row" value="1" class="secondary"${form.members.length >= MAX_MEMBERS ? ' disabled' : ''}>Add a member row</button></div>
     </form>${back()}`,
  );
}

function createdPage(request: PaymentRequestRow, members: Array<{ id: string; email: string; name: string | null; amount_pence: number; status: string }>, links: MemberPayLink[], isRepeat: boolean): string {
  const linkOf = new Map(links.map((link) => [link.memberId, link.payUrl]));
  // One block per member, the link on a line of its own: a long URL in a table column is unreadable on a phone.
  const rows = members
    .map((m) => {
      const link = linkOf.get(m.id);
      const who = m.name ? `<strong>${esc(m.name)}</strong> <span class="note id">${esc(m.email)}</span>` : `<strong class="id">${esc(m.email)}</strong>`;
      return `<li class="card" data-member="${esc(m.id)}"><p class="member-line">${who} <span class="price nowrap">${money(m.amount_pence, request.currency)}</span></p>
        <p class="id">${link ? `<a href="${esc(link)}">${esc(link)}</a>` : 'No link: see above.'}</p></li>`;
    })
    .join('');
  const notice = isRepeat
    ? `<p class="error">This request was already created by an earlier press of the button; its pay links were shown on that answer only, and cannot be shown again.</p>`
    : `<p class="notice" role="status"><strong>Copy the pay links now: they are shown this once.</strong> Only a fingerprint of each is kept, so they cannot be shown again (a reminder sends members new ones).</p>`;
  return page(
    'Payment request created',
    `<h1>Payment request created</h1>${notice}
     <table>${facts([
       ['Request', request.id],
       ['Title', request.title],
       ['For', request.product_name ?? request.description ?? '—'],
       ['Total', formatMoney({ amount: request.total, currency: request.currency })],
       ['Status', request.status],
       ['Expires', day(request.expires_at)],
     ])}</table>
     <h2>Members and their pay links</h2>
     <ul class="links">${rows}</ul>
     <p><a href="${SPLIT_PATH}">Split another payment</a></p>${back()}`,
  );
}

const facts = (rows: Array<[string, string]>) => rows.map(([label, value]) => `<tr><th class="nowrap">${esc(label)}</th><td class="id">${esc(value)}</td></tr>`).join('');

function shareFacts(share: MemberShareView): string {
  return `<table>${facts([
    ['Request', share.title],
    ['For', share.track_name ?? share.description ?? '—'],
    ['Member', share.member_name],
    ['Your share', formatMoney({ amount: share.amount_pence, currency: share.currency })],
    ['Share status', share.status],
    ['Expires', day(share.expires_at)],
  ])}</table>`;
}

/** The share and what can be done with it: pay, or why not. */
function sharePage(share: MemberShareView, token: string, csrf: string, error?: PaymentRequestError): string {
  const amount = money(share.amount_pence, share.currency);
  let state: string;
  let payable = false;
  if (share.status === 'paid') state = `<p class="notice" role="status">Your share of ${amount} is paid. Thank you.</p>`;
  else if (share.status === 'refunded') state = `<p class="notice" role="status">Your share was paid and then refunded.</p>`;
  else if (share.request_status === 'canceled') state = `<p class="error">This payment request was canceled: nothing more can be paid.</p>`;
  else if (share.request_status === 'expired') state = `<p class="error">This payment request has expired: nothing more can be paid.</p>`;
  else if (share.status === 'processing') state = `<p class="notice" role="status">Your payment of ${amount} is on its way; this page says paid once it arrives.</p>`;
  else {
    payable = true;
    state = `${share.status === 'failed' ? `<p class="note">Your last payment did not go through. You can try again.</p>` : ''}
      <form method="post" action="${PAY_PATH}" class="actions">
        <input type="hidden" name="token" value="${esc(token)}"><input type="hidden" name="idempotency_key" value="${randomUUID()}">${csrfInput(csrf)}
        <button type="submit">Pay ${amount}</button></form>`;
  }
  const intro = payable ? `${share.member_name}, you are asked to pay your share.` : `${share.member_name}, this is your share of the request.`;
  return page(
    share.title,
    `<h1>${esc(share.title)}</h1><p>${esc(intro)}</p>
     ${error ? `<p class="error">${esc(error.message)}</p>` : ''}${shareFacts(share)}${state}${back()}`,
  );
}

/** The card form against the share's PaymentIntent (Elements' part, as the sandbox emulates it). */
function cardPage(share: MemberShareView, intent: { paymentIntentId: string; clientSecret: string }, csrf: string, problem?: { message: string; cardNumber: string }): string {
  const amount = formatMoney({ amount: share.amount_pence, currency: share.currency });
  return page(
    `Pay ${share.title}`,
    `<h1>Pay your share</h1>${shareFacts(share)}
     ${problem ? `<p class="error" role="alert">${esc(problem.message)}</p>` : ''}
     ${cardForm(intent, csrf, `Pay ${amount}`, problem?.cardNumber ?? '4242 4242 4242 4242')}
     <p class="note">Sandbox: 4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined, 4000 0027 6000 3184 asks for 3D Secure. Payment ${esc(intent.paymentIntentId)}.</p>
     ${back()}`,
  );
}

function resultPage(share: MemberShareView, confirmed: ConfirmPaymentResult, intent: { paymentIntentId: string; clientSecret: string }, csrf: string): string {
  const order = confirmed.order;
  const amount = formatMoney({ amount: share.amount_pence, currency: share.currency });
  const heading =
    share.status === 'paid' || confirmed.outcome === 'SUCCEEDED' ? 'Thank you: your share is paid' : confirmed.outcome === 'PROCESSING' ? 'Thank you: your payment is on its way' : 'Your payment is not complete';
  const payable = share.status !== 'paid' && share.status !== 'processing' && share.status !== 'refunded' && (share.request_status === 'open' || share.request_status === 'partially_paid');
  // Not paid (a failed 3-D Secure): the same PaymentIntent can take another card.
  const retry = payable && confirmed.outcome !== 'SUCCEEDED' && confirmed.outcome !== 'PROCESSING' ? cardForm(intent, csrf, `Try again: pay ${amount}`, '4242 4242 4242 4242') : '';
  return page(
    heading,
    `<h1>${esc(heading)}</h1>${confirmed.error ? `<p class="error">${esc(confirmed.error.message)}</p>` : ''}${shareFacts(share)}
     ${order ? `<h2>Payment</h2><table>${facts([
       ['Amount', formatMoney({ amount: order.amount, currency: order.currency })],
       ['Status', order.status],
       ['Sync state', order.sync_state ? `${order.sync_state}${order.sync_state === 'provisional' ? ' (until Stripe’s webhook confirms it)' : ''}` : '—'],
       ['PaymentIntent', order.payment_intent_id ?? intent.paymentIntentId],
     ])}</table>` : ''}${retry}${back()}`,
  );
}

/**
 * The card, against the share's PaymentIntent: its id and client secret travel in the form's body,
 * never in a link (the return page's address, Stripe's own, is the one place the secret is in a URL).
 */
function cardForm(intent: { paymentIntentId: string; clientSecret: string }, csrf: string, button: string, cardNumber: string): string {
  return `<form method="post" action="${PAY_PATH}/confirm" class="card">
     <input type="hidden" name="payment_intent" value="${esc(intent.paymentIntentId)}"><input type="hidden" name="client_secret" value="${esc(intent.clientSecret)}">${csrfInput(csrf)}
     <label>Card number <input type="text" name="card_number" value="${esc(cardNumber)}" inputmode="numeric" autocomplete="cc-number" maxlength="23"></label>
     <div class="actions"><button type="submit">${esc(button)}</button></div></form>`;
}

const statusOf = (error: PaymentRequestError): 404 | 409 | 503 =>
  error.code === 'SHARE_NOT_FOUND' ? 404 : error.code === 'PAYMENT_PROVIDER_UNAVAILABLE' ? 503 : 409;

const invalidLink = () =>
  page('Link not valid', `<h1>This link is not valid</h1><p>This link is not valid (a newer reminder may have replaced it). Use the latest link you were sent.</p>${back()}`);

const notFromHere = () => page('Not sent from this page', `<h1>Not sent from this page</h1><p>The form did not come from this storefront’s page. Nothing was changed. Reload the page and try again.</p>${back()}`);

const unknownPayment = () => page('Unknown payment', `<h1>Unknown payment</h1><p>This payment is not a share of a payment request.</p>${back()}`);

const unavailable = () => page('Not available', `<h1>Not available</h1><p>Payment requests are not set up on this server.</p>${back()}`);

/** The share a PaymentIntent's metadata names, as the pay page shows it. */
async function memberShare(db: Db, memberId: string): Promise<MemberShareView | null> {
  if (!isUuid(memberId)) return null;
  const { rows } = await db.query<MemberShareView>(
    `select m.id as member_id, m.payment_request_id, r.title, r.description, p.name as track_name,
            coalesce(m.name, m.email) as member_name, m.amount_pence::float8 as amount_pence, r.currency,
            m.status, r.status as request_status, to_char(r.expires_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as expires_at
       from payment_request_members m
       join payment_requests r on r.id = m.payment_request_id
       left join products p on p.id = r.product_id
      where m.id = $1`,
    [memberId],
  );
  return rows[0] ?? null;
}
