// @vitest-environment jsdom
// Refund… on an order's detail: for admins only, a dialog whose amount starts at what may still be
// refunded and is checked as it is typed, the confirmation in words, one idempotency key per press (a
// refund Stripe could not be reached for completed with the same key), the typed errors in words, and
// the order's refunds listed for support and admins alike.
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { graphql, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { deferred, pageInfo, renderConsole, useConsoleTestServer } from './helpers';

useConsoleTestServer();

const ORDER_ID = '70000000-0000-4000-8000-000000000001';
const money = (amount: number) => ({ amount, currency: 'usd', formatted: `$${(amount / 100).toFixed(2)}` });

function refund(extra: Record<string, unknown> = {}) {
  return {
    id: 'a0000000-0000-4000-8000-000000000001',
    stripeRefundId: 're_3Refund0001',
    orderId: ORDER_ID,
    amount: money(3000),
    status: 'SUCCEEDED',
    reason: 'DUPLICATE',
    failureReason: null,
    requestedBy: 'staff:00000000-0000-4000-8000-00000000a002',
    createdAt: '2026-12-07T10:00:00.000Z',
    updatedAt: '2026-12-07T10:00:01.000Z',
    ...extra,
  };
}

function order(extra: Record<string, unknown> = {}) {
  return {
    id: ORDER_ID,
    status: 'PAID',
    syncState: 'CONFIRMED',
    track: 'business_plan_builder',
    trackName: 'Business Plan Builder',
    amount: money(9900),
    customer: { id: 'c1', email: 'ada@example.com', name: 'Ada' },
    checkoutSessionId: null,
    paymentIntentId: 'pi_3Refundable',
    payment: { paymentIntentId: 'pi_3Refundable', chargeId: 'ch_1', status: 'succeeded', amount: money(9900), amountRefunded: money(0) },
    metadata: [],
    createdAt: '2026-12-07T09:00:00.000Z',
    updatedAt: '2026-12-07T09:00:00.000Z',
    syncAttempts: 0,
    lastSyncAt: null,
    refundableAmount: money(9900),
    refunds: [],
    disputes: [],
    ...extra,
  };
}

type Input = { orderId: string; amount: number; reason: string; note?: string; idempotencyKey: string };

/** The orders screen with the order open; each refundPayment answer comes from `answer` (n counts calls). */
function handlers(options: { order?: ReturnType<typeof order>; answer?: (n: number, input: Input) => Record<string, unknown>; inputs?: Input[]; hold?: Promise<void> } = {}) {
  let calls = 0;
  let current = options.order ?? order();
  return [
    graphql.query('StripeMode', () => HttpResponse.json({ data: { stripeMode: 'SANDBOX' } })),
    graphql.query('Orders', () => HttpResponse.json({ data: { orders: { nodes: [current], pageInfo: pageInfo(false, null) } } })),
    graphql.query('Order', () => HttpResponse.json({ data: { order: current } })),
    graphql.mutation('RefundPayment', async ({ variables }) => {
      const input = variables.input as Input;
      options.inputs?.push(input);
      calls += 1;
      if (options.hold) await options.hold;
      const payload = options.answer?.(calls, input) ?? { refund: null, order: null, error: null, refundableAmount: null, isRepeat: false };
      if (payload.order) current = payload.order as ReturnType<typeof order>;
      return HttpResponse.json({ data: { refundPayment: payload } });
    }),
  ];
}

const made = (amount: number, extra: Record<string, unknown> = {}) => {
  const r = refund({ id: `r-${amount}`, amount: money(amount), reason: 'REQUESTED_BY_CUSTOMER', status: 'PENDING', stripeRefundId: 're_new', ...extra });
  return { refund: r, order: order({ status: 'PARTIALLY_REFUNDED', refundableAmount: money(9900 - amount), refunds: [r] }), error: null, refundableAmount: null, isRepeat: false };
};

const refusal = (code: string, message: string, refundableAmount: number | null = null) => ({
  refund: null,
  order: order(),
  error: { code, message },
  refundableAmount: refundableAmount === null ? null : money(refundableAmount),
  isRepeat: false,
});

async function openDialog(user: ReturnType<typeof userEvent.setup>) {
  const panel = await screen.findByRole('complementary', { name: 'Order' });
  await user.click(await within(panel).findByRole('button', { name: 'Refund…' }));
  return { panel, dialog: screen.getByRole('dialog', { name: 'Refund this order?' }) };
}

describe('Refund… (admins)', () => {
  it('prefills the amount to what may still be refunded and says in words what will happen', async () => {
    const user = userEvent.setup();
    const partly = order({ status: 'PARTIALLY_REFUNDED', refundableAmount: money(6930), refunds: [refund({ amount: money(2970) })] });
    renderConsole(`/orders?open=${ORDER_ID}`, { as: 'admin', handlers: handlers({ order: partly }) });
    const { dialog } = await openDialog(user);
    const amount = within(dialog).getByLabelText('Amount (USD)') as HTMLInputElement;
    expect(amount.value).toBe('69.30');
    expect(within(dialog).getByText('$69.30 of $99.00 may still be refunded.')).toBeTruthy();
    expect(within(dialog).getByText('Refund $69.30 of $99.00 to ada@example.com')).toBeTruthy();
    await user.clear(amount);
    await user.type(amount, '29,70');
    expect(within(dialog).getByText('Refund $29.70 of $99.00 to ada@example.com')).toBeTruthy();
    expect(within(dialog).getByRole('button', { name: 'Refund $29.70' })).toBeTruthy();
  });

  it('checks the amount against the remainder as it is typed, and sends nothing it refuses', async () => {
    const user = userEvent.setup();
    const inputs: Input[] = [];
    renderConsole(`/orders?open=${ORDER_ID}`, { as: 'admin', handlers: handlers({ inputs }) });
    const { dialog } = await openDialog(user);
    const amount = within(dialog).getByLabelText('Amount (USD)');
    await user.clear(amount);
    await user.type(amount, '99.01');
    expect(within(dialog).getByText('At most $99.00 may still be refunded.')).toBeTruthy();
    expect(amount.getAttribute('aria-invalid')).toBe('true');
    expect(within(dialog).queryByText(/^Refund \$/)).toBeNull();
    const submit = within(dialog).getByRole('button', { name: 'Refund' }) as HTMLButtonElement;
    expect(submit.disabled).toBe(true);
    await user.clear(amount);
    await user.type(amount, '12.345');
    expect(within(dialog).getByText('Write the amount as digits with up to 2 decimals, e.g. 29.70 (no thousands separators).')).toBeTruthy();
    await user.type(amount, '{Enter}');
    await user.clear(amount);
    await user.type(amount, '99');
    expect(amount.getAttribute('aria-invalid')).toBe('false');
    expect(within(dialog).getByRole('button', { name: 'Refund $99.00' })).toBeTruthy();
    expect(inputs).toHaveLength(0);
  });

  it('sends the amount in cents with the reason and note, is disabled while in flight, then lists the refund', async () => {
    const user = userEvent.setup();
    const inputs: Input[] = [];
    const hold = deferred();
    renderConsole(`/orders?open=${ORDER_ID}`, { as: 'admin', handlers: handlers({ inputs, hold: hold.promise, answer: (_n, input) => made(input.amount, { reason: input.reason }) }) });
    const { panel, dialog } = await openDialog(user);
    const amount = within(dialog).getByLabelText('Amount (USD)');
    await user.clear(amount);
    await user.type(amount, '29.70');
    await user.selectOptions(within(dialog).getByLabelText('Reason'), 'DUPLICATE');
    const note = within(dialog).getByLabelText('Note (for the audit log, not sent to Stripe)');
    expect(note.getAttribute('maxlength')).toBe('500');
    await user.type(note, '  Charged twice  ');
    expect(within(dialog).getByText('17 / 500')).toBeTruthy();
    await user.click(within(dialog).getByRole('button', { name: 'Refund $29.70' }));
    await waitFor(() => expect(inputs).toHaveLength(1));
    expect(inputs[0]).toEqual({ orderId: ORDER_ID, amount: 2970, reason: 'DUPLICATE', note: 'Charged twice', idempotencyKey: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    // The dialog's button and the one that opened it: both disabled until the answer.
    const busy = within(panel).getAllByRole('button', { name: 'Refunding…' }) as HTMLButtonElement[];
    expect(busy).toHaveLength(2);
    expect(busy.every((button) => button.disabled)).toBe(true);
    expect((within(dialog).getByRole('button', { name: 'Cancel' }) as HTMLButtonElement).disabled).toBe(true);
    hold.resolve();
    expect(await within(panel).findByText('Refunded $29.70: Stripe is returning the money (some methods take days).')).toBeTruthy();
    expect(screen.queryByRole('dialog')).toBeNull();
    const list = within(panel).getByRole('list', { name: 'Refunds' });
    expect(within(list).getByText('$29.70')).toBeTruthy();
    expect(within(list).getByText('pending')).toBeTruthy();
    expect(within(list).getByText(/Duplicate payment/)).toBeTruthy();
    expect(inputs).toHaveLength(1);
  });

  it('makes one key per press: two refunds pressed one after the other send two keys', async () => {
    const user = userEvent.setup();
    const inputs: Input[] = [];
    renderConsole(`/orders?open=${ORDER_ID}`, { as: 'admin', handlers: handlers({ inputs, answer: (_n, input) => made(input.amount) }) });
    for (const typed of ['10', '5']) {
      const { panel, dialog } = await openDialog(user);
      const amount = within(dialog).getByLabelText('Amount (USD)');
      await user.clear(amount);
      await user.type(amount, typed);
      await user.click(within(dialog).getByRole('button', { name: `Refund $${typed}.00` }));
      expect(await within(panel).findByText(`Refunded $${typed}.00: Stripe is returning the money (some methods take days).`)).toBeTruthy();
    }
    expect(inputs.map((i) => i.amount)).toEqual([1000, 500]);
    expect(inputs[0]!.idempotencyKey).not.toBe(inputs[1]!.idempotencyKey);
  });

  it('says a refund Stripe could not be reached for is kept as creating, and completes it with the same key and input', async () => {
    const user = userEvent.setup();
    const inputs: Input[] = [];
    renderConsole(`/orders?open=${ORDER_ID}`, {
      as: 'admin',
      handlers: handlers({
        inputs,
        answer: (n, input) =>
          n === 1
            ? { ...refusal('PAYMENT_PROVIDER_UNAVAILABLE', 'Stripe could not be reached.'), refund: refund({ status: 'CREATING', stripeRefundId: null, amount: money(input.amount) }) }
            : made(input.amount, { status: 'SUCCEEDED' }),
      }),
    });
    const { panel, dialog } = await openDialog(user);
    const amount = within(dialog).getByLabelText('Amount (USD)') as HTMLInputElement;
    await user.clear(amount);
    await user.type(amount, '40');
    await user.click(within(dialog).getByRole('button', { name: 'Refund $40.00' }));
    expect((await within(dialog).findByRole('alert')).textContent).toBe(
      'Stripe could not be reached. The refund is kept as creating: press again to complete it (the same refund, never a second one).',
    );
    // The same refund: the fields are locked to what was sent.
    expect(amount.readOnly).toBe(true);
    expect(amount.value).toBe('40.00');
    expect((within(dialog).getByLabelText('Reason') as HTMLSelectElement).disabled).toBe(true);
    await user.click(within(dialog).getByRole('button', { name: 'Complete the refund' }));
    expect(await within(panel).findByText('Refunded $40.00: Stripe has refunded it.')).toBeTruthy();
    expect(inputs).toHaveLength(2);
    expect(inputs[1]).toEqual(inputs[0]);
  });

  it('retries a request lost on the network with the same key, so the press makes one refund', async () => {
    const user = userEvent.setup();
    const keys: string[] = [];
    renderConsole(`/orders?open=${ORDER_ID}`, {
      as: 'admin',
      handlers: [
        graphql.mutation('RefundPayment', ({ variables }) => {
          keys.push((variables.input as Input).idempotencyKey);
          // The first request is lost; the retry falls through to the answering handler.
          return keys.length === 1 ? HttpResponse.error() : undefined;
        }),
        ...handlers({ answer: (_n, input) => made(input.amount) }),
      ],
    });
    const { panel, dialog } = await openDialog(user);
    await user.click(within(dialog).getByRole('button', { name: 'Refund $99.00' }));
    expect(await within(panel).findByText('Refunded $99.00: Stripe is returning the money (some methods take days).')).toBeTruthy();
    expect(keys).toHaveLength(2);
    expect(keys[1]).toBe(keys[0]);
  });

  it('keeps the key of a press the network kept failing, and pressing again completes that refund', async () => {
    const user = userEvent.setup();
    const inputs: Input[] = [];
    let networkDown = true;
    renderConsole(`/orders?open=${ORDER_ID}`, {
      as: 'admin',
      handlers: [
        graphql.mutation('RefundPayment', ({ variables }) => {
          inputs.push(variables.input as Input);
          return networkDown ? HttpResponse.error() : undefined;
        }),
        ...handlers({ answer: (_n, input) => made(input.amount) }),
      ],
    });
    const { panel, dialog } = await openDialog(user);
    await user.click(within(dialog).getByRole('button', { name: 'Refund $99.00' }));
    expect((await within(dialog).findByRole('alert')).textContent).toBe('The server could not be reached. Check your connection and try again.');
    networkDown = false;
    await user.click(within(dialog).getByRole('button', { name: 'Complete the refund' }));
    expect(await within(panel).findByText('Refunded $99.00: Stripe is returning the money (some methods take days).')).toBeTruthy();
    expect(new Set(inputs.map((i) => i.idempotencyKey)).size).toBe(1);
    expect(inputs.every((i) => i.amount === 9900)).toBe(true);
  });

  it.each([
    [
      'REFUND_EXCEEDS_REMAINING',
      refusal('REFUND_EXCEEDS_REMAINING', 'The amount is more than may still be refunded.', 1500),
      'That is more than may still be refunded: at most $15.00 (another refund may have been made meanwhile). Nothing was refunded.',
    ],
    [
      'CHARGE_DISPUTED',
      refusal('CHARGE_DISPUTED', 'The charge is disputed.'),
      "The payment is disputed: Stripe refuses refunds while a dispute is open. Respond to the dispute in Stripe's dashboard (Disputes) instead. Nothing was refunded.",
    ],
    [
      'REFUND_REFUSED',
      refusal('REFUND_REFUSED', 'The amount is more than Stripe will refund.'),
      'Stripe refused the refund: The amount is more than Stripe will refund. Nothing was refunded; the amount may be refunded again.',
    ],
    [
      'REFUND_REFUSED (charge_already_refunded)',
      { ...refusal('REFUND_REFUSED', 'Charge ch_1 has already been refunded.'), refund: refund({ status: 'FAILED', failureReason: 'charge_already_refunded' }) },
      "Stripe refused the refund: Charge ch_1 has already been refunded. The charge is refunded in full at Stripe already (made there; this order shows it once Stripe's notice arrives). Nothing more was refunded.",
    ],
    [
      'REFUND_REFUSED (not_created)',
      { ...refusal('REFUND_REFUSED', 'This refund was not made at Stripe.'), refund: refund({ status: 'FAILED', failureReason: 'not_created' }) },
      'This refund was not made at Stripe: Stripe could not be reached, and it was given up. Nothing was refunded by it; press Refund… again to make a new one.',
    ],
    [
      'ORDER_NOT_REFUNDABLE',
      refusal('ORDER_NOT_REFUNDABLE', 'Not refundable.', 0),
      'This order cannot be refunded: it is not paid, or it is refunded in full already. $0.00 may be refunded. Nothing was refunded.',
    ],
  ])('says %s in words, and the next press has a new key', async (_code, payload, words) => {
    const user = userEvent.setup();
    const inputs: Input[] = [];
    renderConsole(`/orders?open=${ORDER_ID}`, { as: 'admin', handlers: handlers({ inputs, answer: () => payload }) });
    const { dialog } = await openDialog(user);
    await user.click(within(dialog).getByRole('button', { name: 'Refund $99.00' }));
    expect((await within(dialog).findByRole('alert')).textContent).toBe(words);
    // Not the same refund: the fields stay editable and the next press is a new one.
    expect((within(dialog).getByLabelText('Amount (USD)') as HTMLInputElement).readOnly).toBe(false);
    await user.click(within(dialog).getByRole('button', { name: 'Refund $99.00' }));
    await waitFor(() => expect(inputs).toHaveLength(2));
    expect(inputs[1]!.idempotencyKey).not.toBe(inputs[0]!.idempotencyKey);
  });

  it('says FORBIDDEN in words when the role was taken away meanwhile', async () => {
    const user = userEvent.setup();
    renderConsole(`/orders?open=${ORDER_ID}`, {
      as: 'admin',
      handlers: [
        graphql.mutation('RefundPayment', () => HttpResponse.json({ errors: [{ message: 'Admins only', extensions: { code: 'FORBIDDEN' } }] })),
        ...handlers(),
      ],
    });
    const { dialog } = await openDialog(user);
    await user.click(within(dialog).getByRole('button', { name: 'Refund $99.00' }));
    expect((await within(dialog).findByRole('alert')).textContent).toBe('Your role may not do this.');
  });

  it('offers no refund when nothing may be refunded, and says why', async () => {
    const full = order({ status: 'REFUNDED', refundableAmount: money(0), refunds: [refund({ amount: money(9900) })] });
    renderConsole(`/orders?open=${ORDER_ID}`, { as: 'admin', handlers: handlers({ order: full }) });
    const panel = await screen.findByRole('complementary', { name: 'Order' });
    expect(((await within(panel).findByRole('button', { name: 'Refund…' })) as HTMLButtonElement).disabled).toBe(true);
    expect(within(panel).getByText('Nothing may be refunded: the order is not paid, or refunded in full.')).toBeTruthy();
  });

  it('says a dispute Stripe will not refund through is why nothing may be refunded', async () => {
    const disputes = [{ id: 'du_1Open', status: 'NEEDS_RESPONSE', isOpen: true, amount: money(9900), reason: 'fraudulent', evidenceDueBy: '2026-12-10T00:00:00.000Z', isChargeRefundable: false }];
    renderConsole(`/orders?open=${ORDER_ID}`, { as: 'admin', handlers: handlers({ order: order({ status: 'DISPUTED', refundableAmount: money(0), disputes }) }) });
    const panel = await screen.findByRole('complementary', { name: 'Order' });
    expect(((await within(panel).findByRole('button', { name: 'Refund…' })) as HTMLButtonElement).disabled).toBe(true);
    expect(within(panel).getByText('Nothing may be refunded: Stripe does not refund a disputed payment (the dispute is open, or lost).')).toBeTruthy();
  });

  it('says the amount is held by a refund in progress when a refund still creating holds it (after a reload)', async () => {
    const held = order({ status: 'PAID', refundableAmount: money(0), refunds: [refund({ amount: money(9900), status: 'CREATING', stripeRefundId: null })] });
    renderConsole(`/orders?open=${ORDER_ID}`, { as: 'admin', handlers: handlers({ order: held }) });
    const panel = await screen.findByRole('complementary', { name: 'Order' });
    expect(((await within(panel).findByRole('button', { name: 'Refund…' })) as HTMLButtonElement).disabled).toBe(true);
    expect(
      within(panel).getByText('Nothing may be refunded now: the amount is held by a refund in progress. Stripe or the janitor settles it within minutes; if it was not made, Refund… is offered again.'),
    ).toBeTruthy();
  });
});

describe("the order's refunds", () => {
  it('names who requested a refund when the server knows their name, with their staff id on hover', async () => {
    const refunds = [refund({ id: 'r3', requestedByName: 'admin@staff.test' })];
    renderConsole(`/orders?open=${ORDER_ID}`, { as: 'support', handlers: handlers({ order: order({ status: 'PARTIALLY_REFUNDED', refundableAmount: money(6900), refunds }) }) });
    const panel = await screen.findByRole('complementary', { name: 'Order' });
    const [item] = within(await within(panel).findByRole('list', { name: 'Refunds' })).getAllByRole('listitem');
    const who = within(item!).getByText('admin@staff.test');
    expect(who.getAttribute('title')).toBe('staff:00000000-0000-4000-8000-00000000a002');
    expect(item!.textContent).not.toContain('staff:00000000');
  });

  it('shows support every refund with status, amount, reason, who and when, and no Refund button', async () => {
    const refunds = [
      refund({ id: 'r2', amount: money(1000), status: 'FAILED', reason: 'REQUESTED_BY_CUSTOMER', failureReason: 'expired_or_canceled_card', createdAt: '2026-12-07T11:00:00.000Z' }),
      refund({ id: 're_dash1', stripeRefundId: 're_dash1', requestedBy: null, reason: null }),
    ];
    renderConsole(`/orders?open=${ORDER_ID}`, { as: 'support', handlers: handlers({ order: order({ status: 'PARTIALLY_REFUNDED', refundableAmount: money(6900), refunds }) }) });
    const panel = await screen.findByRole('complementary', { name: 'Order' });
    const list = await within(panel).findByRole('list', { name: 'Refunds' });
    const [failed, dashboard] = within(list).getAllByRole('listitem');
    expect(within(failed!).getByText('failed')).toBeTruthy();
    expect(within(failed!).getByText('$10.00')).toBeTruthy();
    expect(within(failed!).getByText(/Requested by the customer/)).toBeTruthy();
    expect(within(failed!).getByText('Failed: the amount may be refunded again: expired_or_canceled_card')).toBeTruthy();
    expect(within(failed!).getByText('staff:00000000-0000-4000-8000-00000000a002')).toBeTruthy();
    expect(failed!.textContent).toContain('2026-12-07 11:00:00 UTC');
    expect(within(dashboard!).getByText('succeeded')).toBeTruthy();
    expect(within(dashboard!).getByText('Refund sent')).toBeTruthy();
    expect(within(dashboard!).getByText('at Stripe (its dashboard)')).toBeTruthy();
    expect(within(panel).getByText('$69.00')).toBeTruthy();
    expect(within(panel).getByText('Only an admin can refund.')).toBeTruthy();
    // (Copy buttons name the ids beside them, which may say Refund: the action's name starts with it.)
    expect(within(panel).queryByRole('button', { name: /^Refund/ })).toBeNull();
  });

  it("lists the order's disputes with a link to respond in Stripe's dashboard", async () => {
    const disputes = [{ id: 'du_1Open', status: 'NEEDS_RESPONSE', isOpen: true, amount: money(9900), reason: 'product_not_received', evidenceDueBy: '2026-12-10T00:00:00.000Z', isChargeRefundable: false }];
    renderConsole(`/orders?open=${ORDER_ID}`, { as: 'support', handlers: handlers({ order: order({ status: 'DISPUTED', disputes }) }) });
    const panel = await screen.findByRole('complementary', { name: 'Order' });
    const list = await within(panel).findByRole('list', { name: 'Disputes' });
    expect(within(list).getByText(/product not received/)).toBeTruthy();
    expect(within(list).getByText(/Evidence due 2026-12-10 00:00:00 UTC/)).toBeTruthy();
    await waitFor(() => expect(within(list).getByRole('link', { name: /respond in Stripe's dashboard/ }).getAttribute('href')).toBe('https://dashboard.stripe.com/test/disputes/du_1Open'));
    expect(within(panel).getByRole('link', { name: 'All disputes' }).getAttribute('href')).toBe('/disputes');
    expect(within(panel).getByText("This payment is disputed: Stripe refuses refunds while the dispute is open. Respond to it in Stripe's dashboard (below).")).toBeTruthy();
  });

  it('says nothing of a dispute that no longer stops a refund (closed, or an inquiry Stripe lets a refund settle)', async () => {
    const disputes = [
      { id: 'du_1Won', status: 'WON', isOpen: false, amount: money(9900), reason: 'fraudulent', evidenceDueBy: null, isChargeRefundable: false },
      { id: 'du_1Inquiry', status: 'WARNING_NEEDS_RESPONSE', isOpen: true, amount: money(9900), reason: 'general', evidenceDueBy: null, isChargeRefundable: true },
    ];
    renderConsole(`/orders?open=${ORDER_ID}`, { as: 'admin', handlers: handlers({ order: order({ disputes }) }) });
    const panel = await screen.findByRole('complementary', { name: 'Order' });
    await within(panel).findByRole('list', { name: 'Disputes' });
    expect(within(panel).queryByText(/This payment is disputed/)).toBeNull();
    expect(((await within(panel).findByRole('button', { name: 'Refund…' })) as HTMLButtonElement).disabled).toBe(false);
  });
});
