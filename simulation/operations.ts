// What the simulated business's customers and staff do, each through the real server's public doors:
// the storefront's GraphQL mutations, the sandbox's hosted Checkout and 3-D Secure pages, Stripe.js's
// confirm (the browser's own Stripe client), and the console's staff mutations.
import type Stripe from 'stripe';
import { signStaffToken } from '../server/auth/staffTokens';
import type { ApiFaultMatch } from '../stripe-sandbox/router';
import type { Prng } from './prng';
import { JWT_SECRET, type World } from './world';

export const TRACKS = ['business_plan_builder', 'social_media_email_campaign', 'website_audit_feedback'] as const;
export const PRICES: Record<(typeof TRACKS)[number], number> = { business_plan_builder: 9900, social_media_email_campaign: 4900, website_audit_feedback: 7900 };

/** One customer's journey, as drawn by the generator. */
export const JOURNEYS = ['checkout_paid', 'checkout_declined_then_paid', 'checkout_3ds', 'checkout_abandoned', 'elements_paid', 'elements_declined', 'elements_declined_then_paid', 'elements_3ds', 'elements_3ds_failed', 'elements_abandoned', 'elements_disputed', 'subscription_started', 'subscription_renewal_declined', 'payment_request'] as const;
export type Journey = (typeof JOURNEYS)[number];

export const STAFF_ACTIONS = ['refund_partial', 'refund_full', 'refund_race', 'refund_double_press', 'sync_twice', 'replay_twice', 'subscription_switch', 'subscription_pause', 'subscription_resume', 'subscription_cancel', 'payment_request_cancel', 'payment_request_late_member'] as const;
export type StaffAction = (typeof STAFF_ACTIONS)[number];

/** The simulator's own record of an order it made: its reference (in the order's metadata) and id. */
export interface SimOrder {
  ref: string;
  day: number;
  track: (typeof TRACKS)[number];
  orderId: string | undefined;
  journey: Journey;
  /** A payment_request journey's request and the members who come back to their pay link on a later day. */
  request?: { id: string; latePayers: SimShare[] };
}

/** A member's pay link as the simulator holds it (the token is the member's only credential). */
export interface SimShare {
  ref: string;
  token: string;
  paid: boolean;
}

const ORDER = 'order { id status }';
const CREATE_SESSION = `mutation ($input: CheckoutInput!) { createCheckoutSession(input: $input) { ${ORDER} checkoutSessionId url error { code } } }`;
const CREATE_INTENT = `mutation ($input: CheckoutInput!) { createPaymentIntent(input: $input) { ${ORDER} paymentIntentId error { code } } }`;
const CONFIRM = `mutation ($input: ConfirmPaymentInput!) { confirmPayment(input: $input) { outcome nextActionUrl ${ORDER} error { code } } }`;
const REFUND = `mutation ($input: RefundPaymentInput!) { refundPayment(input: $input) { refund { id status amount { amount } } error { code } isRepeat } }`;
const CREATE_SUBSCRIPTION = `mutation ($input: SubscriptionCheckoutInput!) { createSubscriptionCheckout(input: $input) { ${ORDER} checkoutSessionId url error { code } } }`;
const PREVIEW_SWITCH = `query ($id: ID!, $track: ID!) { previewSubscriptionSwitch(subscriptionId: $id, track: $track) { preview { price { id unitAmount { amount } } prorationDate } error { code } } }`;
const SWITCH = `mutation ($input: SwitchSubscriptionInput!) { switchSubscription(input: $input) { subscription { id status } error { code } isRepeat } }`;
const PAUSE = `mutation ($input: PauseSubscriptionInput!) { pauseSubscription(input: $input) { subscription { id status } error { code } isRepeat } }`;
const RESUME = `mutation ($input: ResumeSubscriptionInput!) { resumeSubscription(input: $input) { subscription { id status } error { code } isRepeat } }`;
const CANCEL = `mutation ($input: CancelSubscriptionInput!) { cancelSubscription(input: $input) { subscription { id status } error { code } isRepeat } }`;
const SYNC = `mutation ($input: SyncOrderInput!) { syncOrder(input: $input) { outcome isRepeat error { code } } }`;
const REPLAY = `mutation ($input: ReplayWebhookEventInput!) { replayWebhookEvent(input: $input) { event { id status } error { code } isRepeat } }`;
const RETRY_MAKE = `mutation ($input: MakeDeliveryActionInput!) { retryMakeDelivery(input: $input) { delivery { id status } error { code } isRepeat } }`;

const CREATE_REQUEST = `mutation ($input: CreatePaymentRequestInput!) { createPaymentRequest(input: $input) { paymentRequest { id status } payLinks { memberId email payUrl } isRepeat error { code } } }`;
const PAY_SHARE = `mutation ($input: PayMemberShareInput!) { payMemberShare(input: $input) { paymentIntentId isRepeat error { code } } }`;
const CANCEL_REQUEST = `mutation ($input: PaymentRequestActionInput!) { cancelPaymentRequest(input: $input) { paymentRequest { id status } isRepeat error { code } } }`;

const RETURN_URL = 'https://shop.simulated.test/checkout/return';
const CARDS = { visa: '4242424242424242', declined: '4000000000000002', threeDS: '4000000000003220' };

/** The API faults planned at a step (simulation/run.ts): armed for the calls the step names, once. */
export interface StepApiFaults {
  arm: (match: ApiFaultMatch) => void;
}

/**
 * Staff actions that send two calls to Stripe at once and arm their step's API faults themselves, for
 * the one of the two they name; every other step's are armed for any call before it starts.
 */
export const targetsItsOwnApiFaults = (action: StaffAction): boolean => action === 'refund_race';

/** Thrown when the server answered with a GraphQL error (an injected fault may cause one): the journey stops there. */
export class OperationFailed extends Error {
  override name = 'OperationFailed';
}

/** Both presses of a double press: the second may be told the first is still working (a CONFLICT the client waits out). */
async function twice(first: Promise<unknown>, second: Promise<unknown>): Promise<void> {
  const results = await Promise.allSettled([first, second]);
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  const inProgress = (r: PromiseRejectedResult) => String((r.reason as Error).message).includes('is in use by a call still working');
  if (failed.length === 2 || failed.some((r) => !inProgress(r))) throw failed.find((r) => !inProgress(r))?.reason ?? failed[0]!.reason;
}

async function call(world: World, query: string, input: Record<string, unknown>, auth: 'storefront' | 'admin' | { bearer: string }): Promise<any> {
  const response = typeof auth === 'string' ? await world.graphql(query, { input }, auth) : await asCustomer(world, query, { input }, auth.bearer);
  if (response.errors?.length) throw new OperationFailed(response.errors.map((e) => `${e.extensions?.code ?? ''} ${e.message}`).join('; '));
  return Object.values(response.data ?? {})[0];
}

/** A signed-in storefront customer's request: their own bearer token (a customer has no staff role). */
async function asCustomer(world: World, query: string, variables: Record<string, unknown>, bearer: string): Promise<Awaited<ReturnType<World['graphql']>>> {
  const response = await fetch(`${world.app.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` }, body: JSON.stringify({ query, variables }) });
  return (await response.json()) as never;
}

function checkoutInput(prng: Prng, order: SimOrder): Record<string, unknown> {
  return { idempotencyKey: prng.uuid(), track: order.track, email: `${order.ref}@customers.simulated.test`, name: `Customer ${order.ref}`, metadata: [{ key: 'sim_ref', value: order.ref }] };
}

async function payOnHostedPage(url: string, card: string): Promise<{ status: number; location: string | null }> {
  const response = await fetch(url, { method: 'POST', body: new URLSearchParams({ card_number: card, email: 'payer@customers.simulated.test', name: 'Payer' }), redirect: 'manual' });
  await response.arrayBuffer();
  return { status: response.status, location: response.headers.get('location') };
}

/** Checkout's hosted 3-D Secure challenge, passed: its form posts outcome=complete. */
async function authenticateOnHostedPage(url: string): Promise<string | null> {
  const response = await fetch(url, { method: 'POST', body: new URLSearchParams({ outcome: 'complete' }), redirect: 'manual' });
  await response.arrayBuffer();
  return response.headers.get('location');
}

async function authenticate(url: string, outcome: 'succeed' | 'fail'): Promise<string | null> {
  const response = await fetch(url, { method: 'POST', body: new URLSearchParams({ outcome }), redirect: 'manual' });
  await response.arrayBuffer();
  return response.headers.get('location');
}

/** Stripe.js in the customer's browser: confirm with a test payment method; a decline is an answer, not a failure. */
async function confirmInBrowser(world: World, intentId: string, paymentMethod: string): Promise<void> {
  await world.browser.paymentIntents.confirm(intentId, { payment_method: paymentMethod, return_url: RETURN_URL }).catch((error: Stripe.errors.StripeError) => {
    if (error.type !== 'StripeCardError') throw error;
  });
}

/** The storefront's return page: confirmPayment with the session or intent; the customer may close the tab first. */
async function returnPage(world: World, prng: Prng, input: { checkoutSessionId?: string | null; paymentIntentId?: string }): Promise<any> {
  if (!prng.chance(0.85)) return undefined;
  return call(world, CONFIRM, input, 'storefront');
}

export async function runJourney(world: World, prng: Prng, order: SimOrder): Promise<void> {
  if (order.journey === 'subscription_started' || order.journey === 'subscription_renewal_declined') return subscriptionJourney(world, prng, order);
  if (order.journey === 'payment_request') return paymentRequestJourney(world, prng, order);
  if (order.journey.startsWith('checkout_')) return checkoutJourney(world, prng, order);
  return elementsJourney(world, prng, order);
}

async function checkoutJourney(world: World, prng: Prng, order: SimOrder): Promise<void> {
  const created = await call(world, CREATE_SESSION, checkoutInput(prng, order), 'storefront');
  order.orderId = created.order?.id;
  if (!created.url) return;
  const sessionId = created.checkoutSessionId as string;
  switch (order.journey) {
    case 'checkout_abandoned':
      return;
    case 'checkout_declined_then_paid': {
      const declined = await payOnHostedPage(created.url, CARDS.declined);
      if (declined.status === 303) throw new OperationFailed(`a declined card was accepted on the hosted page (${declined.location})`);
      break;
    }
    case 'checkout_3ds': {
      const challenged = await payOnHostedPage(created.url, CARDS.threeDS);
      // The hosted page's challenge form answers outcome=complete|fail (Stripe.js's next-action page: succeed|fail).
      if (challenged.location) await authenticateOnHostedPage(challenged.location);
      await returnPage(world, prng, { checkoutSessionId: sessionId });
      return;
    }
  }
  await payOnHostedPage(created.url, CARDS.visa);
  await returnPage(world, prng, { checkoutSessionId: sessionId });
}

/** A monthly subscription to the track through hosted Checkout (its first invoice pays the order). */
async function subscriptionJourney(world: World, prng: Prng, order: SimOrder): Promise<void> {
  const created = await call(world, CREATE_SUBSCRIPTION, { idempotencyKey: prng.uuid(), track: order.track, email: `${order.ref}@customers.simulated.test`, name: `Customer ${order.ref}` }, 'storefront');
  order.orderId = created.order?.id;
  if (!created.url) return;
  await payOnHostedPage(created.url, CARDS.visa);
  await returnPage(world, prng, { checkoutSessionId: created.checkoutSessionId });
  if (order.journey !== 'subscription_renewal_declined') return;
  // Later, in Stripe's customer portal, the customer renews on another card: one that attaches and
  // whose every charge is declined (4000 0000 0000 0341), so each renewal by the clock fails and the
  // subscription goes past_due. Our server hears of it only through Stripe's webhooks.
  const session = await world.browser.checkout.sessions.retrieve(created.checkoutSessionId);
  const subscriptionId = typeof session.subscription === 'string' ? session.subscription : session.subscription?.id;
  if (subscriptionId) await world.browser.subscriptions.update(subscriptionId, { default_payment_method: 'pm_card_chargeCustomerFail' });
}

/** Subscriptions staff may act on, in the simulator's order (its reference is the customer's email). */
export async function subscriptionsFor(world: World, statuses: string[], paused?: boolean): Promise<string[]> {
  const { rows } = await world.app.db.query<{ id: string }>(
    `select s.id from subscriptions s join customers c on c.id = s.customer_id
      where s.status = any($1::text[]) and s.cancel_at_period_end = false and ($2::boolean is null or (s.pause_behavior is not null) = $2)
      order by c.email, s.id limit 1000`,
    [statuses, paused ?? null],
  );
  return rows.map((r) => r.id);
}

/** Staff actions that act on no paid order of the day's picking: subscriptions and payment requests. */
export const isOrderlessAction = (action: StaffAction): boolean => action.startsWith('subscription_') || action.startsWith('payment_request_');

/** Runs an orderless action; answers whether it found something to act on. */
export async function runOrderlessAction(world: World, prng: Prng, action: StaffAction, orders: SimOrder[]): Promise<boolean> {
  if (action === 'payment_request_cancel') return cancelSomeRequest(world, prng);
  if (action === 'payment_request_late_member') return lateMemberPays(world, prng, orders);
  return runSubscriptionAction(world, prng, action);
}

export async function runSubscriptionAction(world: World, prng: Prng, action: StaffAction): Promise<boolean> {
  // A past_due subscription (a declined renewal) may still be switched or canceled; pause and resume are for ones in good standing.
  const statuses = action === 'subscription_switch' || action === 'subscription_cancel' ? ['active', 'trialing', 'past_due'] : ['active', 'trialing'];
  const candidates = await subscriptionsFor(world, statuses, action === 'subscription_resume' ? true : action === 'subscription_pause' ? false : undefined);
  if (candidates.length === 0) return false;
  const subscriptionId = prng.pick(candidates);
  switch (action) {
    case 'subscription_switch': {
      const track = prng.pick(TRACKS);
      const preview = (await world.graphql(PREVIEW_SWITCH, { id: subscriptionId, track }, 'admin'));
      const shown = preview.data?.previewSubscriptionSwitch?.preview;
      if (!shown) return true; // SAME_TRACK, or not switchable: the preview said so
      await call(world, SWITCH, { idempotencyKey: prng.uuid(), subscriptionId, track, priceId: shown.price.id, unitAmount: shown.price.unitAmount.amount, prorationDate: shown.prorationDate, prorationBehavior: prng.pick(['CREATE_PRORATIONS', 'ALWAYS_INVOICE']) }, 'admin');
      return true;
    }
    case 'subscription_pause':
      await call(world, PAUSE, { idempotencyKey: prng.uuid(), subscriptionId, behavior: prng.pick(['VOID', 'KEEP_AS_DRAFT', 'MARK_UNCOLLECTIBLE']) }, 'admin');
      return true;
    case 'subscription_resume':
      await call(world, RESUME, { idempotencyKey: prng.uuid(), subscriptionId }, 'admin');
      return true;
    default:
      await call(world, CANCEL, { idempotencyKey: prng.uuid(), subscriptionId, atPeriodEnd: prng.chance(0.5) }, 'admin');
      return true;
  }
}

async function elementsJourney(world: World, prng: Prng, order: SimOrder): Promise<void> {
  const created = await call(world, CREATE_INTENT, checkoutInput(prng, order), 'storefront');
  order.orderId = created.order?.id;
  const intentId = created.paymentIntentId as string | null;
  if (!intentId || order.journey === 'elements_abandoned') return;
  switch (order.journey) {
    case 'elements_paid':
      await confirmInBrowser(world, intentId, 'pm_card_visa');
      await returnPage(world, prng, { paymentIntentId: intentId });
      return;
    case 'elements_disputed':
      // Paid with the test card whose charge the cardholder disputes a moment later.
      await confirmInBrowser(world, intentId, 'pm_card_createDispute');
      await returnPage(world, prng, { paymentIntentId: intentId });
      return;
    case 'elements_declined':
      await confirmInBrowser(world, intentId, 'pm_card_chargeDeclined');
      await returnPage(world, prng, { paymentIntentId: intentId });
      return;
    case 'elements_declined_then_paid': {
      await confirmInBrowser(world, intentId, 'pm_card_chargeDeclined');
      await returnPage(world, prng, { paymentIntentId: intentId });
      // The customer tries again on the same order: the storefront asks for its payment again.
      const again = await call(world, CREATE_INTENT, { idempotencyKey: prng.uuid(), orderId: order.orderId }, 'storefront');
      if (!again.paymentIntentId) return;
      await confirmInBrowser(world, again.paymentIntentId, 'pm_card_visa');
      await returnPage(world, prng, { paymentIntentId: again.paymentIntentId });
      return;
    }
    case 'elements_3ds':
    case 'elements_3ds_failed': {
      await confirmInBrowser(world, intentId, 'pm_card_threeDSecure2Required');
      const pending = await call(world, CONFIRM, { paymentIntentId: intentId }, 'storefront');
      if (pending.nextActionUrl) await authenticate(pending.nextActionUrl, order.journey === 'elements_3ds' ? 'succeed' : 'fail');
      await returnPage(world, prng, { paymentIntentId: intentId });
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Staff.

/** Orders the staff may act on today: paid ones by the database, in the simulator's order. */
export async function paidOrders(world: World, orders: SimOrder[]): Promise<Array<SimOrder & { amount: number; refundable: number }>> {
  const ids = orders.map((o) => o.orderId).filter((id): id is string => Boolean(id));
  const { rows } = await world.app.db.query<{ id: string; amount: number; refunded: number }>(
    `select o.id::text, o.amount::int as amount,
            coalesce((select sum(r.amount) from refunds r where r.order_id = o.id and r.status in ('creating', 'pending', 'requires_action', 'succeeded')), 0)::int as refunded
       from orders o where o.id = any($1::uuid[]) and o.status in ('paid', 'partially_refunded')`,
    [ids],
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  return orders.filter((o) => o.orderId && byId.has(o.orderId)).map((o) => ({ ...o, amount: byId.get(o.orderId!)!.amount, refundable: byId.get(o.orderId!)!.amount - byId.get(o.orderId!)!.refunded }));
}

const refund = (world: World, orderId: string, amount: number | undefined, key: string) =>
  call(world, REFUND, { orderId, amount, reason: 'REQUESTED_BY_CUSTOMER', note: 'simulated', idempotencyKey: key }, 'admin');

export async function runStaffAction(world: World, prng: Prng, action: StaffAction, order: SimOrder & { amount: number; refundable: number }, faults?: StepApiFaults): Promise<void> {
  const orderId = order.orderId!;
  switch (action) {
    case 'refund_partial':
      await refund(world, orderId, prng.int(100, Math.max(100, Math.floor(order.refundable / 2))), prng.uuid());
      return;
    case 'refund_full':
      await refund(world, orderId, undefined, prng.uuid());
      return;
    case 'refund_race': {
      // Two staff members refund about a third of what is left each at the same moment: both fit, so
      // both must be made, once. The amounts differ by a cent, so the step's faults can name one of the
      // two calls: the first's Stripe create (and the SDK's retry of it, the same parameters) meets the
      // API faults, and a database fault waiting for refund_claim fails the first's claim (its key),
      // whichever of the two the server reaches first.
      if (order.refundable < 3) return; // not two refunds' worth left (a cent each, and a cent apart)
      const first = Math.floor(order.refundable / 3);
      const [a, b] = [prng.uuid(), prng.uuid()];
      faults?.arm({ method: 'POST', path: '/v1/refunds', params: { amount: String(first), 'metadata[order_id]': orderId } });
      world.faults.narrow('refund_claim', (params) => JSON.stringify(params ?? []).includes(a));
      // Both answered before the step ends, even when one is an error: a call still under way would
      // meet the next step's faults.
      const answers = await Promise.allSettled([refund(world, orderId, first, a), refund(world, orderId, first - 1, b)]);
      const failed = answers.find((answer): answer is PromiseRejectedResult => answer.status === 'rejected');
      if (failed) throw failed.reason;
      return;
    }
    case 'refund_double_press': {
      // One press sent twice (a double click): one refund.
      const key = prng.uuid();
      const amount = prng.int(100, Math.max(100, Math.floor(order.refundable / 2)));
      await twice(refund(world, orderId, amount, key), refund(world, orderId, amount, key));
      return;
    }
    case 'sync_twice': {
      const key = prng.uuid();
      await twice(call(world, SYNC, { orderId, idempotencyKey: key }, 'admin'), call(world, SYNC, { orderId, idempotencyKey: key }, 'admin'));
      return;
    }
    case 'replay_twice': {
      const { rows } = await world.app.db.query<{ id: string }>(
        `select e.id from stripe_events e join orders o on o.payment_intent_id = e.object_id where o.id = $1 and e.type = 'payment_intent.succeeded' limit 1`,
        [orderId],
      );
      if (!rows[0]) return;
      const [a, b] = [prng.uuid(), prng.uuid()];
      await call(world, REPLAY, { id: rows[0].id, idempotencyKey: a }, 'admin');
      await call(world, REPLAY, { id: rows[0].id, idempotencyKey: b }, 'admin');
      return;
    }
  }
}

/**
 * Staff close open disputes in Stripe's dashboard (accepting them: lost), each with this chance; the
 * webhooks tell the server. Answers how many.
 */
export async function closeSomeDisputes(world: World, prng: Prng, chance: number): Promise<number> {
  const store = world.app.stripeSandbox!.core.store;
  // In the simulator's order (its reference on the disputed payment), not by Stripe's random ids.
  const refOf = (d: Stripe.Dispute) => {
    const intent = typeof d.payment_intent === 'string' ? store.collection<Stripe.PaymentIntent>('payment_intent').get(d.payment_intent) : undefined;
    return intent?.metadata.sim_ref ?? '';
  };
  const open = store
    .collection<Stripe.Dispute>('dispute')
    .all()
    .filter((d) => ['needs_response', 'warning_needs_response'].includes(d.status))
    .sort((a, b) => refOf(a).localeCompare(refOf(b)));
  let closed = 0;
  for (const dispute of open) {
    if (!prng.chance(chance)) continue;
    await world.browser.disputes.close(dispute.id);
    closed += 1;
  }
  return closed;
}

/** Staff press retry on every Make delivery still waiting or dead, twice (one key: a double press). Answers how many. */
export async function retryStuckDeliveries(world: World, prng: Prng): Promise<number> {
  const { rows } = await world.app.db.query<{ id: string }>(`select id::text from make_deliveries where status in ('pending', 'dead') and attempts > 0 order by id`);
  for (const row of rows) {
    const key = prng.uuid();
    await twice(call(world, RETRY_MAKE, { id: row.id, idempotencyKey: key }, 'admin'), call(world, RETRY_MAKE, { id: row.id, idempotencyKey: key }, 'admin'));
  }
  return rows.length;
}

// ---------------------------------------------------------------------------------------------------
// Payment requests (issue 20): a request split among 2 to 5 members, each paying their share on their
// own pay link (payMemberShare, then Stripe.js's confirm from the member's browser, as the storefront's
// pay page does), or declining then paying again, or never paying, or coming back on a later day.

/** What one member does with their pay link. */
const MEMBER_BEHAVIOURS = { pays: 45, pays_double_press: 8, declines_then_pays: 15, declines: 7, never: 12, later: 13 } as const;
type MemberBehaviour = keyof typeof MEMBER_BEHAVIOURS;

/** The request's creator: the storefront for a guest, a signed-in customer, or staff in the console. */
async function creatorAuth(prng: Prng, order: SimOrder): Promise<'storefront' | 'admin' | { bearer: string }> {
  const kind = prng.pick(['storefront', 'customer', 'staff'] as const);
  if (kind === 'storefront') return 'storefront';
  if (kind === 'staff') return 'admin';
  const bearer = await signStaffToken(JWT_SECRET, { userId: prng.uuid(), email: `${order.ref}@customers.simulated.test`, audience: 'authenticated', expiresIn: '24h' });
  return { bearer };
}

async function paymentRequestJourney(world: World, prng: Prng, order: SimOrder): Promise<void> {
  const auth = await creatorAuth(prng, order);
  const count = prng.int(2, 5);
  const members = Array.from({ length: count }, (_, i) => ({ email: `${order.ref}m${i + 1}@members.simulated.test`, name: `Member ${i + 1} of ${order.ref}`, amount: prng.int(6, 60) * 100 + prng.int(0, 99) }));
  const behaviours = members.map(() => prng.weighted(MEMBER_BEHAVIOURS) as MemberBehaviour);
  const withTrack = prng.chance(0.6);
  // Mostly the catalog's currency; some in pounds, which the Overview reports apart.
  const currency = prng.chance(0.75) ? 'usd' : 'gbp';
  // Some requests expire: at midday of a later simulated day by Stripe's clock (the sandbox moves a day
  // per simulated day, and the janitor's pass at a day's end expires what is past due).
  const expiresInDays = prng.chance(0.35) ? prng.int(1, 3) : 0;
  const expiresAt = expiresInDays ? new Date((world.app.stripeSandbox!.core.clock.now() + expiresInDays * 86_400 - 12 * 3600) * 1000).toISOString() : undefined;
  const created = await call(
    world,
    CREATE_REQUEST,
    {
      idempotencyKey: prng.uuid(),
      title: `Split ${order.ref}`,
      ...(withTrack ? { track: order.track } : { description: `A workshop split between ${count} friends` }),
      currency,
      members,
      ...(expiresAt ? { expiresAt } : {}),
      metadata: [{ key: 'sim_ref', value: order.ref }],
    },
    auth,
  );
  if (!created.paymentRequest) return;
  const links = created.payLinks as Array<{ email: string; payUrl: string }>;
  const shares: SimShare[] = members.map((m, i) => ({ ref: `${order.ref}m${i + 1}`, token: new URL(links.find((l) => l.email === m.email)!.payUrl).searchParams.get('token')!, paid: false }));
  order.request = { id: created.paymentRequest.id, latePayers: shares.filter((_, i) => behaviours[i] === 'later') };
  // Each member is a person of their own: one stopped by an error answer does not stop the next.
  let stopped: unknown;
  for (const [i, share] of shares.entries()) {
    try {
      await payShare(world, prng, share, behaviours[i]!);
    } catch (error) {
      stopped ??= error;
    }
  }
  if (stopped) throw stopped;
}

/** One member on their pay page: payMemberShare, then the card confirmed against the share's PaymentIntent. */
async function payShare(world: World, prng: Prng, share: SimShare, behaviour: MemberBehaviour): Promise<void> {
  if (behaviour === 'never' || behaviour === 'later') return;
  const start = async () => {
    const key = prng.uuid();
    if (behaviour !== 'pays_double_press') return call(world, PAY_SHARE, { token: share.token, idempotencyKey: key }, 'storefront');
    // Pay pressed twice: one key, one PaymentIntent (the second press may be told the first is still working).
    const presses = [call(world, PAY_SHARE, { token: share.token, idempotencyKey: key }, 'storefront'), call(world, PAY_SHARE, { token: share.token, idempotencyKey: key }, 'storefront')];
    await twice(presses[0]!, presses[1]!);
    const answers = (await Promise.allSettled(presses)).map((r) => (r.status === 'fulfilled' ? r.value : undefined));
    return answers.find((a) => a?.paymentIntentId) ?? answers.find(Boolean);
  };
  const first = await start();
  if (!first?.paymentIntentId) return; // refused (not payable, paid meanwhile): the page says so
  if (behaviour === 'declines' || behaviour === 'declines_then_pays') {
    await confirmInBrowser(world, first.paymentIntentId, 'pm_card_chargeDeclined');
    await returnPage(world, prng, { paymentIntentId: first.paymentIntentId });
    if (behaviour === 'declines') return;
    // The member presses Pay again: the same PaymentIntent, payable again after the decline.
    const again = await call(world, PAY_SHARE, { token: share.token, idempotencyKey: prng.uuid() }, 'storefront');
    if (!again?.paymentIntentId) return;
    await confirmInBrowser(world, again.paymentIntentId, 'pm_card_visa');
    await returnPage(world, prng, { paymentIntentId: again.paymentIntentId });
    share.paid = true;
    return;
  }
  await confirmInBrowser(world, first.paymentIntentId, 'pm_card_visa');
  await returnPage(world, prng, { paymentIntentId: first.paymentIntentId });
  share.paid = true;
}

/** A member comes back to their pay link on a later step (the request may have completed, been canceled or expired since). */
async function lateMemberPays(world: World, prng: Prng, orders: SimOrder[]): Promise<boolean> {
  const waiting = orders.flatMap((o) => o.request?.latePayers.filter((s) => !s.paid) ?? []);
  if (waiting.length === 0) return false;
  const share = prng.pick(waiting);
  share.paid = true; // whatever the page answers, this member does not come back again
  await payShare(world, prng, share, prng.chance(0.25) ? 'declines_then_pays' : 'pays');
  return true;
}

/** Staff cancel an open request from the console (some pressed twice with one key), in the simulator's order. */
async function cancelSomeRequest(world: World, prng: Prng): Promise<boolean> {
  const { rows } = await world.app.db.query<{ id: string }>(
    `select id::text from payment_requests where status in ('open', 'partially_paid') order by metadata->>'sim_ref', id limit 1000`,
  );
  if (rows.length === 0) return false;
  const id = prng.pick(rows).id;
  const key = prng.uuid();
  if (prng.chance(0.3)) await twice(call(world, CANCEL_REQUEST, { id, idempotencyKey: key }, 'admin'), call(world, CANCEL_REQUEST, { id, idempotencyKey: key }, 'admin'));
  else await call(world, CANCEL_REQUEST, { id, idempotencyKey: key }, 'admin');
  return true;
}
