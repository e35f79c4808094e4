// GraphQL edge benchmark: the `pricing` query (public, one SQL query) and `viewer` with an API key
// (one indexed lookup), through our server (Hono, body limit, request ids, auth, Apollo), against the
// peer: Apollo Server's stock standalone HTTP server on the same schema, resolvers and database.
// The ratio is the cost of our HTTP edge.
import { Writable } from 'node:stream';
import { createPaymentRequests } from '../server/paymentRequests/paymentRequests';
import { createRefunds } from '../server/refunds/refundPayment';
import { startStandaloneServer } from '@apollo/server/standalone';
import { ApolloServer } from '@apollo/server';
import { startApp } from '../server/compose';
import { authenticate } from '../server/auth/authenticate';
import { createApiKey } from '../server/auth/apiKeys';
import { createTokenVerifier } from '../server/auth/staffTokens';
import { loadConfig } from '../server/config';
import { migrate } from '../server/platform/db/migrate';
import { openPglite } from '../server/platform/db/pglite';
import type { GraphQLContext } from '../server/api/graphql/context';
import { buildSchema } from '../server/api/graphql/server';
import { createLoaders } from '../server/api/graphql/loaders';
import { createLogger } from '../server/platform/observability/logger';
import { load, median, printTable } from './load';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONNECTIONS = 10;

export async function benchGraphql() {
  const silent = createLogger({ level: 'silent', destination: new Writable({ write: (_c, _e, done) => done() }) });
  const config = loadConfig({ NODE_ENV: 'test', PORT: '0', LOG_LEVEL: 'silent' });
  const db = await openPglite();
  await migrate(db);
  const { key } = await createApiKey(db, 'bench', 'storefront');

  const ours = await startApp(config, silent, { db });

  const verifyToken = createTokenVerifier({ audience: 'authenticated' });
  const peer = new ApolloServer<GraphQLContext>({ schema: buildSchema(), logger: silent });
  const { url: peerUrl } = await startStandaloneServer(peer, {
    listen: { port: 0, host: '127.0.0.1' },
    context: async ({ req }) => ({
      viewer: await authenticate({ db, verifyToken }, { authorization: req.headers.authorization ?? null }),
      db,
      logger: silent,
      requestId: 'bench',
      config,
      loaders: createLoaders(db),
      stripe: ours.stripe,
      checkoutUrls: { successUrl: 'http://unused/{CHECKOUT_SESSION_ID}', cancelUrl: 'http://unused' },
      webhookSecrets: [],
      webhookApplier: ours.webhookApplier,
      reconciliation: ours.reconciler,
      refunds: createRefunds({ db, stripe: ours.stripe, logger: silent }),
      paymentRequests: createPaymentRequests({ db, stripe: ours.stripe, logger: silent, payUrl: (token) => `http://unused/pay?token=${token}`, now: Date.now }),
    }),
  });

  const cases = [
    // No database work at all: the cost of the HTTP edge and GraphQL execution alone.
    { name: 'viewer (anonymous, no database)', body: JSON.stringify({ query: '{ viewer { role } }' }), headers: {} as Record<string, string> },
    { name: 'pricing (anonymous)', body: JSON.stringify({ query: '{ pricing { id name prices { id unitAmount { amount currency formatted } } } }' }), headers: {} as Record<string, string> },
    { name: 'viewer (API key)', body: JSON.stringify({ query: '{ viewer { role id name } }' }), headers: { authorization: `Bearer ${key}` } },
  ];
  for (const c of cases) {
    const oursRuns = [];
    const peerRuns = [];
    // Alternate ours and peer so drift in machine load hits both alike.
    for (let round = 0; round < ROUNDS; round++) {
      const headers = { 'content-type': 'application/json', ...c.headers };
      oursRuns.push(await load({ url: `${ours.url}/graphql`, body: c.body, headers, seconds: SECONDS, connections: CONNECTIONS }));
      peerRuns.push(await load({ url: peerUrl, body: c.body, headers, seconds: SECONDS, connections: CONNECTIONS }));
    }
    const bad = [...oursRuns, ...peerRuns].reduce((n, r) => n + r.errors + r.non2xx, 0);
    if (bad > 0) throw new Error(`${c.name}: ${bad} failed requests during the benchmark`);
    printTable(`GraphQL ${c.name}: ${CONNECTIONS} connections, median of ${ROUNDS} x ${SECONDS}s (peer: Apollo standalone)`, [
      ['throughput', median(oursRuns.map((r) => r.rps)), median(peerRuns.map((r) => r.rps)), ' req/s'],
      ['latency p50', median(oursRuns.map((r) => r.p50)), median(peerRuns.map((r) => r.p50)), ' ms'],
      ['latency p99', median(oursRuns.map((r) => r.p99)), median(peerRuns.map((r) => r.p99)), ' ms'],
    ]);
  }
  console.log(`memory after load: rss ${Math.round(process.memoryUsage().rss / 1048576)} MiB, heap used ${Math.round(process.memoryUsage().heapUsed / 1048576)} MiB (both servers, one process)`);

  await ours.stop();
  await peer.stop();
  await db.close();
}
