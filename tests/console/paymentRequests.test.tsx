// @vitest-environment jsdom
// The Payment requests screen: the list (title, what it buys, status, progress as a bar and in words,
// who made it, created, expires) with its status select and keyset "Load more"; the open request's
// fields and members (share, status, attempts, PaymentIntent linked to Stripe's dashboard, paid at,
// refunded); and its actions: Send reminders (support and admins), Cancel request (admins and the
// creator), and Refund… on a paid share for admins (the orders feature's dialog on the share's order).
// Each is confirmed, disabled while in flight, sends a new idempotency key per press (the same key again
// after Stripe could not be reached), says the server's typed errors in words, and refreshes the list.
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { graphql, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { ADMIN, deferred, pageInfo, renderConsole, searchParam, SUPPORT, useConsoleTestServer } from './helpers';

useConsoleTestServer();

const REQUEST_ID = '90000000-0000-4000-8000-000000000001';
const ORDER_ID = '70000000-0000-4000-8000-0000000000b1';
const money = (amount: number) => ({ amount, currency: 'usd', formatted: `$${(amount / 100).toFixed(2)}` });

function member(n: number, extra: Record<string, unknown> = {}) {
  return {
    id: `80000000-0000-4000-8000-00000000000${n}`,
    email: `member${n}@example.com`,
    name: `Member ${n}`,
    amount: money(3300),
    status: 'PENDING',
    paymentAttemptCount: 0,
    paymentIntentId: null,
    paidAt: null,
    amountRefunded: money(0),
    orderId: `70000000-0000-4000-8000-0000000000b${n}`,
    ...extra,
  };
}

const PAID_MEMBER = member(1, { status: 'PAID', paymentAttemptCount: 1, paymentIntentId: 'pi_3MemberShare0001', paidAt: '2026-12-07T10:05:00.000Z', orderId: ORDER_ID });

function request(extra: Record<string, unknown> = {}) {
  return {
    id: REQUEST_ID,
    title: 'Team licence',
    track: 'business_plan_builder',
    trackName: 'Business Plan Builder',
    description: null,
    total: money(9900),
    amountPaid: money(3300),
    amountRefunded: money(0),
    status: 'PARTIALLY_PAID',
    membersCount: 3,
    membersPaid: 1,
    expiresAt: '2026-12-14T00:00:00.000Z',
    createdBy: 'api_key:a9000000-0000-4000-8000-000000000001',
    createdByName: 'Partner shop',
    createdAt: '2026-12-07T09:00:00.000Z',
    updatedAt: '2026-12-07T10:05:00.000Z',
    completedAt: null,
    canceledAt: null,
    metadata: [{ key: 'team', value: 'north' }],
    members: [PAID_MEMBER, member(2, { status: 'FAILED', paymentAttemptCount: 1, paymentIntentId: 'pi_3MemberShare0002' }), member(3)],
    ...extra,
  };
}

type Req = ReturnType<typeof request>;
type Sent = { name: string; input: Record<string, unknown> };

const canceled = () =>
  request({ status: 'CANCELED', canceledAt: '2026-12-07T11:00:00.000Z', members: [PAID_MEMBER, member(2, { status: 'CANCELED', paymentAttemptCount: 1 }), member(3, { status: 'CANCELED' })] });

/** The share's order as the Orders screen reads it: paid, all of it refundable. */
function shareOrder(extra: Record<string, unknown> = {}) {
  return {
    id: ORDER_ID,
    status: 'PAID',
    syncState: 'CONFIRMED',
    track: 'business_plan_builder',
    trackName: 'Business Plan Builder',
    amount: money(3300),
    customer: { id: 'c1', email: 'member1@example.com', name: 'Member 1' },
    checkoutSessionId: null,
    paymentIntentId: 'pi_3MemberShare0001',
    payment: { paymentIntentId: 'pi_3MemberShare0001', chargeId: 'ch_1', status: 'succeeded', amount: money(3300), amountRefunded: money(0) },
    metadata: [],
    createdAt: '2026-12-07T09:00:00.000Z',
    updatedAt: '2026-12-07T10:05:00.000Z',
    syncAttempts: 0,
    lastSyncAt: null,
    refundableAmount: money(3300),
    refunds: [],
    disputes: [],
    ...extra,
  };
}

/**
 * The screen's server: the list (filters and reads counted), the open request, the share's order, and
 * the two actions and refundPayment, each answered by `answer` (n counts calls).
 */
function handlers(options: { req?: Req; rows?: Req[]; answer?: (name: string, n: number, input: Record<string, unknown>) => Record<string, unknown> | undefined; sent?: Sent[]; filters?: unknown[]; reads?: string[]; hold?: Promise<void> } = {}) {
  let current = options.req ?? request();
  let calls = 0;
  const mutation = (name: string, field: string, fallback: () => Record<string, unknown>) =>
    graphql.mutation(name, async ({ variables }) => {
      const input = variables.input as Record<string, unknown>;
      options.sent?.push({ name, input });
      calls += 1;
      if (options.hold) await options.hold;
      const payload = options.answer?.(name, calls, input) ?? fallback();
      if (payload.paymentRequest) current = payload.paymentRequest as Req;
      return HttpResponse.json({ data: { [field]: payload } });
    });
  return [
    graphql.query('StripeMode', () => HttpResponse.json({ data: { stripeMode: 'TEST' } })),
    graphql.query('PaymentRequests', ({ variables }) => {
      options.filters?.push(variables.filter ?? null);
      options.reads?.push('list');
      return HttpResponse.json({ data: { paymentRequests: { nodes: options.rows ?? [current], pageInfo: pageInfo(false, null) } } });
    }),
    graphql.query('PaymentRequest', () => {
      options.reads?.push('detail');
      return HttpResponse.json({ data: { paymentRequest: current } });
    }),
    graphql.query('Order', ({ variables }) => {
      options.reads?.push(`order ${String(variables.id)}`);
      return HttpResponse.json({ data: { order: shareOrder() } });
    }),
    mutation('RemindPaymentRequestMembers', 'remindPaymentRequestMembers', () => ({ paymentRequest: current, reminded: 2, error: null, isRepeat: false })),
    mutation('CancelPaymentRequest', 'cancelPaymentRequest', () => ({ paymentRequest: canceled(), error: null, isRepeat: false })),
    mutation('RefundPayment', 'refundPayment', () => ({ refund: null, order: null, error: null, refundableAmount: null, isRepeat: false })),
  ];
}

const detail = () => screen.findByRole('complementary', { name: 'Payment request' });
/** The text of a detail field by its label. */
const field = (panel: HTMLElement, label: string) => within(panel).getByText(label, { selector: 'dt' }).nextElementSibling!.textContent;
const members = async () => within(await detail()).findByRole('list', { name: 'Members' });
const memberItem = async (email: string) => within(await members()).getByRole('listitem', { name: `Member ${email}` });

async function confirm(user: ReturnType<typeof userEvent.setup>, button: string, dialog: string) {
  const panel = await detail();
  await user.click(await within(panel).findByRole('button', { name: button }));
  await user.click(within(screen.getByRole('dialog', { name: dialog })).getByRole('button', { name: button }));
  return panel;
}

describe('the Payment requests list', () => {
  it('is in the navigation and lists title, what it buys, status, progress (bar and words), creator, created and expiry', async () => {
    const rows = [
      request({ createdBy: `staff:${SUPPORT.id}` }),
      request({ id: '90000000-0000-4000-8000-000000000002', title: 'Workshop', track: null, trackName: null, description: 'Saturday workshop, split four ways', status: 'OPEN', amountPaid: money(0), membersPaid: 0, membersCount: 4, expiresAt: null, createdBy: 'customer:c0ffee00-0000-4000-8000-000000000001', createdByName: null }),
    ];
    renderConsole('/no-such-page', { handlers: handlers({ rows }) });
    const user = userEvent.setup();
    await user.click(await screen.findByRole('link', { name: 'Payment requests' }));
    expect(await screen.findByRole('heading', { name: 'Payment requests', level: 1 })).toBeTruthy();
    const table = await screen.findByRole('table');
    const team = within(table).getByRole('link', { name: `Payment request Team licence (${REQUEST_ID})` }).closest('tr')!;
    expect(within(team).getByText('Business Plan Builder')).toBeTruthy();
    expect(within(team).getByText('partially paid')).toBeTruthy();
    const bar = within(team).getByRole('progressbar', { name: '$33.00 of $99.00 paid' }) as HTMLProgressElement;
    expect([bar.value, bar.max]).toEqual([3300, 9900]);
    expect(within(team).getByText('1 of 3 members paid')).toBeTruthy();
    // The signed-in support member made it: "you", the id in the tooltip.
    expect(within(team).getByText('you').closest('td')!.getAttribute('title')).toBe(`staff:${SUPPORT.id}`);
    expect(within(team).getByText('2026-12-07 09:00:00')).toBeTruthy();
    expect(within(team).getByText('2026-12-14 00:00:00')).toBeTruthy();
    const workshop = within(table).getByRole('link', { name: /^Payment request Workshop/ }).closest('tr')!;
    expect(within(workshop).getByText('Saturday workshop, split four ways')).toBeTruthy();
    expect(within(workshop).getByText('open')).toBeTruthy();
    expect(within(workshop).getByText('0 of 4 members paid')).toBeTruthy();
    expect(within(workshop).getByText('customer c0ffee00…')).toBeTruthy();
    expect(within(workshop).getByText('never')).toBeTruthy();
  });

  it('filters by status with a select, kept in the URL', async () => {
    const filters: unknown[] = [];
    const user = userEvent.setup();
    renderConsole('/payment-requests', { handlers: handlers({ filters }) });
    await screen.findByRole('table');
    const status = screen.getByLabelText('Status') as HTMLSelectElement;
    expect(Array.from(status.options).map((o) => o.value)).toEqual(['', 'OPEN', 'PARTIALLY_PAID', 'PAID', 'CANCELED', 'EXPIRED']);
    await user.selectOptions(status, 'PARTIALLY_PAID');
    await waitFor(() => expect(filters.at(-1)).toEqual({ status: 'PARTIALLY_PAID' }));
    expect(searchParam('status')).toBe('PARTIALLY_PAID');
    expect(filters[0]).toBeNull();
  });

  it('loads the next page after the last cursor', async () => {
    const afters: unknown[] = [];
    const user = userEvent.setup();
    renderConsole('/payment-requests', {
      handlers: [
        graphql.query('PaymentRequests', ({ variables }) => {
          afters.push(variables.after ?? null);
          const page = variables.after === 'cursor-1' ? { nodes: [request({ id: '90000000-0000-4000-8000-0000000000ff', title: 'Older request' })], pageInfo: pageInfo(false, null) } : { nodes: [request()], pageInfo: pageInfo(true, 'cursor-1') };
          return HttpResponse.json({ data: { paymentRequests: page } });
        }),
        ...handlers(),
      ],
    });
    await user.click(await screen.findByRole('button', { name: 'Load more' }));
    expect(await screen.findByText('Older request')).toBeTruthy();
    expect(afters).toEqual([null, 'cursor-1']);
    expect(screen.getByText('2 shown')).toBeTruthy();
  });
});

describe('the open request', () => {
  it('shows its fields and each member’s share, status, attempts, PaymentIntent in Stripe’s dashboard, paid at and refunded', async () => {
    const req = request({ members: [{ ...PAID_MEMBER, amountRefunded: money(1000) }, ...request().members.slice(1)] });
    renderConsole(`/payment-requests?open=${REQUEST_ID}`, { handlers: handlers({ req }) });
    const panel = await detail();
    expect(await within(panel).findByText('Business Plan Builder (business_plan_builder)')).toBeTruthy();
    // By the creator's name (createdByName), not its id.
    expect(field(panel, 'Created by')).toBe('API key Partner shop');
    expect(within(panel).getByText('team: north')).toBeTruthy();
    expect(within(panel).getByText('2026-12-14 00:00:00 UTC')).toBeTruthy();
    const paid = await memberItem('member1@example.com');
    expect(paid.textContent).toContain('$33.00 · Member 1member1@example.com');
    expect(within(paid).getByText('paid')).toBeTruthy();
    expect(paid.textContent).toContain('1 attempt · paid 2026-12-07 10:05:00 UTC · $10.00 refunded');
    // Test mode: the test dashboard, as the other screens link ids.
    expect(within(paid).getByRole('link', { name: "pi_3MemberShare0001 in Stripe's dashboard" }).getAttribute('href')).toBe('https://dashboard.stripe.com/test/payments/pi_3MemberShare0001');
    expect(within(paid).getByRole('link', { name: 'its order' }).getAttribute('href')).toBe(`/orders?open=${ORDER_ID}`);
    const failed = await memberItem('member2@example.com');
    expect(within(failed).getByText('failed')).toBeTruthy();
    const pending = await memberItem('member3@example.com');
    expect(pending.textContent).toContain('0 attempts · not paid');
    expect(pending.textContent).toContain('PaymentIntent —');
  });

  it('offers support Send reminders but not Cancel on another’s request, and no Refund…; nor reads the share’s order', async () => {
    const reads: string[] = [];
    renderConsole(`/payment-requests?open=${REQUEST_ID}`, { handlers: handlers({ reads }) });
    const panel = await detail();
    expect(await within(panel).findByRole('button', { name: 'Send reminders' })).toBeTruthy();
    expect(within(panel).queryByRole('button', { name: 'Cancel request' })).toBeNull();
    expect(within(panel).getByText('Only an admin or the request’s creator can cancel it.')).toBeTruthy();
    expect(within(panel).queryByRole('button', { name: 'Refund…' })).toBeNull();
    expect(within(panel).getByText('Only an admin can refund a share.')).toBeTruthy();
    expect(reads.filter((r) => r.startsWith('order'))).toEqual([]);
  });

  it('offers support Cancel request on a request they made', async () => {
    renderConsole(`/payment-requests?open=${REQUEST_ID}`, { handlers: handlers({ req: request({ createdBy: `staff:${SUPPORT.id}` }) }) });
    expect(await within(await detail()).findByRole('button', { name: 'Cancel request' })).toBeTruthy();
  });

  it('disables both actions on a closed request, saying why', async () => {
    renderConsole(`/payment-requests?open=${REQUEST_ID}`, { as: 'admin', handlers: handlers({ req: canceled() }) });
    const panel = await detail();
    const remind = (await within(panel).findByRole('button', { name: 'Send reminders' })) as HTMLButtonElement;
    expect([remind.disabled, remind.title]).toEqual([true, 'The request is canceled: there is no one to remind.']);
    const cancel = within(panel).getByRole('button', { name: 'Cancel request' }) as HTMLButtonElement;
    expect([cancel.disabled, cancel.title]).toEqual([true, 'The request is canceled: there is nothing to cancel.']);
  });

  it('disables Send reminders when every member has paid or is paying', async () => {
    const req = request({ members: [PAID_MEMBER, member(2, { status: 'PROCESSING', paymentAttemptCount: 1 })], membersCount: 2 });
    renderConsole(`/payment-requests?open=${REQUEST_ID}`, { handlers: handlers({ req }) });
    const remind = (await within(await detail()).findByRole('button', { name: 'Send reminders' })) as HTMLButtonElement;
    expect([remind.disabled, remind.title]).toEqual([true, 'Every member has paid or is paying: there is no one to remind.']);
  });
});

describe('Send reminders and Cancel request', () => {
  it('sends reminders after confirmation, disabled in flight, says how many, and reads the list again', async () => {
    const user = userEvent.setup();
    const sent: Sent[] = [];
    const reads: string[] = [];
    const hold = deferred();
    renderConsole(`/payment-requests?open=${REQUEST_ID}`, { handlers: handlers({ sent, reads, hold: hold.promise }) });
    const panel = await detail();
    await user.click(await within(panel).findByRole('button', { name: 'Send reminders' }));
    const dialog = screen.getByRole('dialog', { name: 'Send reminders?' });
    expect(dialog.textContent).toContain('Each of the 2 unpaid members gets an email (sent by Make) with a new pay link; their earlier links stop working.');
    await user.click(within(dialog).getByRole('button', { name: 'Send reminders' }));
    expect(((await within(panel).findByRole('button', { name: 'Sending reminders…' })) as HTMLButtonElement).disabled).toBe(true);
    const listReads = reads.filter((r) => r === 'list').length;
    hold.resolve();
    expect(await within(panel).findByText('Reminders queued for 2 members: Make sends each a new pay link.')).toBeTruthy();
    expect(sent).toEqual([{ name: 'RemindPaymentRequestMembers', input: { idempotencyKey: expect.any(String), id: REQUEST_ID } }]);
    await waitFor(() => expect(reads.filter((r) => r === 'list').length).toBeGreaterThan(listReads));
  });

  it('cancels (admins): disabled in flight with Send reminders waiting, then the request shows canceled and nothing more to do', async () => {
    const user = userEvent.setup();
    const sent: Sent[] = [];
    const hold = deferred();
    renderConsole(`/payment-requests?open=${REQUEST_ID}`, { as: 'admin', handlers: handlers({ sent, hold: hold.promise }) });
    const panel = await detail();
    await user.click(await within(panel).findByRole('button', { name: 'Cancel request' }));
    const dialog = screen.getByRole('dialog', { name: 'Cancel this payment request?' });
    expect(dialog.textContent).toContain('The 1 paid share stays paid (refund each below if needed).');
    await user.click(within(dialog).getByRole('button', { name: 'Cancel request' }));
    expect(((await within(panel).findByRole('button', { name: 'Canceling…' })) as HTMLButtonElement).disabled).toBe(true);
    const remind = within(panel).getByRole('button', { name: 'Send reminders' }) as HTMLButtonElement;
    expect([remind.disabled, remind.title]).toEqual([true, 'Another change to this request is being made.']);
    hold.resolve();
    expect(await within(panel).findByText('Request canceled: the unpaid shares can no longer be paid; the 1 paid share stays paid.')).toBeTruthy();
    expect(sent).toEqual([{ name: 'CancelPaymentRequest', input: { idempotencyKey: expect.any(String), id: REQUEST_ID } }]);
    expect(field(panel, 'Status')).toBe('canceled');
    expect(within(await memberItem('member3@example.com')).getByText('canceled')).toBeTruthy();
    expect((within(panel).getByRole('button', { name: 'Cancel request' }) as HTMLButtonElement).disabled).toBe(true);
    expect((within(panel).getByRole('button', { name: 'Send reminders' }) as HTMLButtonElement).disabled).toBe(true);
  });

  it('presses Cancel request again with the same key after Stripe could not be reached', async () => {
    const user = userEvent.setup();
    const sent: Sent[] = [];
    renderConsole(`/payment-requests?open=${REQUEST_ID}`, {
      as: 'admin',
      handlers: handlers({
        sent,
        answer: (name, n) => (name === 'CancelPaymentRequest' && n === 1 ? { paymentRequest: request(), error: { code: 'PAYMENT_PROVIDER_UNAVAILABLE', message: 'Stripe is unavailable' }, isRepeat: false } : undefined),
      }),
    });
    const panel = await confirm(user, 'Cancel request', 'Cancel this payment request?');
    expect(await within(panel).findByText('Stripe could not be reached, so the members’ payments could not all be stopped. Press again to finish this cancel (the same cancel, never a second one).')).toBeTruthy();
    await confirm(user, 'Cancel request', 'Cancel this payment request?');
    expect(await within(panel).findByText(/^Request canceled/)).toBeTruthy();
    expect(sent.map((s) => s.input)).toEqual([
      { idempotencyKey: expect.any(String), id: REQUEST_ID },
      { idempotencyKey: sent[0]!.input.idempotencyKey, id: REQUEST_ID },
    ]);
  });

  it('gives each press of Send reminders a key of its own, and says a repeat', async () => {
    const user = userEvent.setup();
    const sent: Sent[] = [];
    renderConsole(`/payment-requests?open=${REQUEST_ID}`, {
      handlers: handlers({ sent, answer: (_name, n) => (n === 2 ? { paymentRequest: request(), reminded: 0, error: null, isRepeat: true } : undefined) }),
    });
    const panel = await confirm(user, 'Send reminders', 'Send reminders?');
    expect(await within(panel).findByText(/^Reminders queued for 2 members/)).toBeTruthy();
    await confirm(user, 'Send reminders', 'Send reminders?');
    expect(await within(panel).findByText('No one to remind (already done for this press): every member has paid or is paying.')).toBeTruthy();
    expect(sent).toHaveLength(2);
    expect(sent[0]!.input.idempotencyKey).not.toBe(sent[1]!.input.idempotencyKey);
  });

  it.each([
    ['CancelPaymentRequest', 'Cancel request', 'Cancel this payment request?', { code: 'REQUEST_NOT_CANCELABLE', message: 'x' }, 'The request is paid, canceled or expired already: there is nothing to cancel. Nothing changed.'],
    ['CancelPaymentRequest', 'Cancel request', 'Cancel this payment request?', { code: 'PAYMENT_REQUEST_NOT_FOUND', message: 'x' }, 'No payment request has this id any more. Nothing changed.'],
    ['RemindPaymentRequestMembers', 'Send reminders', 'Send reminders?', { code: 'REQUEST_NOT_PAYABLE', message: 'x' }, 'The request is paid, canceled or expired: there is no one to remind. Nothing was sent.'],
  ])('%s says %j in words', async (name, button, dialog, error, words) => {
    const user = userEvent.setup();
    renderConsole(`/payment-requests?open=${REQUEST_ID}`, { as: 'admin', handlers: handlers({ answer: (called) => (called === name ? { paymentRequest: request(), reminded: 0, error, isRepeat: false } : undefined) }) });
    const panel = await confirm(user, button, dialog);
    expect((await within(panel).findByRole('alert')).textContent).toBe(words);
  });

  it('says a refusal of the caller’s role in words', async () => {
    const user = userEvent.setup();
    renderConsole(`/payment-requests?open=${REQUEST_ID}`, {
      handlers: [
        graphql.mutation('CancelPaymentRequest', () => HttpResponse.json({ errors: [{ message: 'Only the request’s creator or an admin may cancel it', extensions: { code: 'FORBIDDEN' } }], data: null })),
        ...handlers({ req: request({ createdBy: `staff:${SUPPORT.id}` }) }),
      ],
    });
    const panel = await confirm(user, 'Cancel request', 'Cancel this payment request?');
    expect((await within(panel).findByRole('alert')).textContent).toBe('Your role may not do this.');
  });
});

describe('Refund… on a paid share (admins)', () => {
  it('opens the orders feature’s refund dialog on the share’s order, sends refundPayment for it, and reads the request again: the share shows refunded with the outcome kept', async () => {
    const user = userEvent.setup();
    const sent: Sent[] = [];
    const reads: string[] = [];
    // Once refunded, the request reads the share as refunded (the server's status map).
    const refunded = request({ amountRefunded: money(3300), members: [{ ...PAID_MEMBER, status: 'REFUNDED', amountRefunded: money(3300) }, ...request().members.slice(1)] });
    renderConsole(`/payment-requests?open=${REQUEST_ID}`, {
      as: 'admin',
      handlers: [
        graphql.query('PaymentRequest', () => {
          reads.push('detail');
          return HttpResponse.json({ data: { paymentRequest: sent.length > 0 ? refunded : request() } });
        }),
        graphql.query('Order', () => {
          reads.push(`order ${ORDER_ID}`);
          return HttpResponse.json({ data: { order: sent.length > 0 ? shareOrder({ status: 'REFUNDED', refundableAmount: money(0) }) : shareOrder() } });
        }),
        ...handlers({
        sent,
        reads,
        answer: (name) =>
          name === 'RefundPayment'
            ? {
                refund: { id: 'r1', stripeRefundId: 're_1', orderId: ORDER_ID, amount: money(3300), status: 'SUCCEEDED', reason: 'REQUESTED_BY_CUSTOMER', failureReason: null, requestedBy: `staff:${ADMIN.id}`, createdAt: '2026-12-07T12:00:00.000Z', updatedAt: '2026-12-07T12:00:00.000Z' },
                order: shareOrder({ status: 'REFUNDED', refundableAmount: money(0) }),
                error: null,
                refundableAmount: null,
                isRepeat: false,
              }
            : undefined,
        }),
      ],
    });
    const paid = await memberItem('member1@example.com');
    // Only the paid share offers it, and only its order is read.
    expect(within(await memberItem('member2@example.com')).queryByRole('button', { name: 'Refund…' })).toBeNull();
    await user.click(await within(paid).findByRole('button', { name: 'Refund…' }));
    expect(reads.filter((r) => r.startsWith('order'))).toEqual([`order ${ORDER_ID}`]);
    const dialog = screen.getByRole('dialog', { name: 'Refund this order?' });
    expect(within(dialog).getByText('Refund $33.00 of $33.00 to member1@example.com')).toBeTruthy();
    const detailReads = reads.filter((r) => r === 'detail').length;
    await user.click(within(dialog).getByRole('button', { name: 'Refund $33.00' }));
    expect(await within(paid).findByText('Refunded $33.00: Stripe has refunded it.')).toBeTruthy();
    expect(sent).toEqual([{ name: 'RefundPayment', input: { orderId: ORDER_ID, amount: 3300, reason: 'REQUESTED_BY_CUSTOMER', idempotencyKey: expect.any(String) } }]);
    await waitFor(() => expect(reads.filter((r) => r === 'detail').length).toBeGreaterThan(detailReads));
    // The refunded share says so, and keeps the outcome beside its Refund…, now disabled.
    const after = await memberItem('member1@example.com');
    expect(await within(after).findByText('refunded')).toBeTruthy();
    expect(after.textContent).toContain('$33.00 refunded');
    expect(within(after).getByText('Refunded $33.00: Stripe has refunded it.')).toBeTruthy();
    await waitFor(() => expect((within(after).getByRole('button', { name: 'Refund…' }) as HTMLButtonElement).disabled).toBe(true));
  });
});
