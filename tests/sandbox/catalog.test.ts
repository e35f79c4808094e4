import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { startSandboxHarness } from '../helpers/stripeSandbox';

// One msw server per file: msw patches the process's fetch once.
const h = startSandboxHarness();
afterAll(() => h.close());
beforeEach(() => h.reset());

describe('sandbox products', () => {
  it('creates, retrieves, updates and lists products, with events', async () => {
    const product = await h.stripe.products.create({ name: 'Basic', description: 'Entry plan', metadata: { tier: '1' } });
    expect(product).toMatchObject({ object: 'product', name: 'Basic', description: 'Entry plan', active: true, livemode: false, metadata: { tier: '1' }, default_price: null });
    expect(product.id).toMatch(/^prod_/);
    const custom = await h.stripe.products.create({ id: 'prod_custom', name: 'Custom', active: false });
    expect(custom.id).toBe('prod_custom');
    await expect(h.stripe.products.create({ id: 'prod_custom', name: 'Again' })).rejects.toMatchObject({ statusCode: 400, code: 'resource_already_exists' });

    const updated = await h.stripe.products.update(product.id, { name: 'Basic plan', metadata: { tier: '' } });
    expect(updated.name).toBe('Basic plan');
    expect(updated.metadata).toEqual({});
    expect((await h.stripe.products.retrieve(product.id)).name).toBe('Basic plan');

    const all = await h.stripe.products.list();
    expect(all.data.map((p) => p.id)).toEqual([custom.id, product.id]);
    expect((await h.stripe.products.list({ active: true })).data.map((p) => p.id)).toEqual([product.id]);
    expect((await h.stripe.products.list({ active: false })).data.map((p) => p.id)).toEqual([custom.id]);
    const page1 = await h.stripe.products.list({ limit: 1 });
    expect(page1.has_more).toBe(true);
    const page2 = await h.stripe.products.list({ limit: 1, starting_after: page1.data[0]!.id });
    expect(page2.data.map((p) => p.id)).toEqual([product.id]);
    expect(page2.has_more).toBe(false);
    expect((await h.stripe.products.list({ created: { gt: product.created + 1000 } })).data).toEqual([]);

    await h.sandbox.flushWebhooks();
    expect(h.received.map((e) => e.type)).toEqual(['product.created', 'product.created', 'product.updated']);
    const update = h.received[2]!;
    expect(update.data.previous_attributes).toMatchObject({ name: 'Basic', metadata: { tier: '1' } });
  });

  it('creates a default price from default_price_data', async () => {
    const product = await h.stripe.products.create({ name: 'Pro', default_price_data: { currency: 'usd', unit_amount: 2500, recurring: { interval: 'month' } } });
    expect(product.default_price).toMatch(/^price_/);
    const price = await h.stripe.prices.retrieve(product.default_price as string);
    expect(price).toMatchObject({ product: product.id, unit_amount: 2500, currency: 'usd', type: 'recurring', recurring: { interval: 'month', interval_count: 1 } });
  });

  it('rejects unknown parameters and a missing name', async () => {
    await expect(h.stripe.products.create({ name: 'X', bogus: 1 } as never)).rejects.toMatchObject({ statusCode: 400, code: 'parameter_unknown', param: 'bogus' });
    await expect(h.stripe.products.create({} as never)).rejects.toMatchObject({ statusCode: 400, code: 'parameter_missing', param: 'name' });
    await expect(h.stripe.products.retrieve('prod_missing')).rejects.toMatchObject({ statusCode: 404, code: 'resource_missing' });
  });
});

describe('sandbox prices', () => {
  it('creates one-time and recurring prices, with product or product_data', async () => {
    const product = await h.stripe.products.create({ name: 'Widget' });
    const oneTime = await h.stripe.prices.create({ currency: 'usd', unit_amount: 500, product: product.id, nickname: 'single', lookup_key: 'widget_single' });
    expect(oneTime).toMatchObject({ object: 'price', type: 'one_time', recurring: null, unit_amount: 500, currency: 'usd', active: true, lookup_key: 'widget_single', nickname: 'single', billing_scheme: 'per_unit' });
    expect(oneTime.id).toMatch(/^price_/);
    const yearly = await h.stripe.prices.create({ currency: 'EUR', unit_amount: 12000, product_data: { name: 'Annual' }, recurring: { interval: 'year' } });
    expect(yearly).toMatchObject({ type: 'recurring', currency: 'eur', recurring: { interval: 'year', interval_count: 1, usage_type: 'licensed' } });
    const annual = await h.stripe.products.retrieve(yearly.product as string);
    expect(annual.name).toBe('Annual');
    await h.sandbox.flushWebhooks();
    expect(h.received.map((e) => e.type)).toEqual(['product.created', 'price.created', 'product.created', 'price.created']);
  });

  it('updates prices and lists them with filters', async () => {
    const a = await h.stripe.products.create({ name: 'A' });
    const b = await h.stripe.products.create({ name: 'B' });
    const p1 = await h.stripe.prices.create({ currency: 'usd', unit_amount: 100, product: a.id, lookup_key: 'a_monthly', recurring: { interval: 'month' } });
    const p2 = await h.stripe.prices.create({ currency: 'usd', unit_amount: 200, product: a.id });
    const p3 = await h.stripe.prices.create({ currency: 'eur', unit_amount: 300, product: b.id, lookup_key: 'b_monthly', recurring: { interval: 'month', interval_count: 3 } });

    const updated = await h.stripe.prices.update(p2.id, { active: false, nickname: 'old', metadata: { k: 'v' } });
    expect(updated).toMatchObject({ active: false, nickname: 'old', metadata: { k: 'v' } });

    const ids = async (params: Parameters<typeof h.stripe.prices.list>[0]) => (await h.stripe.prices.list(params)).data.map((p) => p.id);
    expect(await ids({})).toEqual([p3.id, p2.id, p1.id]);
    expect(await ids({ product: a.id })).toEqual([p2.id, p1.id]);
    expect(await ids({ active: true })).toEqual([p3.id, p1.id]);
    expect(await ids({ type: 'one_time' })).toEqual([p2.id]);
    expect(await ids({ type: 'recurring' })).toEqual([p3.id, p1.id]);
    expect(await ids({ currency: 'eur' })).toEqual([p3.id]);
    expect(await ids({ lookup_keys: ['a_monthly', 'b_monthly'] })).toEqual([p3.id, p1.id]);
    expect(await ids({ limit: 2 })).toEqual([p3.id, p2.id]);
    expect(await ids({ ending_before: p2.id })).toEqual([p3.id]);

    // lookup keys are unique unless transferred
    await expect(h.stripe.prices.create({ currency: 'usd', unit_amount: 1, product: a.id, lookup_key: 'a_monthly' })).rejects.toMatchObject({ statusCode: 400, param: 'lookup_key' });
    const moved = await h.stripe.prices.update(p3.id, { lookup_key: 'a_monthly', transfer_lookup_key: true });
    expect(moved.lookup_key).toBe('a_monthly');
    expect((await h.stripe.prices.retrieve(p1.id)).lookup_key).toBeNull();

    await h.sandbox.flushWebhooks();
    const priceUpdated = h.received.filter((e) => e.type === 'price.updated');
    expect(priceUpdated[0]!.data.previous_attributes).toMatchObject({ active: true, nickname: null, metadata: {} });
  });

  it('rejects unknown parameters, bad values and missing products', async () => {
    const product = await h.stripe.products.create({ name: 'A' });
    await expect(h.stripe.prices.create({ currency: 'usd', unit_amount: 1, product: product.id, bogus: 'x' } as never)).rejects.toMatchObject({ statusCode: 400, code: 'parameter_unknown', param: 'bogus' });
    await expect(h.stripe.prices.update((await h.stripe.prices.create({ currency: 'usd', unit_amount: 1, product: product.id })).id, { unit_amount: 5 } as never)).rejects.toMatchObject({ code: 'parameter_unknown', param: 'unit_amount' });
    await expect(h.stripe.prices.create({ currency: 'usd', unit_amount: 1 })).rejects.toMatchObject({ code: 'parameter_missing', param: 'product' });
    await expect(h.stripe.prices.create({ currency: 'usd', unit_amount: 1, product: 'prod_nope' })).rejects.toMatchObject({ statusCode: 404, code: 'resource_missing' });
    await expect(h.stripe.prices.create({ currency: 'usd', unit_amount: 1, product: product.id, recurring: { interval: 'fortnight' as never } })).rejects.toMatchObject({ statusCode: 400, param: 'recurring[interval]' });
    await expect(h.stripe.prices.list({ colour: 'red' } as never)).rejects.toMatchObject({ code: 'parameter_unknown' });
  });
});
