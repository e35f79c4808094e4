// The webhook benchmark's peer as it is deployed: @supabase/stripe-sync-engine behind a minimal
// node:http server, in a process of its own (plain JavaScript: no loader between it and Node).
// POST /webhooks/stripe: processWebhook(body, Stripe-Signature) (verify, then upsert into its own
// `stripe` schema), 200 when it resolves, 400 with the message when it throws.
// Environment: DATABASE_URL, STRIPE_WEBHOOK_SECRET. Prints `listening on <url>` once it listens.
import { createServer } from 'node:http';
import { createRequire } from 'node:module';

const engine = createRequire(import.meta.url)('@supabase/stripe-sync-engine');
const databaseUrl = process.env.DATABASE_URL;
let failure;
// runMigrations logs a failure and returns; its logger is how we hear of one.
await engine.runMigrations({ databaseUrl, schema: 'stripe', logger: { info() {}, warn() {}, error: (error) => (failure = error) } });
const sync = new engine.StripeSync({
  poolConfig: { connectionString: databaseUrl }, // its default pool: 10 connections, as ours
  schema: 'stripe',
  // Never used: payment_intent events are upserted from the payload when revalidation is off.
  stripeSecretKey: 'sk_test_bench',
  stripeWebhookSecret: process.env.STRIPE_WEBHOOK_SECRET,
  revalidateObjectsViaStripeApi: [],
  backfillRelatedEntities: false,
  autoExpandLists: false,
});
sync.postgresClient.pool.on('error', () => {});
const { rows } = await sync.postgresClient.query(`select to_regclass('stripe.payment_intents') is not null as ready`);
if (!rows[0]?.ready) {
  process.stderr.write(`stripe-sync-engine's migrations did not create stripe.payment_intents: ${failure?.message ?? failure}\n`);
  process.exit(1);
}

const server = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/webhooks/stripe') {
    res.writeHead(404).end();
    return;
  }
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    sync.processWebhook(Buffer.concat(chunks), req.headers['stripe-signature']).then(
      () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"received":true}');
      },
      (error) => {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: error?.message ?? String(error) }));
      },
    );
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening on http://127.0.0.1:${server.address().port}\n`));
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close();
  void sync.postgresClient.close().finally(() => process.exit(0));
});
