// Every GraphQL document the console sends is valid against schema.graphql, and the types the console
// reads its answers with are the ones generated from those documents and today's schema.
import { readFileSync } from 'node:fs';
import { buildSchema, parse, validate } from 'graphql';
import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../server/config';
import { CONSOLE_TYPES_OUTPUT, consoleDocumentFiles, generateConsoleTypes } from '../../console/codegen';
import * as generated from '../../console/src/api/generated/graphql';
import { viewerQuery } from '../../console/src/auth/viewer';
import { webhookEventDetailQuery, webhookEventsListQuery } from '../../console/src/features/webhookEvents/queries';
import { makeDeliveriesListQuery, makeDeliveryDetailQuery } from '../../console/src/features/makeDeliveries/queries';
import { orderDetailQuery, ordersListQuery, stripeModeQuery } from '../../console/src/features/orders/queries';
import { opsOverviewQuery } from '../../console/src/features/overview/queries';
import { paymentLogDetailQuery, paymentLogsListQuery } from '../../console/src/features/paymentLogs/queries';
import { orphanedPaymentDetailQuery, orphanedPaymentsListQuery, reconciliationRunQuery, reconciliationStatusQuery } from '../../console/src/features/reconciliation/queries';
import { subscriptionDetailQuery, subscriptionsListQuery, subscriptionTracksQuery } from '../../console/src/features/subscriptions/queries';
import { paymentRequestDetailQuery, paymentRequestsListQuery } from '../../console/src/features/paymentRequests/queries';

function schema() {
  return buildSchema(readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8'));
}

/** Runs a query function with fetch stubbed, and returns the document it sent. */
async function documentOf(run: () => unknown): Promise<string> {
  const fetchStub = vi.fn(async () => new Response('{"data":{}}', { headers: { 'content-type': 'application/json' } }));
  vi.stubGlobal('fetch', fetchStub);
  await Promise.resolve(run()).catch(() => undefined);
  const init = (fetchStub.mock.calls[0] as unknown[] | undefined)?.[1] as { body: string } | undefined;
  return (JSON.parse(init!.body) as { query: string }).query;
}

afterEach(() => vi.unstubAllGlobals());

const ctx = { pageParam: undefined } as never;
type AnyFn = (context: never) => unknown;

describe('the console\'s GraphQL documents', () => {
  const queries: Record<string, () => unknown> = {
    Viewer: () => (viewerQuery.queryFn as AnyFn)(ctx),
    WebhookEvents: () => (webhookEventsListQuery(undefined).queryFn as AnyFn)(ctx),
    WebhookEvent: () => (webhookEventDetailQuery('evt_1').queryFn as AnyFn)(ctx),
    PaymentLogs: () => (paymentLogsListQuery(undefined).queryFn as AnyFn)(ctx),
    Orders: () => (ordersListQuery(undefined).queryFn as AnyFn)(ctx),
    Order: () => (orderDetailQuery('o').queryFn as AnyFn)(ctx),
    MakeDeliveries: () => (makeDeliveriesListQuery(undefined).queryFn as AnyFn)(ctx),
    MakeDelivery: () => (makeDeliveryDetailQuery('d').queryFn as AnyFn)(ctx),
    OpsOverview: () => (opsOverviewQuery.queryFn as AnyFn)(ctx),
    PaymentLog: () => (paymentLogDetailQuery('1').queryFn as AnyFn)(ctx),
    StripeMode: () => (stripeModeQuery.queryFn as AnyFn)(ctx),
    OrphanedPayments: () => (orphanedPaymentsListQuery({ status: 'OPEN' }).queryFn as AnyFn)(ctx),
    OrphanedPayment: () => (orphanedPaymentDetailQuery('f').queryFn as AnyFn)(ctx),
    ReconciliationStatus: () => (reconciliationStatusQuery.queryFn as AnyFn)(ctx),
    ReconciliationRun: () => (reconciliationRunQuery('r').queryFn as AnyFn)(ctx),
    Subscriptions: () => (subscriptionsListQuery({ status: 'ACTIVE' }).queryFn as AnyFn)(ctx),
    Subscription: () => (subscriptionDetailQuery('sub_1').queryFn as AnyFn)(ctx),
    SubscriptionTracks: () => (subscriptionTracksQuery.queryFn as AnyFn)(ctx),
    PaymentRequests: () => (paymentRequestsListQuery({ status: 'PARTIALLY_PAID' }).queryFn as AnyFn)(ctx),
    PaymentRequest: () => (paymentRequestDetailQuery('90000000-0000-4000-8000-000000000001').queryFn as AnyFn)(ctx),
  };

  it.each(Object.keys(queries))('%s is valid against the schema', async (name) => {
    const document = await documentOf(queries[name]!);
    expect(document).toContain(name);
    expect(validate(schema(), parse(document)).map((e) => e.message)).toEqual([]);
  });

  // Every operation and fragment in console/src/**/*.graphql, the mutations included, as generated.
  const documents = Object.entries(generated).filter(([name]) => name.endsWith('Document'));

  it('generates a document for every operation in the .graphql files', () => {
    const operations = consoleDocumentFiles().flatMap((file) =>
      parse(readFileSync(file, 'utf8')).definitions.flatMap((d) => (d.kind === 'OperationDefinition' && d.name ? [`${d.name.value}Document`] : [])),
    );
    expect(operations.length).toBeGreaterThan(0);
    expect(documents.map(([name]) => name).sort()).toEqual(operations.sort());
  });

  it.each(documents)('%s is valid against the schema', (_name, document) => {
    expect(validate(schema(), parse(String(document))).map((e) => e.message)).toEqual([]);
  });

  // The server refuses a document past its limits before any resolver runs, and msw in the component
  // tests would never say so: the depth rule counts each fragment spread as a level, so an order's
  // refund reached through a mutation's payload can pass the schema and still be refused.
  it.each(documents)('%s is within the server\'s default depth, cost and alias limits', (_name, document) => {
    const { maxDepth, maxCost, maxAliases } = loadConfig({ NODE_ENV: 'test' }).graphql;
    const refusals: string[] = [];
    const onReject = [(_context: unknown, error: Error) => void refusals.push(error.message)];
    const rules = [
      maxDepthRule({ n: maxDepth, onReject, propagateOnRejection: false }),
      costLimitRule({ maxCost, onReject, propagateOnRejection: false }),
      maxAliasesRule({ n: maxAliases, onReject, propagateOnRejection: false }),
    ];
    expect([...validate(schema(), parse(String(document)), rules).map((e) => e.message), ...refusals]).toEqual([]);
  });
});

describe("the console's generated types", () => {
  it('are current: regenerating them from schema.graphql and the .graphql files changes nothing', async () => {
    const { path, content } = await generateConsoleTypes(schema());
    expect(path).toBe(CONSOLE_TYPES_OUTPUT);
    expect(readFileSync(new URL(`../../${CONSOLE_TYPES_OUTPUT}`, import.meta.url), 'utf8') === content, 'run `npm run codegen` and commit the result').toBe(true);
  });
});
