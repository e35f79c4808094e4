// @vitest-environment jsdom
// The Subscriptions screen: the list with its filters (status and track as selects, the customer by
// email or id) and keyset "Load more"; the open subscription's fields and invoices; and its actions:
// Switch track… (Stripe's preview, then Confirm with the preview's proration date), Pause… with its
// behaviour, Resume, Cancel at period end, and Cancel now for admins only. Each is confirmed, disabled
// while in flight, sends a new idempotency key per press (the same key again after Stripe could not be
// reached), says the server's typed errors in words, and shows the subscription as it is after.
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { graphql, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { deferred, pageInfo, renderConsole, searchParam, useConsoleTestServer } from './helpers';

useConsoleTestServer();

const SUB_ID = 'sub_1Console0001';
const money = (amount: number) => ({ amount, currency: 'usd', formatted: `${amount < 0 ? '-' : ''}$${(Math.abs(amount) / 100).toFixed(2)}` });
const monthly = (id: string, amount: number) => ({ id, kind: 'RECURRING', recurringInterval: 'month', unitAmount: money(amount) });
const PRICING = [
  { id: 'business_plan_builder', name: 'Business Plan Builder', prices: [{ id: 'p1', kind: 'ONE_TIME', recurringInterval: null, unitAmount: money(9900) }, monthly('p1m', 9900)] },
  { id: 'website_audit_feedback', name: 'Website Audit & Feedback', prices: [monthly('p2m', 14900)] },
  { id: 'no_subscription', name: 'One-time only', prices: [{ id: 'p3', kind: 'ONE_TIME', recurringInterval: null, unitAmount: money(500) }] },
];

function invoice(extra: Record<string, unknown> = {}) {
  return {
    id: 'in_1Paid',
    status: 'PAID',
    amountDue: money(9900),
    amountPaid: money(9900),
    hostedInvoiceUrl: 'https://invoice.stripe.test/i/in_1Paid',
    periodStart: '2026-12-01T00:00:00.000Z',
    periodEnd: '2027-01-01T00:00:00.000Z',
    createdAt: '2026-12-01T00:00:00.000Z',
    ...extra,
  };
}

function subscription(extra: Record<string, unknown> = {}) {
  return {
    id: SUB_ID,
    status: 'ACTIVE',
    track: 'business_plan_builder',
    trackName: 'Business Plan Builder',
    price: { id: 'p1m', unitAmount: money(9900), recurringInterval: 'month' },
    stripePriceId: 'price_1',
    customerId: 'c0000000-0000-4000-8000-000000000001',
    customerEmail: 'ada@example.com',
    currentPeriodStart: '2026-12-01T00:00:00.000Z',
    currentPeriodEnd: '2027-01-01T00:00:00.000Z',
    cancelAtPeriodEnd: false,
    canceledAt: null,
    pause: null,
    createdAt: '2026-12-01T00:00:00.000Z',
    updatedAt: '2026-12-01T00:00:00.000Z',
    invoices: [invoice()],
    ...extra,
  };
}

type Sub = ReturnType<typeof subscription>;
type Sent = { name: string; input: Record<string, unknown> };

const PREVIEW = (prorationDate: string, unitAmount = 14900) => ({
  subscriptionId: SUB_ID,
  fromTrack: 'business_plan_builder',
  toTrack: 'website_audit_feedback',
  price: { id: 'p2m', unitAmount: money(unitAmount), recurringInterval: 'month' },
  prorationDate,
  prorationTotal: money(3548),
  amountDueNow: money(3548),
  creditApplied: money(0),
  nextInvoiceAmount: money(18448),
  lines: [
    { description: 'Unused time on Business Plan Builder after 10 Dec 2026', amount: money(-7026), periodStart: prorationDate, periodEnd: '2027-01-01T00:00:00.000Z' },
    { description: 'Remaining time on Website Audit & Feedback after 10 Dec 2026', amount: money(10574), periodStart: prorationDate, periodEnd: '2027-01-01T00:00:00.000Z' },
  ],
});

/**
 * The screen's server: the list (filters recorded), the open subscription, pricing, previews (each
 * with its own proration date) and the four mutations, each answered by `answer` (n counts calls).
 */
function handlers(options: { sub?: Sub; rows?: Sub[]; answer?: (name: string, n: number, input: Record<string, unknown>) => Record<string, unknown> | undefined; sent?: Sent[]; filters?: unknown[]; hold?: Promise<void>; previewError?: Record<string, unknown> } = {}) {
  let current = options.sub ?? subscription();
  let calls = 0;
  let previews = 0;
  const mutation = (name: string, field: string) =>
    graphql.mutation(name, async ({ variables }) => {
      const input = variables.input as Record<string, unknown>;
      options.sent?.push({ name, input });
      calls += 1;
      if (options.hold) await options.hold;
      const payload = options.answer?.(name, calls, input) ?? { subscription: current, error: null, isRepeat: false };
      if (payload.subscription) current = payload.subscription as Sub;
      return HttpResponse.json({ data: { [field]: payload } });
    });
  return [
    graphql.query('StripeMode', () => HttpResponse.json({ data: { stripeMode: 'SANDBOX' } })),
    graphql.query('SubscriptionTracks', () => HttpResponse.json({ data: { pricing: PRICING } })),
    graphql.query('Subscriptions', ({ variables }) => {
      options.filters?.push(variables.filter ?? null);
      return HttpResponse.json({ data: { subscriptions: { nodes: options.rows ?? [current], pageInfo: pageInfo(false, null) } } });
    }),
    graphql.query('Subscription', () => HttpResponse.json({ data: { subscription: current } })),
    graphql.query('SubscriptionSwitchPreview', ({ variables }) => {
      previews += 1;
      if (options.previewError) return HttpResponse.json({ data: { previewSubscriptionSwitch: { preview: null, error: options.previewError } } });
      expect(variables).toEqual({ subscriptionId: SUB_ID, track: 'website_audit_feedback' });
      return HttpResponse.json({ data: { previewSubscriptionSwitch: { preview: PREVIEW(`2026-12-10T12:00:0${previews}.000Z`, previews === 1 ? 14900 : 15900), error: null } } });
    }),
    mutation('SwitchSubscription', 'switchSubscription'),
    mutation('PauseSubscription', 'pauseSubscription'),
    mutation('ResumeSubscription', 'resumeSubscription'),
    mutation('CancelSubscription', 'cancelSubscription'),
  ];
}

const detail = () => screen.findByRole('complementary', { name: 'Subscription' });
const refusal = (code: string, message = 'refused', declineCode: string | null = null) => ({ subscription: subscription(), error: { code, message, declineCode }, isRepeat: false });
const switched = () => ({ subscription: subscription({ track: 'website_audit_feedback', trackName: 'Website Audit & Feedback', price: { id: 'p2m', unitAmount: money(14900), recurringInterval: 'month' } }), error: null, isRepeat: false });

async function openSwitch(user: ReturnType<typeof userEvent.setup>) {
  const panel = await detail();
  await user.click(await within(panel).findByRole('button', { name: 'Switch track…' }));
  const dialog = screen.getByRole('dialog', { name: 'Switch track' });
  await within(dialog).findByRole('table', { name: 'Proration lines' });
  return { panel, dialog };
}

describe('the Subscriptions list', () => {
  it('is in the navigation and lists customer, track, status, price per interval, period end and flags', async () => {
    const rows = [
      subscription(),
      subscription({ id: 'sub_2', customerEmail: 'bob@example.com', status: 'PAST_DUE', cancelAtPeriodEnd: true, pause: { behavior: 'VOID', resumesAt: null } }),
    ];
    renderConsole('/no-such-page', { handlers: handlers({ rows }) });
    const user = userEvent.setup();
    await user.click(await screen.findByRole('link', { name: 'Subscriptions' }));
    expect(await screen.findByRole('heading', { name: 'Subscriptions', level: 1 })).toBeTruthy();
    const table = await screen.findByRole('table');
    const bob = within(table).getByRole('link', { name: 'Subscription sub_2 of bob@example.com' }).closest('tr')!;
    expect(within(bob).getByText('past due')).toBeTruthy();
    expect(within(bob).getByText('$99.00 / month')).toBeTruthy();
    expect(within(bob).getByText('2027-01-01 00:00:00')).toBeTruthy();
    expect(within(bob).getByText('cancels at period end')).toBeTruthy();
    expect(within(bob).getByText('paused')).toBeTruthy();
    const ada = within(table).getByRole('link', { name: `Subscription ${SUB_ID} of ada@example.com` }).closest('tr')!;
    expect(within(ada).getByText('Business Plan Builder')).toBeTruthy();
    expect(within(ada).getByText('active')).toBeTruthy();
    expect(within(ada).queryByText('paused')).toBeNull();
  });

  it('filters by status and track (selects) and by customer, keeping them in the URL', async () => {
    const filters: unknown[] = [];
    const user = userEvent.setup();
    renderConsole('/subscriptions', { handlers: handlers({ filters }) });
    await screen.findByRole('table');
    const status = screen.getByLabelText('Status') as HTMLSelectElement;
    expect(Array.from(status.options).map((o) => o.value)).toEqual(['', 'INCOMPLETE', 'INCOMPLETE_EXPIRED', 'TRIALING', 'ACTIVE', 'PAST_DUE', 'CANCELED', 'UNPAID', 'PAUSED']); // the schema's values, in its order
    await user.selectOptions(status, 'PAST_DUE');
    await waitFor(() => expect(filters.at(-1)).toEqual({ status: 'PAST_DUE' }));
    // The tracks that have a monthly price, from pricing: a one-time-only product is not offered.
    const track = screen.getByLabelText('Track') as HTMLSelectElement;
    await waitFor(() => expect(Array.from(track.options).map((o) => o.textContent)).toEqual(['Any', 'Business Plan Builder', 'Website Audit & Feedback']));
    await user.selectOptions(track, 'website_audit_feedback');
    await waitFor(() => expect(filters.at(-1)).toEqual({ status: 'PAST_DUE', track: 'website_audit_feedback' }));
    await user.type(screen.getByLabelText('Customer'), ' ada@example.com {Enter}');
    await waitFor(() => expect(filters.at(-1)).toEqual({ status: 'PAST_DUE', track: 'website_audit_feedback', customer: 'ada@example.com' }));
    expect(searchParam('status')).toBe('PAST_DUE');
    expect(searchParam('track')).toBe('website_audit_feedback');
    expect(searchParam('customer')).toBe('ada@example.com');
  });

  it('loads the next page after the last cursor', async () => {
    const afters: unknown[] = [];
    const user = userEvent.setup();
    renderConsole('/subscriptions', {
      handlers: [
        graphql.query('Subscriptions', ({ variables }) => {
          afters.push(variables.after ?? null);
          const page = variables.after === 'cursor-1' ? { nodes: [subscription({ id: 'sub_older', customerEmail: 'old@example.com' })], pageInfo: pageInfo(false, null) } : { nodes: [subscription()], pageInfo: pageInfo(true, 'cursor-1') };
          return HttpResponse.json({ data: { subscriptions: page } });
        }),
        ...handlers(),
      ],
    });
    await user.click(await screen.findByRole('button', { name: 'Load more' }));
    expect(await screen.findByText('old@example.com')).toBeTruthy();
    expect(afters).toEqual([null, 'cursor-1']);
    expect(screen.getByText('2 shown')).toBeTruthy();
  });
});

describe('the open subscription', () => {
  it('shows its fields and its invoices with the hosted invoice link, from the id in the URL', async () => {
    const sub = subscription({ invoices: [invoice({ id: 'in_2Open', status: 'OPEN', amountPaid: money(0), hostedInvoiceUrl: 'https://invoice.stripe.test/i/in_2Open', periodStart: '2027-01-01T00:00:00.000Z', periodEnd: '2027-02-01T00:00:00.000Z' }), invoice()] });
    renderConsole(`/subscriptions?open=${SUB_ID}`, { handlers: handlers({ sub }) });
    const panel = await detail();
    expect(await within(panel).findByText('Business Plan Builder (business_plan_builder)')).toBeTruthy();
    expect(within(panel).getByText('$99.00 / month')).toBeTruthy();
    expect(within(panel).getByText('Collecting')).toBeTruthy();
    const invoices = within(panel).getByRole('list', { name: 'Invoices' });
    const items = within(invoices).getAllByRole('listitem');
    expect(items).toHaveLength(2);
    expect(items[0]!.textContent).toContain('open');
    expect(items[0]!.textContent).toContain('$99.00 due · $0.00 paid');
    expect(items[0]!.textContent).toContain('2027-01-01 – 2027-02-01');
    expect(within(items[0]!).getByRole('link', { name: 'hosted invoice ↗' }).getAttribute('href')).toBe('https://invoice.stripe.test/i/in_2Open');
    expect(items[1]!.textContent).toContain('$99.00 due · $99.00 paid');
  });

  it('offers support every action but Cancel now; an admin also Cancel now', async () => {
    renderConsole(`/subscriptions?open=${SUB_ID}`, { handlers: handlers() });
    const panel = await detail();
    for (const name of ['Switch track…', 'Pause…', 'Cancel at period end']) expect(await within(panel).findByRole('button', { name })).toBeTruthy();
    expect((within(panel).getByRole('button', { name: 'Resume' }) as HTMLButtonElement).disabled).toBe(true);
    expect(within(panel).queryByRole('button', { name: 'Cancel now' })).toBeNull();
    expect(within(panel).getByText('Only an admin can cancel at once.')).toBeTruthy();
  });

  it('offers nothing to change on an ended subscription', async () => {
    renderConsole(`/subscriptions?open=${SUB_ID}`, { as: 'admin', handlers: handlers({ sub: subscription({ status: 'CANCELED', canceledAt: '2026-12-05T00:00:00.000Z' }) }) });
    const panel = await detail();
    expect(await within(panel).findByText(/This subscription is canceled: it has ended or never started/)).toBeTruthy();
    expect(within(panel).queryByRole('button', { name: 'Switch track…' })).toBeNull();
    expect(within(panel).queryByRole('button', { name: 'Cancel now' })).toBeNull();
  });
});

describe('Switch track…', () => {
  it('shows the preview (lines, amount due now, next invoice), then confirms with its proration date, disabled in flight, and shows the new track', async () => {
    const user = userEvent.setup();
    const sent: Sent[] = [];
    const hold = deferred();
    renderConsole(`/subscriptions?open=${SUB_ID}`, { handlers: handlers({ sent, hold: hold.promise, answer: () => switched() }) });
    const { panel, dialog } = await openSwitch(user);
    const lines = within(dialog).getByRole('table', { name: 'Proration lines' });
    expect(within(lines).getByText('Unused time on Business Plan Builder after 10 Dec 2026')).toBeTruthy();
    expect(within(lines).getByText('-$70.26')).toBeTruthy();
    expect(within(lines).getByText('$105.74')).toBeTruthy();
    expect(within(lines).getAllByText('2026-12-10 – 2027-01-01')).toHaveLength(2);
    // Prorating on the next invoice (the default): nothing is due now, the next invoice carries it.
    const amountDueNow = () => within(dialog).getByText('Amount due now').nextElementSibling!.textContent;
    expect(amountDueNow()).toBe('$0.00');
    expect(within(dialog).getByText('Next invoice').nextElementSibling!.textContent).toBe('$184.48');
    expect(within(dialog).getByText('With “Prorate and charge the difference now”, $35.48 would be charged now.')).toBeTruthy();
    await user.selectOptions(within(dialog).getByLabelText('Proration behaviour'), 'ALWAYS_INVOICE');
    expect(amountDueNow()).toBe('$35.48');
    expect(within(dialog).getByText(/\$35\.48 is charged to the customer's card now\./)).toBeTruthy();
    expect(within(dialog).getByText('Switch ada@example.com to Website Audit & Feedback ($149.00 / month)')).toBeTruthy();
    await user.click(within(dialog).getByRole('button', { name: 'Confirm switch' }));

    await waitFor(() => expect(sent).toHaveLength(1));
    expect(sent[0]).toEqual({
      name: 'SwitchSubscription',
      input: {
        idempotencyKey: expect.any(String),
        subscriptionId: SUB_ID,
        track: 'website_audit_feedback',
        priceId: 'p2m',
        unitAmount: 14900,
        prorationDate: '2026-12-10T12:00:01.000Z',
        prorationBehavior: 'ALWAYS_INVOICE',
      },
    });
    const confirm = within(dialog).getByRole('button', { name: 'Switching…' }) as HTMLButtonElement;
    expect(confirm.disabled).toBe(true);
    hold.resolve();
    expect(await within(panel).findByText('Switched to Website Audit & Feedback.')).toBeTruthy();
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(await within(panel).findByText('Website Audit & Feedback (website_audit_feedback)')).toBeTruthy();
    expect(within(panel).getByText('$149.00 / month')).toBeTruthy();
  });

  it('says an out-of-date preview in words; previewing again sends its new date and price with a new key', async () => {
    const user = userEvent.setup();
    const sent: Sent[] = [];
    renderConsole(`/subscriptions?open=${SUB_ID}`, {
      handlers: handlers({ sent, answer: (_name, n) => (n === 1 ? refusal('PREVIEW_EXPIRED', 'The preview is more than an hour old.') : switched()) }),
    });
    const { panel, dialog } = await openSwitch(user);
    await user.click(within(dialog).getByRole('button', { name: 'Confirm switch' }));
    expect(await within(dialog).findByText('The preview is out of date, preview again. Nothing was switched.')).toBeTruthy();
    await user.click(within(dialog).getByRole('button', { name: 'Preview again' }));
    await within(dialog).findByRole('table', { name: 'Proration lines' });
    await user.click(within(dialog).getByRole('button', { name: 'Confirm switch' }));
    expect(await within(panel).findByText('Switched to Website Audit & Feedback.')).toBeTruthy();
    expect(sent.map((s) => s.input.prorationDate)).toEqual(['2026-12-10T12:00:01.000Z', '2026-12-10T12:00:02.000Z']);
    // The price changed between the two previews: the second switch sends the one shown the second time.
    expect(sent.map((s) => [s.input.priceId, s.input.unitAmount])).toEqual([['p2m', 14900], ['p2m', 15900]]);
    expect(sent[0]!.input.idempotencyKey).not.toBe(sent[1]!.input.idempotencyKey);
    expect(sent[1]!.input.prorationBehavior).toBe('CREATE_PRORATIONS');
  });

  it.each([
    ['CARD_DECLINED', 'generic_decline', 'The card was declined (generic decline): nothing was switched and nothing charged.'],
    ['SUBSCRIPTION_NOT_ACTIVE', null, 'This subscription has ended or never started: it cannot be changed. Nothing changed.'],
    ['SUBSCRIPTION_CHANGE_IN_PROGRESS', null, 'Another change to this subscription is still being made at Stripe: wait a moment, then try again. Nothing changed by this press.'],
  ])('says %s in words', async (code, declineCode, words) => {
    const user = userEvent.setup();
    renderConsole(`/subscriptions?open=${SUB_ID}`, { handlers: handlers({ answer: () => refusal(code, 'refused', declineCode) }) });
    const { dialog } = await openSwitch(user);
    await user.click(within(dialog).getByRole('button', { name: 'Confirm switch' }));
    expect((await within(dialog).findByRole('alert')).textContent).toContain(words);
  });

  it('says a preview the server refuses (SAME_TRACK) in words and offers no Confirm', async () => {
    const user = userEvent.setup();
    renderConsole(`/subscriptions?open=${SUB_ID}`, { handlers: handlers({ previewError: { code: 'SAME_TRACK', message: 'same', declineCode: null } }) });
    const panel = await detail();
    await user.click(await within(panel).findByRole('button', { name: 'Switch track…' }));
    const dialog = screen.getByRole('dialog', { name: 'Switch track' });
    expect((await within(dialog).findByRole('alert')).textContent).toBe('The subscription is already on this track: pick another one.');
    expect((within(dialog).getByRole('button', { name: 'Confirm switch' }) as HTMLButtonElement).disabled).toBe(true);
  });
});

describe('Pause…, Resume and the cancels', () => {
  it('pauses with the chosen behaviour, then shows the pause and offers Resume', async () => {
    const user = userEvent.setup();
    const sent: Sent[] = [];
    renderConsole(`/subscriptions?open=${SUB_ID}`, {
      handlers: handlers({ sent, answer: (name) => (name === 'PauseSubscription' ? { subscription: subscription({ pause: { behavior: 'KEEP_AS_DRAFT', resumesAt: null } }), error: null, isRepeat: false } : undefined) }),
    });
    const panel = await detail();
    await user.click(await within(panel).findByRole('button', { name: 'Pause…' }));
    const dialog = screen.getByRole('dialog', { name: 'Pause this subscription?' });
    await user.selectOptions(within(dialog).getByLabelText('While paused'), 'KEEP_AS_DRAFT');
    await user.click(within(dialog).getByRole('button', { name: 'Pause' }));
    expect(await within(panel).findByText('Collection paused: until resumed; invoices are kept as drafts.')).toBeTruthy();
    expect(sent).toEqual([{ name: 'PauseSubscription', input: { idempotencyKey: expect.any(String), subscriptionId: SUB_ID, behavior: 'KEEP_AS_DRAFT' } }]);
    expect(within(panel).getByText('Paused until resumed; invoices are kept as drafts')).toBeTruthy();
    expect((within(panel).getByRole('button', { name: 'Resume' }) as HTMLButtonElement).disabled).toBe(false);
    expect((within(panel).getByRole('button', { name: 'Pause…' }) as HTMLButtonElement).disabled).toBe(true);
  });

  it('resumes a paused one after confirmation', async () => {
    const user = userEvent.setup();
    const sent: Sent[] = [];
    renderConsole(`/subscriptions?open=${SUB_ID}`, {
      handlers: handlers({ sub: subscription({ pause: { behavior: 'VOID', resumesAt: null } }), sent, answer: () => ({ subscription: subscription(), error: null, isRepeat: false }) }),
    });
    const panel = await detail();
    await user.click(await within(panel).findByRole('button', { name: 'Resume' }));
    await user.click(within(screen.getByRole('dialog', { name: 'Resume this subscription?' })).getByRole('button', { name: 'Resume' }));
    expect(await within(panel).findByText('Collection resumed.')).toBeTruthy();
    expect(sent).toEqual([{ name: 'ResumeSubscription', input: { idempotencyKey: expect.any(String), subscriptionId: SUB_ID } }]);
  });

  it('cancels at period end; a press Stripe could not be reached for is pressed again with the same key, a new press has a new one', async () => {
    const user = userEvent.setup();
    const sent: Sent[] = [];
    renderConsole(`/subscriptions?open=${SUB_ID}`, {
      handlers: handlers({
        sent,
        answer: (_name, n) => (n === 1 ? refusal('PAYMENT_PROVIDER_UNAVAILABLE') : { subscription: subscription({ cancelAtPeriodEnd: true }), error: null, isRepeat: false }),
      }),
    });
    const panel = await detail();
    const press = async () => {
      await user.click(await within(panel).findByRole('button', { name: 'Cancel at period end' }));
      await user.click(within(screen.getByRole('dialog', { name: 'Cancel at the end of the period?' })).getByRole('button', { name: 'Cancel at period end' }));
    };
    await press();
    expect(await within(panel).findByText('Stripe could not be reached. Press again to finish this change (the same change, never a second one).')).toBeTruthy();
    await press();
    expect(await within(panel).findByText('Cancels at the end of the period, 2027-01-01 00:00:00 UTC.')).toBeTruthy();
    expect(sent.map((s) => s.input)).toEqual([
      { idempotencyKey: expect.any(String), subscriptionId: SUB_ID, atPeriodEnd: true },
      { idempotencyKey: sent[0]!.input.idempotencyKey, subscriptionId: SUB_ID, atPeriodEnd: true },
    ]);
    expect(within(panel).getByText('cancels at period end')).toBeTruthy();
    expect((within(panel).getByRole('button', { name: 'Cancel at period end' }) as HTMLButtonElement).disabled).toBe(true);
  });

  it('cancels now (admins), the other actions disabled while it is in flight', async () => {
    const user = userEvent.setup();
    const sent: Sent[] = [];
    const hold = deferred();
    renderConsole(`/subscriptions?open=${SUB_ID}`, {
      as: 'admin',
      handlers: handlers({ sent, hold: hold.promise, answer: () => ({ subscription: subscription({ status: 'CANCELED', canceledAt: '2026-12-10T00:00:00.000Z' }), error: null, isRepeat: false }) }),
    });
    const panel = await detail();
    await user.click(await within(panel).findByRole('button', { name: 'Cancel now' }));
    await user.click(within(screen.getByRole('dialog', { name: 'Cancel this subscription now?' })).getByRole('button', { name: 'Cancel now' }));
    expect(((await within(panel).findByRole('button', { name: 'Cancelling…' })) as HTMLButtonElement).disabled).toBe(true);
    expect((within(panel).getByRole('button', { name: 'Switch track…' }) as HTMLButtonElement).disabled).toBe(true);
    expect((within(panel).getByRole('button', { name: 'Cancel at period end' }) as HTMLButtonElement).disabled).toBe(true);
    hold.resolve();
    expect(await within(panel).findByText(/This subscription is canceled: it has ended or never started/)).toBeTruthy();
    expect(sent).toEqual([{ name: 'CancelSubscription', input: { idempotencyKey: expect.any(String), subscriptionId: SUB_ID, atPeriodEnd: false } }]);
  });
});
