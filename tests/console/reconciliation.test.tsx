// @vitest-environment jsdom
// Reconciliation in the console: the Orphaned payments screen (open findings by default, filters in the
// URL, each action explained in words before an admin confirms it, a dismissal only with a note, the
// typed error in words), and the Overview's Reconciliation panel (last run, schedule, open findings by
// kind; Run reconciliation now for admins, followed to its result).
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { graphql, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { pageInfo, renderConsole, searchParam, useConsoleTestServer } from './helpers';

useConsoleTestServer();

const ID = '22222222-3333-4444-8555-666666666666';
const ORDER_ID = '90000000-0000-4000-8000-000000000001';
const money = (amount: number) => ({ amount, currency: 'usd', formatted: `$${(amount / 100).toFixed(2)}` });
const hoursAgo = (hours: number, minutes = 0) => new Date(Date.now() - (hours * 3600 + minutes * 60) * 1000).toISOString();

function finding(extra: Record<string, unknown> = {}) {
  return {
    id: ID,
    kind: 'STRIPE_WITHOUT_RECORD',
    status: 'OPEN',
    stripeObjectId: 'pi_3Orphan000000000000001',
    stripeStatus: 'requires_payment_method',
    amount: money(9900),
    order: { id: ORDER_ID, status: 'PENDING', amount: { formatted: '$99.00' } },
    firstSeenAt: hoursAgo(3, 5),
    lastCheckedAt: hoursAgo(0, 2),
    checks: 4,
    nextCheckAt: '2026-12-08T09:00:00.000Z',
    actions: ['ADOPT', 'CANCEL', 'DISMISS'],
    resolution: null,
    resolvedBy: null,
    resolvedAt: null,
    details: '{\n  "orderAmount": 9900\n}',
    ...extra,
  };
}

const stripeMode = graphql.query('StripeMode', () => HttpResponse.json({ data: { stripeMode: 'SANDBOX' } }));
const list = (nodes = [finding()]) => graphql.query('OrphanedPayments', () => HttpResponse.json({ data: { orphanedPayments: { nodes, pageInfo: pageInfo(false, null) } } }));
const detail = (f = finding()) => graphql.query('OrphanedPayment', () => HttpResponse.json({ data: { orphanedPayment: f } }));

describe('Orphaned payments', () => {
  it('lists open findings by default with kind in words, the Stripe link, amount, order link, age and next check', async () => {
    const filters: unknown[] = [];
    renderConsole('/orphaned-payments', {
      handlers: [
        stripeMode,
        graphql.query('OrphanedPayments', ({ variables }) => {
          filters.push(variables.filter);
          return HttpResponse.json({ data: { orphanedPayments: { nodes: [finding()], pageInfo: pageInfo(false, null) } } });
        }),
      ],
    });
    const row = (await screen.findByRole('link', { name: `Finding ${ID}` })).closest('tr')!;
    expect(filters[0]).toEqual({ status: 'OPEN' });
    expect(within(row).getByText('At Stripe, no record here')).toBeTruthy();
    await waitFor(() =>
      expect(within(row).getByRole('link', { name: "pi_3Orphan000000000000001 in Stripe's dashboard" }).getAttribute('href')).toBe(
        'https://dashboard.stripe.com/test/payments/pi_3Orphan000000000000001',
      ),
    );
    expect(within(row).getByText('$99.00')).toBeTruthy();
    expect(within(row).getByRole('link', { name: `Order ${ORDER_ID}` }).getAttribute('href')).toBe(`/orders?open=${ORDER_ID}`);
    expect(within(row).getByText('3 h 5 min')).toBeTruthy();
    expect(within(row).getByText('2026-12-08 09:00:00')).toBeTruthy();
    expect((screen.getByLabelText('Status') as HTMLSelectElement).value).toBe('OPEN');
  });

  it('filters by kind and status in the URL; "Any" status lists every finding', async () => {
    const user = userEvent.setup();
    const filters: unknown[] = [];
    renderConsole('/orphaned-payments', {
      handlers: [
        stripeMode,
        graphql.query('OrphanedPayments', ({ variables }) => {
          filters.push(variables.filter);
          return HttpResponse.json({ data: { orphanedPayments: { nodes: [finding()], pageInfo: pageInfo(false, null) } } });
        }),
      ],
    });
    await screen.findByRole('link', { name: `Finding ${ID}` });
    await user.selectOptions(screen.getByLabelText('Kind'), 'AMOUNT_MISMATCH');
    await waitFor(() => expect(filters.at(-1)).toEqual({ status: 'OPEN', kind: 'AMOUNT_MISMATCH' }));
    expect(searchParam('kind')).toBe('AMOUNT_MISMATCH');
    expect(searchParam('status')).toBeNull();
    await user.selectOptions(screen.getByLabelText('Status'), 'RESOLVED');
    await waitFor(() => expect(filters.at(-1)).toEqual({ status: 'RESOLVED', kind: 'AMOUNT_MISMATCH' }));
    expect(searchParam('status')).toBe('RESOLVED');
    await user.selectOptions(screen.getByLabelText('Status'), '');
    await waitFor(() => expect(filters.at(-1)).toEqual({ kind: 'AMOUNT_MISMATCH' }));
    expect(searchParam('status')).toBe('ALL');
  });

  it('says so when nothing is open', async () => {
    renderConsole('/orphaned-payments', { handlers: [stripeMode, list([])] });
    expect(await screen.findByText('No open findings: reconciliation has nothing for a person to settle.')).toBeTruthy();
  });

  it('shows support the finding without any action', async () => {
    renderConsole(`/orphaned-payments?open=${ID}`, { as: 'support', handlers: [stripeMode, list(), detail()] });
    const panel = await screen.findByRole('complementary', { name: 'Finding' });
    expect(await within(panel).findByText('Only an admin can adopt, cancel or dismiss a finding.')).toBeTruthy();
    expect(within(panel).getByText('requires payment method')).toBeTruthy();
    expect(within(panel).getByLabelText('Finding details').textContent).toContain('"orderAmount": 9900');
    // No action: the only buttons are those that copy an id (ShortId).
    expect(within(panel).queryAllByRole('button').filter((b) => !/^Copy /.test(b.getAttribute('aria-label') ?? ''))).toEqual([]);
  });

  it('leaves out what the janitor saw when it saw nothing beyond the fields', async () => {
    const bare = finding({ details: '{}' });
    renderConsole(`/orphaned-payments?open=${ID}`, { as: 'support', handlers: [stripeMode, list([bare]), detail(bare)] });
    const panel = await screen.findByRole('complementary', { name: 'Finding' });
    expect(await within(panel).findByText('Only an admin can adopt, cancel or dismiss a finding.')).toBeTruthy();
    expect(within(panel).queryByText('What the janitor saw')).toBeNull();
    expect(within(panel).queryByLabelText('Finding details')).toBeNull();
  });

  it('offers an admin only the actions the finding allows', async () => {
    renderConsole(`/orphaned-payments?open=${ID}`, { as: 'admin', handlers: [stripeMode, list(), detail(finding({ actions: ['CANCEL', 'DISMISS'] }))] });
    const panel = await screen.findByRole('complementary', { name: 'Finding' });
    expect(await within(panel).findByRole('button', { name: 'Cancel at Stripe' })).toBeTruthy();
    expect(within(panel).getByRole('button', { name: 'Dismiss' })).toBeTruthy();
    expect(within(panel).queryByRole('button', { name: 'Adopt' })).toBeNull();
  });

  it('offers no action on a resolved finding, and shows how and by whom it was resolved', async () => {
    const resolved = finding({ status: 'RESOLVED', actions: [], resolution: 'Customer paid by bank transfer', resolvedBy: 'staff:abc', resolvedAt: '2026-12-07T10:00:00.000Z' });
    renderConsole(`/orphaned-payments?open=${ID}`, { as: 'admin', handlers: [stripeMode, list([resolved]), detail(resolved)] });
    const panel = await screen.findByRole('complementary', { name: 'Finding' });
    expect(await within(panel).findByText('Customer paid by bank transfer')).toBeTruthy();
    expect(within(panel).getByText('staff:abc')).toBeTruthy();
    // No action: the only buttons are those that copy an id (ShortId).
    expect(within(panel).queryAllByRole('button').filter((b) => !/^Copy /.test(b.getAttribute('aria-label') ?? ''))).toEqual([]);
  });

  it('explains each action at Stripe in words, on the panel and in the confirmation', async () => {
    const user = userEvent.setup();
    renderConsole(`/orphaned-payments?open=${ID}`, { as: 'admin', handlers: [stripeMode, list(), detail()] });
    const panel = await screen.findByRole('complementary', { name: 'Finding' });
    const cancelWords = 'Cancels PaymentIntent pi_3Orphan000000000000001 at Stripe: the customer can no longer pay it.';
    const adoptWords = `Records the payment of $99.00 on order ${ORDER_ID}, as its webhook would have; nothing is changed at Stripe.`;
    expect(await within(panel).findByText(cancelWords)).toBeTruthy();
    expect(within(panel).getByText(adoptWords)).toBeTruthy();
    // Open at Stripe (Cancel is offered): dismissing ends the watch of a payment that stays payable.
    expect(
      within(panel).getByText(
        'Closes the finding with your note; nothing is done at Stripe: PaymentIntent pi_3Orphan000000000000001 stays payable there and is no longer watched here (no recheck, no automatic cancel). If someone pays it, its webhook still records the payment on an order.',
      ),
    ).toBeTruthy();
    await user.click(within(panel).getByRole('button', { name: 'Cancel at Stripe' }));
    const dialog = screen.getByRole('dialog', { name: 'Cancel this payment at Stripe?' });
    expect(within(dialog).getByText(cancelWords)).toBeTruthy();
    await user.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    expect(screen.queryByRole('dialog')).toBeNull();
  });

  it('says dismissing does nothing at Stripe when nothing there is payable any more', async () => {
    const paid = finding({ actions: ['ADOPT', 'DISMISS'] });
    renderConsole(`/orphaned-payments?open=${ID}`, { as: 'admin', handlers: [stripeMode, list([paid]), detail(paid)] });
    const panel = await screen.findByRole('complementary', { name: 'Finding' });
    expect(await within(panel).findByText('Closes the finding with your note; nothing is done at Stripe.')).toBeTruthy();
  });

  it('says a Checkout Session is expired, and an adoption without an order makes one from the metadata', async () => {
    const session = finding({ stripeObjectId: 'cs_test_orphan1', order: null, amount: money(4900) });
    renderConsole(`/orphaned-payments?open=${ID}`, { as: 'admin', handlers: [stripeMode, list([session]), detail(session)] });
    const panel = await screen.findByRole('complementary', { name: 'Finding' });
    expect(await within(panel).findByText('Expires Checkout Session cs_test_orphan1 at Stripe: the customer can no longer pay it.')).toBeTruthy();
    expect(within(panel).getByText('Records the payment of $49.00 on a new order made from its metadata, as its webhook would have; nothing is changed at Stripe.')).toBeTruthy();
  });

  it('refuses to dismiss without a note, then sends the note with one key per press', async () => {
    const user = userEvent.setup();
    const inputs: Array<Record<string, unknown>> = [];
    const dismissed = finding({ status: 'RESOLVED', actions: [], resolution: 'Test payment' });
    renderConsole(`/orphaned-payments?open=${ID}`, {
      as: 'admin',
      handlers: [
        stripeMode,
        list(),
        graphql.query('OrphanedPayment', () => HttpResponse.json({ data: { orphanedPayment: inputs.length > 0 ? dismissed : finding() } })),
        graphql.mutation('ResolveOrphanedPayment', ({ variables }) => {
          inputs.push(variables.input as Record<string, unknown>);
          return HttpResponse.json({ data: { resolveOrphanedPayment: { orphanedPayment: dismissed, order: null, error: null, isRepeat: false } } });
        }),
      ],
    });
    const panel = await screen.findByRole('complementary', { name: 'Finding' });
    await user.click(await within(panel).findByRole('button', { name: 'Dismiss' }));
    const dialog = screen.getByRole('dialog', { name: 'Dismiss this finding?' });
    await user.click(within(dialog).getByRole('button', { name: 'Dismiss' }));
    expect(within(dialog).getByRole('alert').textContent).toBe('Write a note: a finding is dismissed only with the reason why.');
    await user.type(within(dialog).getByLabelText('Note (why it needs nothing more)'), '   ');
    await user.click(within(dialog).getByRole('button', { name: 'Dismiss' }));
    expect(screen.getByRole('dialog')).toBeTruthy();
    expect(inputs).toHaveLength(0);
    await user.type(within(dialog).getByLabelText('Note (why it needs nothing more)'), 'Test payment by the QA team');
    await user.click(within(dialog).getByRole('button', { name: 'Dismiss' }));
    expect(await within(panel).findByText('Dismissed: the finding is resolved.')).toBeTruthy();
    expect(inputs).toHaveLength(1);
    expect(inputs[0]).toMatchObject({ id: ID, action: 'DISMISS', note: 'Test payment by the QA team' });
    expect(inputs[0]!.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
    // The panel now shows the finding as resolved: no action is left to take but the one answered.
    expect(within(panel).getByText('Test payment')).toBeTruthy();
    expect(within(panel).queryByRole('button', { name: 'Adopt' })).toBeNull();
  });

  it('adopts: says which order the payment is recorded on', async () => {
    const user = userEvent.setup();
    const keys: string[] = [];
    renderConsole(`/orphaned-payments?open=${ID}`, {
      as: 'admin',
      handlers: [
        stripeMode,
        list(),
        detail(),
        graphql.mutation('ResolveOrphanedPayment', ({ variables }) => {
          const input = variables.input as { action: string; idempotencyKey: string; note?: string };
          keys.push(input.idempotencyKey);
          expect(input.action).toBe('ADOPT');
          expect(input.note).toBeUndefined();
          return HttpResponse.json({
            data: { resolveOrphanedPayment: { orphanedPayment: finding({ status: 'RESOLVED', actions: [] }), order: { id: ORDER_ID, status: 'PAID' }, error: null, isRepeat: false } },
          });
        }),
      ],
    });
    const panel = await screen.findByRole('complementary', { name: 'Finding' });
    await user.click(await within(panel).findByRole('button', { name: 'Adopt' }));
    await user.click(within(screen.getByRole('dialog', { name: 'Adopt this payment?' })).getByRole('button', { name: 'Adopt' }));
    expect(await within(panel).findByText(`Adopted: the payment is recorded on order ${ORDER_ID}, now paid.`)).toBeTruthy();
    expect(keys).toHaveLength(1);
  });

  it('adopts a second payment of an order already paid: says it is to refund, not that the order is now paid', async () => {
    const user = userEvent.setup();
    const message = `Recorded on order ${ORDER_ID} as a second payment of an order already paid: refund it at Stripe.`;
    renderConsole(`/orphaned-payments?open=${ID}`, {
      as: 'admin',
      handlers: [
        stripeMode,
        list(),
        detail(),
        graphql.mutation('ResolveOrphanedPayment', () =>
          HttpResponse.json({
            data: { resolveOrphanedPayment: { orphanedPayment: finding({ status: 'RESOLVED', actions: [] }), order: { id: ORDER_ID, status: 'PAID' }, error: { code: 'DUPLICATE_PAYMENT', message }, isRepeat: false } },
          }),
        ),
      ],
    });
    const panel = await screen.findByRole('complementary', { name: 'Finding' });
    await user.click(await within(panel).findByRole('button', { name: 'Adopt' }));
    await user.click(within(screen.getByRole('dialog', { name: 'Adopt this payment?' })).getByRole('button', { name: 'Adopt' }));
    expect((await within(panel).findByRole('alert')).textContent).toBe(
      `Recorded as a second payment of an order already paid: refund it at Stripe. The finding is closed. (${message})`,
    );
    expect(within(panel).queryByText(/now paid/)).toBeNull();
  });

  it.each([
    ['ORPHAN_ALREADY_PAID', 'It is paid at Stripe, so it cannot be cancelled: refund it instead.'],
    ['PAYMENT_PROVIDER_UNAVAILABLE', 'Stripe could not be reached; nothing changed. Try again in a moment.'],
    ['ORPHAN_WRONG_STATE', 'The finding is not as it was when you pressed: it is resolved, someone else is on it, or Stripe shows the payment in another state now.'],
    ['DUPLICATE_PAYMENT', 'Recorded as a second payment of an order already paid: refund it at Stripe. The finding is closed.'],
  ])('shows %s in words', async (code, words) => {
    const user = userEvent.setup();
    renderConsole(`/orphaned-payments?open=${ID}`, {
      as: 'admin',
      handlers: [
        stripeMode,
        list(),
        detail(),
        graphql.mutation('ResolveOrphanedPayment', () =>
          HttpResponse.json({ data: { resolveOrphanedPayment: { orphanedPayment: finding(), order: null, error: { code, message: words }, isRepeat: false } } }),
        ),
      ],
    });
    const panel = await screen.findByRole('complementary', { name: 'Finding' });
    await user.click(await within(panel).findByRole('button', { name: 'Cancel at Stripe' }));
    await user.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Cancel at Stripe' }));
    expect((await within(panel).findByRole('alert')).textContent).toBe(words);
  });
});

function run(extra: Record<string, unknown> = {}, counters: Record<string, number> = {}) {
  return {
    id: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee',
    status: 'SUCCEEDED',
    trigger: 'SCHEDULE',
    actor: 'janitor',
    startedAt: '2026-12-07T10:55:00.000Z',
    finishedAt: '2026-12-07T10:55:04.200Z',
    durationMs: 4200,
    counters: { synced: 3, failed: 0, skipped: 1, adopted: 1, canceled: 0, orphansFound: 2, eventsBackfilled: 12, ...counters },
    error: null,
    ...extra,
  };
}

function status(extra: Record<string, unknown> = {}) {
  return {
    running: null,
    lastRun: run(),
    schedule: '*/5 * * * *',
    nextScheduledAt: '2026-12-07T11:00:00.000Z',
    openFindings: 3,
    openFindingsByKind: [
      { kind: 'STRIPE_WITHOUT_RECORD', count: 2 },
      { kind: 'PROVISIONAL_TOO_LONG', count: 1 },
    ],
    ...extra,
  };
}

const overview = graphql.query('OpsOverview', () =>
  HttpResponse.json({
    data: {
      opsOverview: {
        paymentsToday: 0, failureRate: 0, paymentsLast15Minutes: 0, failedPaymentsLast15Minutes: 0, syncFailureRate: 0,
        webhookBacklog: 0, webhookLagSeconds: null, webhookFailed: 0, makeFailing: 0, makeDead: 0, disputesOpen: 0, disputesDueSoon: 0, hourly: [], alerts: [],
      },
    },
  }),
);

describe('Reconciliation panel on the Overview', () => {
  it('shows the last run with its counters in words, the next scheduled run and open findings by kind linking to the screen', async () => {
    renderConsole('/', { as: 'support', handlers: [overview, graphql.query('ReconciliationStatus', () => HttpResponse.json({ data: { reconciliationStatus: status() } }))] });
    const panel = await screen.findByRole('region', { name: 'Reconciliation' });
    expect(
      await within(panel).findByText(
        'Succeeded in 4.2 s, started 2026-12-07 10:55:00 UTC on schedule: 3 synced with Stripe, 1 payment adopted, 0 cancelled at Stripe, 2 orphans found, 12 missed events backfilled, 1 not settled at Stripe yet, 0 failed.',
      ),
    ).toBeTruthy();
    expect(within(panel).getByText('2026-12-07 11:00:00 UTC (schedule */5 * * * *)')).toBeTruthy();
    expect(within(panel).getByRole('link', { name: '3 open findings' }).getAttribute('href')).toBe('/orphaned-payments');
    expect(within(panel).getByRole('link', { name: 'At Stripe, no record here: 2' }).getAttribute('href')).toBe('/orphaned-payments?kind=STRIPE_WITHOUT_RECORD');
    expect(within(panel).getByRole('link', { name: 'Order provisional too long: 1' }).getAttribute('href')).toBe('/orphaned-payments?kind=PROVISIONAL_TOO_LONG');
    // Support sees the janitor but may not start it.
    expect(within(panel).queryByRole('button', { name: 'Run reconciliation now' })).toBeNull();
  });

  it('shows a pass running now, and says when none is scheduled on this server', async () => {
    renderConsole('/', {
      handlers: [
        overview,
        graphql.query('ReconciliationStatus', () =>
          HttpResponse.json({ data: { reconciliationStatus: status({ running: run({ status: 'RUNNING', finishedAt: null, durationMs: 1500 }, { synced: 2 }), schedule: null, nextScheduledAt: null }) } }),
        ),
      ],
    });
    const panel = await screen.findByRole('region', { name: 'Reconciliation' });
    expect(await within(panel).findByText(/^Running, started 2026-12-07 10:55:00 UTC on schedule, 1.5 s so far: 2 synced with Stripe/)).toBeTruthy();
    expect(within(panel).getByText(/^none: this server does not schedule the janitor/)).toBeTruthy();
  });

  it('lets an admin run a pass now and follows its counters while it runs, then shows that it succeeded', async () => {
    const user = userEvent.setup();
    const RUN_ID = 'bbbbbbbb-bbbb-4ccc-8ddd-eeeeeeeeeeee';
    const inputs: Array<Record<string, unknown>> = [];
    let reads = 0;
    renderConsole('/', {
      as: 'admin',
      handlers: [
        overview,
        graphql.query('ReconciliationStatus', () => HttpResponse.json({ data: { reconciliationStatus: status() } })),
        graphql.mutation('RunReconciliation', ({ variables }) => {
          inputs.push(variables.input as Record<string, unknown>);
          return HttpResponse.json({
            data: { runReconciliation: { run: run({ id: RUN_ID, status: 'RUNNING', trigger: 'MANUAL', finishedAt: null, durationMs: 10 }, { synced: 0, skipped: 0, adopted: 0, orphansFound: 0, eventsBackfilled: 0 }), started: true, error: null, isRepeat: false } },
          });
        }),
        graphql.query('ReconciliationRun', ({ variables }) => {
          expect(variables.id).toBe(RUN_ID);
          reads += 1;
          // Two reads while it runs (the counters moving), then it is done.
          if (reads <= 2) return HttpResponse.json({ data: { reconciliationRun: run({ id: RUN_ID, status: 'RUNNING', trigger: 'MANUAL', finishedAt: null, durationMs: reads * 1000 }, { synced: reads * 5 }) } });
          return HttpResponse.json({ data: { reconciliationRun: run({ id: RUN_ID, trigger: 'MANUAL', durationMs: 3100 }, { synced: 17 }) } });
        }),
      ],
    });
    const panel = await screen.findByRole('region', { name: 'Reconciliation' });
    await user.click(await within(panel).findByRole('button', { name: 'Run reconciliation now' }));
    const confirm = screen.getByRole('dialog', { name: 'Run a reconciliation pass now?' });
    // A pass acts at Stripe too: said before the admin confirms.
    expect(confirm.textContent).toContain(
      'It also acts at Stripe: it cancels PaymentIntents and expires Checkout Sessions our orders no longer want, and open ones without our record once they are older than RECONCILE_CANCEL_OPEN_ORPHANS_AFTER_HOURS.',
    );
    await user.click(within(confirm).getByRole('button', { name: 'Run now' }));
    expect(inputs).toHaveLength(1);
    expect(inputs[0]!.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
    expect(await within(panel).findByText(/^Running, .* by staff \(Run reconciliation now\), 1\.0 s so far: 5 synced with Stripe/)).toBeTruthy();
    expect(await within(panel).findByText(/^Running, .* 2\.0 s so far: 10 synced with Stripe/)).toBeTruthy();
    expect(await within(panel).findByText(/^Succeeded in 3\.1 s, .*: 17 synced with Stripe/)).toBeTruthy();
    // Done: the button may be pressed again.
    expect((within(panel).getByRole('button', { name: 'Run reconciliation now' }) as HTMLButtonElement).disabled).toBe(false);
  });

  it('says a pass it followed once only, in Last run, once the status shows it as the last run', async () => {
    const user = userEvent.setup();
    const RUN_ID = 'dddddddd-bbbb-4ccc-8ddd-eeeeeeeeeeee';
    const done = run({ id: RUN_ID, trigger: 'MANUAL', durationMs: 2500 }, { synced: 4 });
    let finished = false;
    renderConsole('/', {
      as: 'admin',
      handlers: [
        overview,
        graphql.query('ReconciliationStatus', () => HttpResponse.json({ data: { reconciliationStatus: status(finished ? { lastRun: done } : {}) } })),
        graphql.mutation('RunReconciliation', () =>
          HttpResponse.json({ data: { runReconciliation: { run: run({ id: RUN_ID, status: 'RUNNING', trigger: 'MANUAL', finishedAt: null, durationMs: 10 }), started: true, error: null, isRepeat: false } } }),
        ),
        graphql.query('ReconciliationRun', () => {
          finished = true;
          return HttpResponse.json({ data: { reconciliationRun: done } });
        }),
      ],
    });
    const panel = await screen.findByRole('region', { name: 'Reconciliation' });
    await user.click(await within(panel).findByRole('button', { name: 'Run reconciliation now' }));
    await user.click(within(screen.getByRole('dialog', { name: 'Run a reconciliation pass now?' })).getByRole('button', { name: 'Run now' }));
    // The run's end refreshes the status: the sentence moves to Last run, and is not said twice.
    await waitFor(() => expect(panel.querySelector('.run-progress')).toBeNull());
    expect(within(panel).getAllByText(/^Succeeded in 2\.5 s, .*: 4 synced with Stripe/)).toHaveLength(1);
  });

  it('shows a pass that failed with its error, and a pass already running being followed', async () => {
    const user = userEvent.setup();
    const RUN_ID = 'cccccccc-bbbb-4ccc-8ddd-eeeeeeeeeeee';
    renderConsole('/', {
      as: 'admin',
      handlers: [
        overview,
        graphql.query('ReconciliationStatus', () => HttpResponse.json({ data: { reconciliationStatus: status() } })),
        graphql.mutation('RunReconciliation', () =>
          HttpResponse.json({ data: { runReconciliation: { run: run({ id: RUN_ID, status: 'RUNNING', finishedAt: null, durationMs: 20000 }), started: false, error: null, isRepeat: false } } }),
        ),
        graphql.query('ReconciliationRun', () =>
          HttpResponse.json({ data: { reconciliationRun: run({ id: RUN_ID, status: 'FAILED', durationMs: 21000, error: 'Stripe could not be reached (api.stripe.com answered 503)' }) } }),
        ),
      ],
    });
    const panel = await screen.findByRole('region', { name: 'Reconciliation' });
    await user.click(await within(panel).findByRole('button', { name: 'Run reconciliation now' }));
    await user.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Run now' }));
    expect(await within(panel).findByText(/^Failed after 21\.0 s, .*: Stripe could not be reached \(api\.stripe\.com answered 503\)\. Before it stopped: 3 synced/)).toBeTruthy();
  });

  it('says a press still being worked on is not a clash of input', async () => {
    const user = userEvent.setup();
    renderConsole('/', {
      as: 'admin',
      handlers: [
        overview,
        graphql.query('ReconciliationStatus', () => HttpResponse.json({ data: { reconciliationStatus: status() } })),
        graphql.mutation('RunReconciliation', () =>
          HttpResponse.json({ errors: [{ message: 'in progress', extensions: { code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_IN_PROGRESS' } }] }),
        ),
      ],
    });
    const panel = await screen.findByRole('region', { name: 'Reconciliation' });
    await user.click(await within(panel).findByRole('button', { name: 'Run reconciliation now' }));
    await user.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Run now' }));
    expect((await within(panel).findByRole('alert')).textContent).toBe('This press is still being worked on. Wait a moment, then look again.');
  });

  it('shows the typed error of the press in words', async () => {
    const user = userEvent.setup();
    renderConsole('/', {
      as: 'admin',
      handlers: [
        overview,
        graphql.query('ReconciliationStatus', () => HttpResponse.json({ data: { reconciliationStatus: status() } })),
        graphql.mutation('RunReconciliation', () => HttpResponse.json({ errors: [{ message: 'Only admins may do this', extensions: { code: 'FORBIDDEN' } }] })),
      ],
    });
    const panel = await screen.findByRole('region', { name: 'Reconciliation' });
    await user.click(await within(panel).findByRole('button', { name: 'Run reconciliation now' }));
    await user.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Run now' }));
    expect((await within(panel).findByRole('alert')).textContent).toBe('Your role may not do this.');
  });
});
