// The checkout benchmark's peer: the naive handler a shop might write, on node:http in a process of
// its own (plain JavaScript). POST /checkout {idempotencyKey, email}: one stripe.paymentIntents.create
// against the same sandbox, then one order row on the same PostgreSQL server; answers the order id, the
// PaymentIntent id and its client secret. No idempotency of its own, no attempt or log rows.
// Environment: DATABASE_URL, STRIPE_API_BASE. Prints `listening on <url>` once it listens.
import { createServer } from 'node:http';
import pg from 'pg';
import Stripe from 'stripe';

const base = new URL(process.env.STRIPE_API_BASE);
const stripe = new Stripe('sk_test_naivecheckout', { host: base.hostname, port: Number(base.port), protocol: 'http', maxNetworkRetries: 3, timeout: 20_000 });
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
pool.on('error', () => {});
await pool.query(`create table if not exists naive_orders (
  id uuid primary key default gen_random_uuid(), email text not null, payment_intent_id text not null unique,
  amount integer not null, currency text not null, created_at timestamptz not null default now())`);

async function checkout(input) {
  const intent = await stripe.paymentIntents.create(
    { amount: 9900, currency: 'usd', automatic_payment_methods: { enabled: true }, receipt_email: input.email, metadata: { track: 'business_plan_builder' } },
    { idempotencyKey: input.idempotencyKey },
  );
  const { rows } = await pool.query('insert into naive_orders (email, payment_intent_id, amount, currency) values ($1, $2, $3, $4) returning id', [
    input.email,
    intent.id,
    intent.amount,
    intent.currency,
  ]);
  return { orderId: rows[0].id, paymentIntentId: intent.id, clientSecret: intent.client_secret };
}

const server = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/checkout') {
    res.writeHead(404).end();
    return;
  }
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    Promise.resolve()
      .then(() => checkout(JSON.parse(Buffer.concat(chunks).toString('utf8'))))
      .then(
        (answer) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(answer));
        },
        (error) => {
          res.writeHead(500, { 'content-type': 'application/json' });
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
  void pool.end().finally(() => process.exit(0));
});
