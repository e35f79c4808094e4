import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/server';

describe('pricing query', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.stop());

  it('lists the three product tracks with prices from the database to an anonymous caller', async () => {
    const { status, body } = await server.graphql('{ pricing { id name prices { id kind unitAmount { amount currency formatted } } } }');
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    // Each track: its one-time price, and the monthly one (issue 19) at the same amount.
    const both = (id: string, amount: number, formatted: string) => [
      { id: `${id}_usd`, kind: 'ONE_TIME', unitAmount: { amount, currency: 'usd', formatted } },
      { id: `${id}_usd_monthly`, kind: 'RECURRING', unitAmount: { amount, currency: 'usd', formatted } },
    ];
    expect(body.data.pricing).toEqual([
      { id: 'business_plan_builder', name: 'Business Plan Builder', prices: both('business_plan_builder', 9900, '$99.00') },
      { id: 'social_media_email_campaign', name: 'Social Media & Email Campaign', prices: both('social_media_email_campaign', 4900, '$49.00') },
      { id: 'website_audit_feedback', name: 'Website Audit & Feedback', prices: both('website_audit_feedback', 7900, '$79.00') },
    ]);
  });

  it('reflects a price change in the database, never a price from the client', async () => {
    await server.testDb.db.query("update prices set unit_amount = 12900 where id = 'business_plan_builder_usd'");
    const { body } = await server.graphql('{ pricing { id prices { unitAmount { amount } } } }');
    expect(body.data.pricing[0]).toEqual({ id: 'business_plan_builder', prices: [{ unitAmount: { amount: 9900 } }, { unitAmount: { amount: 12900 } }] });
  });

  it('hides inactive products and prices', async () => {
    await server.testDb.db.query("update products set active = false where id = 'website_audit_feedback'");
    const { body } = await server.graphql('{ pricing { id } }');
    expect(body.data.pricing.map((p: { id: string }) => p.id)).toEqual(['business_plan_builder', 'social_media_email_campaign']);
  });
});
