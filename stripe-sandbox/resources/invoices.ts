// Subscription invoices: built by subscriptions.ts (creation, renewals, immediate prorations), paid
// from the subscription's (or customer's) default payment method, retrievable and listable; plus
// the invoice preview (`POST /v1/invoices/create_preview`, whose subscription logic lives in
// subscriptions.ts so that a preview and the real change share one proration computation).
//
// Payments as API 2026-10-28.endive has them (since 2025-03-31.basil an invoice has no
// `payment_intent` or `charge`): each attempt to charge an invoice goes through its default
// InvoicePayment (`inpay_`), made on the first attempt with a PaymentIntent (off-session, with its
// Charge and their usual events), retried on the same PaymentIntent. The invoice's `payments` list is
// includable (only with `expand[]=payments`), and `GET /v1/invoice_payments?invoice=` lists them, so
// a subscription payment can be found, and refunded through its PaymentIntent or Charge.
// Pending proration items are Stripe's invoice items (`ii_`, `GET /v1/invoiceitems`), `invoice` set
// once an invoice takes them.
//
// Not emulated: automatic payment retries (next_payment_attempt stays null), bank debits paying an
// invoice (a processing payment leaves it open), taxes, discounts, one-off invoices and creating
// invoice items by hand.
import type Stripe from 'stripe';
import { includableFields, type SandboxCore } from '../core';
import { invalidRequest, missingParam } from '../errors';
import { newId } from '../ids';
import { createdFilter, paginate } from '../list';
import { optionalBoolean, optionalEnum, optionalObject, optionalString, type Params, rejectUnknown } from '../params';
import type { Route } from '../router';
import type { StripeObject } from '../store';
import type { Actor } from './charges';
import { customers } from './customers';
import { confirmWith, openPaymentIntent, paymentIntents } from './paymentIntents.machine';
import { behaviourOf, resolvePaymentMethod, TEST_PAYMENT_METHODS } from './paymentMethods';
import { decimalString } from './prices';
import { previewInvoice } from './subscriptions';

export const invoices = (core: SandboxCore) => core.store.collection<Stripe.Invoice>('invoice');

/** One line of an invoice to be, before it gets an `il_` id. */
export interface LineSpec {
  amount: number;
  quantity: number;
  price: Stripe.Price;
  description: string;
  period: { start: number; end: number };
  proration: boolean;
  subscription: string | null;
  subscriptionItem: string;
  /** The pending invoice item (`ii_`) the line comes from: prorations. */
  invoiceItem: string | null;
}

/** A proration item (Stripe's invoice item): pending until an invoice takes it (`invoice` then set). */
export interface PendingItem extends StripeObject {
  object: 'invoiceitem';
  created: number;
  customer: string;
  subscription: string;
  line: LineSpec;
  /** The invoice that took it; absent (older state files) or null while pending. */
  invoice?: string | null;
}

export const pendingItems = (core: SandboxCore) => core.store.collection<PendingItem>('invoiceitem');

/** Events collected while a change is computed, emitted afterwards in Stripe's order (each a snapshot). */
export class EventSink {
  private readonly queued: Array<{ type: string; object: { id: string; object: string }; previous?: Record<string, unknown> }> = [];
  constructor(
    private readonly core: SandboxCore,
    readonly request?: { id: string | null; idempotency_key: string | null },
  ) {}
  add(type: string, object: { id: string; object: string }, previous?: Record<string, unknown>): void {
    this.queued.push({ type, object: structuredClone(object), ...(previous ? { previous: structuredClone(previous) } : {}) });
  }
  flush(): void {
    for (const e of this.queued.splice(0)) {
      this.core.events.emit(e.type, e.object, { ...(e.previous ? { previousAttributes: e.previous } : {}), ...(this.request ? { request: this.request } : {}) });
    }
  }
}

/**
 * Why a payment with `paymentMethod` fails, or null when it succeeds: the test PaymentMethods of
 * paymentMethods.ts (magic ids like pm_card_chargeDeclined, or the pm_ objects made from them).
 * Invoices are paid off-session, so a card that needs 3-D Secure fails (authentication_required).
 */
export function declineCodeFor(core: SandboxCore, paymentMethod: string | null): string | null {
  if (!paymentMethod) return 'no_payment_method';
  const behaviour = TEST_PAYMENT_METHODS[paymentMethod]?.behaviour ?? behaviourOf(core, paymentMethod);
  if (behaviour.kind === 'decline') return behaviour.declineCode;
  if (behaviour.kind === 'three_d_secure') return 'authentication_required';
  return null;
}

function lineItem(spec: LineSpec, invoiceId: string | null): Stripe.InvoiceLineItem {
  return {
    id: newId('il', 24),
    object: 'line_item',
    amount: spec.amount,
    currency: spec.price.currency,
    description: spec.description,
    discount_amounts: [],
    discountable: !spec.proration,
    discounts: [],
    invoice: invoiceId,
    livemode: false,
    metadata: {},
    parent: {
      type: 'subscription_item_details',
      invoice_item_details: null,
      subscription_item_details: {
        invoice_item: spec.invoiceItem,
        proration: spec.proration,
        proration_details: spec.proration ? { credited_items: null } : null,
        subscription: spec.subscription,
        subscription_item: spec.subscriptionItem,
      },
    },
    period: { ...spec.period },
    pretax_credit_amounts: [],
    pricing: {
      type: 'price_details',
      price_details: { price: spec.price.id, product: typeof spec.price.product === 'string' ? spec.price.product : spec.price.product.id },
      unit_amount_decimal: decimalString(spec.quantity > 0 ? spec.amount / spec.quantity : spec.amount),
    },
    quantity: spec.quantity,
    quantity_decimal: decimalString(spec.quantity),
    subscription: spec.subscription,
    subtotal: spec.amount,
    taxes: [],
  };
}

export interface DraftOptions {
  customer: Stripe.Customer;
  subscription: Stripe.Subscription | null;
  billingReason: Stripe.Invoice.BillingReason;
  lines: LineSpec[];
  periodStart: number;
  periodEnd: number;
  currency: string;
  /** A preview: an `upcoming_in_` id (as Stripe's previews carry), never stored. */
  preview?: boolean;
  prorationDate?: number;
}

/** A draft invoice (status `draft`, or `null`-numbered preview) with its lines. Not stored. */
export function draftInvoice(core: SandboxCore, options: DraftOptions): Stripe.Invoice {
  const { customer, subscription } = options;
  const id = options.preview ? newId('upcoming_in', 24) : newId('in', 24);
  const now = core.clock.now();
  const lines = options.lines.map((l) => lineItem(l, options.preview ? null : id));
  const subtotal = lines.reduce((sum, l) => sum + l.amount, 0);
  const startingBalance = customer.balance ?? 0;
  const amountDue = Math.max(0, subtotal + startingBalance);
  const invoice: Stripe.Invoice = {
    id,
    object: 'invoice',
    account_country: 'US',
    account_name: 'Stripe Sandbox',
    account_tax_ids: null,
    amount_due: amountDue,
    amount_overpaid: 0,
    amount_paid: 0,
    amount_paid_off_stripe: 0,
    amount_remaining: amountDue,
    amount_shipping: 0,
    application: null,
    attempt_count: 0,
    attempted: false,
    auto_advance: !options.preview,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null, provider: null, status: null },
    automatically_finalizes_at: null,
    billing_reason: options.billingReason,
    collection_method: subscription?.collection_method ?? 'charge_automatically',
    confirmation_secret: null,
    created: now,
    currency: options.currency,
    custom_fields: null,
    customer: customer.id,
    customer_account: null,
    customer_address: customer.address ?? null,
    customer_email: customer.email ?? null,
    customer_name: customer.name ?? null,
    customer_phone: customer.phone ?? null,
    customer_shipping: customer.shipping ?? null,
    customer_tax_exempt: customer.tax_exempt ?? 'none',
    customer_tax_ids: [],
    default_payment_method: null,
    default_source: null,
    default_tax_rates: [],
    description: subscription?.description ?? null,
    discounts: [],
    due_date: subscription?.collection_method === 'send_invoice' && subscription.days_until_due !== null ? now + subscription.days_until_due * 86400 : null,
    effective_at: null,
    ending_balance: null,
    footer: null,
    from_invoice: null,
    hosted_invoice_url: null,
    invoice_pdf: null,
    issuer: { type: 'self' },
    last_finalization_error: null,
    latest_revision: null,
    lines: { object: 'list', data: lines, has_more: false, url: `/v1/invoices/${id}/lines` },
    livemode: false,
    metadata: {},
    next_payment_attempt: null,
    number: null,
    on_behalf_of: null,
    parent: subscription
      ? {
          type: 'subscription_details',
          quote_details: null,
          subscription_details: {
            metadata: { ...subscription.metadata },
            subscription: subscription.id,
            ...(options.prorationDate !== undefined ? { subscription_proration_date: options.prorationDate } : {}),
          },
        }
      : null,
    payment_settings: { default_mandate: null, payment_method_options: null, payment_method_types: null },
    period_end: options.periodEnd,
    period_start: options.periodStart,
    post_payment_credit_notes_amount: 0,
    pre_payment_credit_notes_amount: 0,
    receipt_number: null,
    rendering: null,
    shipping_cost: null,
    shipping_details: null,
    starting_balance: startingBalance,
    statement_descriptor: null,
    status: 'draft',
    status_transitions: { finalized_at: null, marked_uncollectible_at: null, paid_at: null, voided_at: null },
    subtotal,
    subtotal_excluding_tax: subtotal,
    test_clock: null,
    total: subtotal,
    total_discount_amounts: [],
    total_excluding_tax: subtotal,
    total_pretax_credit_amounts: [],
    total_taxes: [],
    webhooks_delivered_at: options.preview ? null : now,
  };
  return invoice;
}

/** Stores a draft and emits invoice.created. */
export function insertInvoice(core: SandboxCore, invoice: Stripe.Invoice, sink: EventSink): Stripe.Invoice {
  invoices(core).insert(invoice);
  sink.add('invoice.created', invoice);
  return invoice;
}

/**
 * Finalizes a draft: a number, status `open`, and the customer's balance applied (a credit
 * reduces what is due; a negative total becomes credit on the customer's balance, as Stripe does).
 */
export function finalizeInvoice(core: SandboxCore, invoice: Stripe.Invoice, sink: EventSink): void {
  const customer = customers(core).require(invoice.customer as string, 'customer');
  const now = core.clock.now();
  const net = invoice.total + invoice.starting_balance;
  invoice.amount_due = Math.max(0, net);
  invoice.amount_remaining = invoice.amount_due;
  invoice.ending_balance = Math.min(0, net);
  if (customer.balance !== invoice.ending_balance) {
    const previous = { balance: customer.balance };
    customer.balance = invoice.ending_balance;
    sink.add('customer.updated', customer, previous);
  }
  const sequence = customer.next_invoice_sequence ?? 1;
  invoice.number = `${customer.invoice_prefix ?? 'SANDBOX'}-${String(sequence).padStart(4, '0')}`;
  customer.next_invoice_sequence = sequence + 1;
  invoice.status = 'open';
  invoice.effective_at = now;
  invoice.status_transitions.finalized_at = now;
  invoice.auto_advance = invoice.collection_method === 'charge_automatically';
  invoice.hosted_invoice_url = `${core.publicUrl}/invoice/${invoice.id}`;
  invoice.invoice_pdf = `${core.publicUrl}/invoice/${invoice.id}/pdf`;
  sink.add('invoice.finalized', invoice);
}

export const invoicePayments = (core: SandboxCore) => core.store.collection<Stripe.InvoicePayment>('invoice_payment');

/** The invoice's default payment: the one its automatic charges go through. */
function defaultPaymentOf(core: SandboxCore, invoice: Stripe.Invoice): Stripe.InvoicePayment | undefined {
  return invoicePayments(core).newestFirst((p) => p.invoice === invoice.id && p.is_default)[0];
}

/**
 * Runs `step` (synchronous) with the events it emits joining `sink`'s queue, so a payment's
 * PaymentIntent and Charge events come between invoice.finalized and invoice.paid (or
 * invoice.payment_failed), in the order they happen. The core itself is passed on (resource state
 * is kept per core), its bus's emit shadowed for the duration.
 */
function intoSink<T>(core: SandboxCore, sink: EventSink, step: (actor: Actor) => T): T {
  const bus = core.events as unknown as { emit: unknown };
  bus.emit = (type: string, object: { id: string; object: string }, options: { previousAttributes?: Record<string, unknown> } = {}) => {
    sink.add(type, object, options.previousAttributes);
  };
  try {
    return step({ core, eventRequest: sink.request ?? { id: null, idempotency_key: null } });
  } finally {
    delete bus.emit;
  }
}

const PAYMENT_DESCRIPTIONS: Partial<Record<Stripe.Invoice.BillingReason, string>> = {
  subscription_create: 'Subscription creation',
  subscription_cycle: 'Subscription cycle',
  subscription_update: 'Subscription update',
};

function markPaid(core: SandboxCore, invoice: Stripe.Invoice, sink: EventSink): void {
  const now = core.clock.now();
  invoice.amount_paid = invoice.amount_due;
  invoice.amount_remaining = 0;
  invoice.status = 'paid';
  invoice.status_transitions.paid_at = now;
  invoice.next_payment_attempt = null;
  invoice.auto_advance = false;
  sink.add('invoice.paid', invoice);
  sink.add('invoice.payment_succeeded', invoice);
}

/**
 * Charges an open invoice to `paymentMethod` through its default InvoicePayment's PaymentIntent
 * (made on the first attempt). Zero-amount invoices are paid without a payment. Returns whether it
 * was paid; a decline (or no payment method) leaves it open with invoice.payment_failed.
 */
export function payInvoice(core: SandboxCore, invoice: Stripe.Invoice, paymentMethod: string | null, sink: EventSink): boolean {
  if (invoice.amount_due === 0) {
    markPaid(core, invoice, sink);
    return true;
  }
  invoice.attempted = true;
  invoice.attempt_count += 1;
  invoice.default_payment_method = paymentMethod;
  const attempt = intoSink(core, sink, (actor) => {
    let payment = defaultPaymentOf(core, invoice);
    let intent = payment ? paymentIntents(core).get(payment.payment.payment_intent as string) : undefined;
    if (!payment || !intent) {
      intent = openPaymentIntent(actor, {
        amount: invoice.amount_due,
        currency: invoice.currency,
        customer: invoice.customer as string,
        allowed: ['card'],
        excluded: undefined,
        automaticPaymentMethods: null,
        paymentMethod: undefined,
        captureMethod: 'automatic',
        confirmationMethod: 'automatic',
        description: PAYMENT_DESCRIPTIONS[invoice.billing_reason ?? 'manual'] ?? null,
        metadata: {},
        receiptEmail: null,
        setupFutureUsage: null,
        shipping: null,
        statementDescriptor: null,
        statementDescriptorSuffix: null,
        transferGroup: null,
      });
      payment = invoicePayments(core).insert({
        id: newId('inpay'),
        object: 'invoice_payment',
        amount_paid: null,
        amount_requested: invoice.amount_due,
        created: core.clock.now(),
        currency: invoice.currency,
        invoice: invoice.id,
        is_default: true,
        livemode: false,
        payment: { type: 'payment_intent', payment_intent: intent.id },
        status: 'open',
        status_transitions: { canceled_at: null, paid_at: null },
      });
    }
    if (paymentMethod) {
      // Off-session, as Stripe charges a subscription: a card that needs 3-D Secure fails (authentication_required).
      confirmWith(actor, intent, resolvePaymentMethod(core, paymentMethod, 'default_payment_method'), { returnUrl: null, offSession: true, errorOnRequiresAction: false });
    }
    return { payment, intent };
  });
  const { payment, intent } = attempt;
  if (intent.status === 'succeeded') {
    payment.status = 'paid';
    payment.amount_paid = intent.amount_received;
    payment.status_transitions.paid_at = core.clock.now();
    markPaid(core, invoice, sink);
    sink.add('invoice_payment.paid', payment);
    return true;
  }
  if (intent.status === 'processing') return false;
  // Stripe's Smart Retries are not emulated: no further attempt is scheduled.
  invoice.next_payment_attempt = null;
  sink.add('invoice.payment_failed', invoice);
  return false;
}

/** The invoice's payments as its includable `payments` field shows them (oldest first, as Stripe lists them there). */
function paymentsList(core: SandboxCore, invoiceId: string): Stripe.ApiList<Stripe.InvoicePayment> {
  const data = invoicePayments(core)
    .newestFirst((p) => p.invoice === invoiceId)
    .reverse()
    .map((p) => structuredClone(p));
  return { object: 'list', data, has_more: false, url: `/v1/invoice_payments?invoice=${invoiceId}` };
}
includableFields.set('invoice', new Map([['payments', (core, invoice) => paymentsList(core, String(invoice.id))]]));

/** Voids an open (or draft) invoice. */
export function voidInvoice(core: SandboxCore, invoice: Stripe.Invoice, sink: EventSink): void {
  invoice.status = 'void';
  invoice.status_transitions.voided_at = core.clock.now();
  invoice.amount_remaining = 0;
  invoice.auto_advance = false;
  sink.add('invoice.voided', invoice);
}

export function markUncollectible(core: SandboxCore, invoice: Stripe.Invoice, sink: EventSink): void {
  invoice.status = 'uncollectible';
  invoice.status_transitions.marked_uncollectible_at = core.clock.now();
  invoice.auto_advance = false;
  sink.add('invoice.marked_uncollectible', invoice);
}

/** A proration item as `/v1/invoiceitems` shows it (Stripe's InvoiceItem). */
function renderInvoiceItem(item: PendingItem): Stripe.InvoiceItem {
  const { line } = item;
  return {
    id: item.id,
    object: 'invoiceitem',
    amount: line.amount,
    currency: line.price.currency,
    customer: item.customer,
    customer_account: null,
    date: item.created,
    description: line.description,
    discountable: !line.proration,
    discounts: [],
    invoice: item.invoice ?? null,
    livemode: false,
    metadata: {},
    net_amount: line.amount,
    parent: { type: 'subscription_details', subscription_details: { subscription: item.subscription, subscription_item: line.subscriptionItem } },
    period: { ...line.period },
    pricing: {
      type: 'price_details',
      price_details: { price: line.price.id, product: typeof line.price.product === 'string' ? line.price.product : line.price.product.id },
      unit_amount_decimal: decimalString(line.quantity > 0 ? line.amount / line.quantity : line.amount),
    },
    proration: line.proration,
    proration_details: { credited_items: null, discount_amounts: [] },
    quantity: line.quantity,
    quantity_decimal: decimalString(line.quantity),
    tax_rates: [],
    test_clock: null,
  };
}

export const invoiceRoutes: Route[] = [
  {
    method: 'POST',
    path: '/v1/invoices/create_preview',
    handler: (ctx) => previewInvoice(ctx),
  },
  {
    method: 'GET',
    path: '/v1/invoices',
    handler: ({ core, params }) => {
      rejectUnknown(params, ['collection_method', 'created', 'customer', 'due_date', 'ending_before', 'expand', 'limit', 'starting_after', 'status', 'subscription']);
      const customer = optionalString(params, 'customer');
      const subscription = optionalString(params, 'subscription');
      const status = optionalEnum(params, 'status', ['draft', 'open', 'paid', 'uncollectible', 'void'] as const);
      const collection = optionalEnum(params, 'collection_method', ['charge_automatically', 'send_invoice'] as const);
      const inRange = createdFilter(params);
      const list = invoices(core).newestFirst(
        (i) =>
          inRange(i.created) &&
          (!customer || i.customer === customer) &&
          (!subscription || i.parent?.subscription_details?.subscription === subscription) &&
          (!status || i.status === status) &&
          (!collection || i.collection_method === collection),
      );
      return paginate(list, params, '/v1/invoices', 'invoice');
    },
  },
  {
    method: 'GET',
    path: '/v1/invoices/:invoice',
    handler: ({ core, params, path }) => {
      rejectUnknown(params, ['expand']);
      if (path.invoice!.startsWith('upcoming')) throw invalidRequest('Invoice previews cannot be retrieved: they are not saved.', 'invoice');
      return invoices(core).require(path.invoice!, 'invoice');
    },
  },
  {
    method: 'GET',
    path: '/v1/invoices/:invoice/lines',
    handler: ({ core, params, path }) => {
      rejectUnknown(params, ['ending_before', 'expand', 'limit', 'starting_after']);
      const invoice = invoices(core).require(path.invoice!, 'invoice');
      return paginate(invoice.lines.data, params as Params, `/v1/invoices/${invoice.id}/lines`, 'line_item');
    },
  },
  {
    method: 'GET',
    path: '/v1/invoice_payments',
    handler: ({ core, params }) => {
      rejectUnknown(params, ['created', 'ending_before', 'expand', 'invoice', 'limit', 'payment', 'starting_after', 'status']);
      const invoice = optionalString(params, 'invoice');
      const status = optionalEnum(params, 'status', ['canceled', 'open', 'paid'] as const);
      const payment = optionalObject(params, 'payment');
      let paymentIntent: string | undefined;
      if (payment) {
        rejectUnknown(payment, ['payment_intent', 'payment_record', 'type'], 'payment');
        const type = optionalEnum(payment, 'type', ['payment_intent', 'payment_record'] as const);
        if (!type) throw missingParam('payment[type]');
        if (type === 'payment_record') throw invalidRequest('The Stripe sandbox has no payment records.', 'payment[type]');
        paymentIntent = optionalString(payment, 'payment_intent');
        if (!paymentIntent) throw missingParam('payment[payment_intent]');
      }
      const inRange = createdFilter(params);
      const list = invoicePayments(core).newestFirst(
        (p) => inRange(p.created) && (!invoice || p.invoice === invoice) && (!status || p.status === status) && (!paymentIntent || p.payment.payment_intent === paymentIntent),
      );
      return paginate(list, params, '/v1/invoice_payments', 'invoice_payment');
    },
  },
  {
    method: 'GET',
    path: '/v1/invoice_payments/:invoice_payment',
    handler: ({ core, params, path }) => {
      rejectUnknown(params, ['expand']);
      return invoicePayments(core).require(path.invoice_payment!, 'invoice_payment');
    },
  },
  {
    method: 'GET',
    path: '/v1/invoiceitems',
    handler: ({ core, params }) => {
      rejectUnknown(params, ['created', 'customer', 'customer_account', 'ending_before', 'expand', 'invoice', 'limit', 'pending', 'starting_after']);
      const customer = optionalString(params, 'customer');
      const invoice = optionalString(params, 'invoice');
      const pending = optionalBoolean(params, 'pending');
      const inRange = createdFilter(params);
      const list = pendingItems(core)
        .newestFirst((i) => inRange(i.created) && (!customer || i.customer === customer) && (!invoice || i.invoice === invoice) && (pending === undefined || pending === !i.invoice))
        .map(renderInvoiceItem);
      return paginate(list, params, '/v1/invoiceitems', 'invoiceitem');
    },
  },
  {
    method: 'GET',
    path: '/v1/invoiceitems/:invoiceitem',
    handler: ({ core, params, path }) => {
      rejectUnknown(params, ['expand']);
      return renderInvoiceItem(pendingItems(core).require(path.invoiceitem!, 'invoiceitem'));
    },
  },
];
