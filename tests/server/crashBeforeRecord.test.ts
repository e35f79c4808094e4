// A crash between Stripe's answer and our record (issue 17): the real server, as `npm start` runs it
// (server/main.ts in a child process) against Stripe in test mode (the sandbox served from this test
// over HTTP), is killed with SIGKILL after Stripe has created a checkout's PaymentIntent and before
// the answer reaches it, so the attempt stays `creating` with no object recorded. A new server process
// on the same database runs the janitor on its schedule: its pass finds the PaymentIntent by our
// metadata and records it (never a second create), and the customer's retry gets that PaymentIntent.
import { randomUUID } from 'node:crypto';
import { afterAll, expect, it } from 'vitest';
import { createApiKey } from '../../server/auth/apiKeys';
import { CREATE_PAYMENT_INTENT, newKey } from '../helpers/checkout';
import { type ExternalSandbox, startExternalSandbox } from '../helpers/externalSandbox';
import { createProcessDatabase, killServerProcesses, type ProcessDatabase, type ServerProcess, startServerProcess } from '../helpers/serverProcess';

let database: ProcessDatabase | undefined;
let stripe: ExternalSandbox | undefined;
afterAll(async () => {
  await killServerProcesses();
  await stripe?.close();
  await database?.destroy();
});

async function until(what: string, check: () => Promise<boolean> | boolean, server: ServerProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}\n${server.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The JSON log lines a server process wrote with this message. */
function logLines(server: ServerProcess, msg: string): Array<Record<string, any>> {
  const stdout = server.output().split('--- stderr ---')[0]!;
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, any>)
    .filter((line) => line.msg === msg);
}

it('settles the creating attempt of a server killed after Stripe created its PaymentIntent: a new server’s janitor records that PaymentIntent, never a second, and the customer’s retry gets it', { timeout: 240_000 }, async () => {
  database = await createProcessDatabase();
  stripe = await startExternalSandbox();
  const setup = await database.open();
  const { key: storefrontKey } = await createApiKey(setup, 'storefront', 'storefront');
  await setup.close(); // PGlite: one process at a time has the directory open
  const env = { ...database.env, ...stripe.env, LOG_LEVEL: 'info' };

  const first = await startServerProcess(env, { cwd: database.workDir });
  const createPaymentIntent = (server: ServerProcess, input: Record<string, unknown>) =>
    fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': storefrontKey },
      body: JSON.stringify({ query: CREATE_PAYMENT_INTENT, variables: { input } }),
    });

  // Stripe makes the PaymentIntent; before its answer leaves, the server process dies (kill -9).
  let created: string | undefined;
  stripe.intercept = async (request, answer) => {
    const response = await answer();
    if (request.method === 'POST' && new URL(request.url).pathname === '/v1/payment_intents' && response.ok && !created) {
      created = ((await response.clone().json()) as { id: string }).id;
      await first.kill('SIGKILL');
    }
    return response;
  };
  const input = { idempotencyKey: newKey(), track: 'business_plan_builder', email: `crash-${randomUUID()}@example.com` };
  const cut = await createPaymentIntent(first, input).then(
    () => 'answered',
    () => 'no answer',
  );
  expect(cut).toBe('no answer');
  expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
  stripe.intercept = undefined;
  expect(created).toMatch(/^pi_/);

  const intentsOf = async (orderId: string) => (await stripe!.stripe.paymentIntents.list({ limit: 100 })).data.filter((pi) => pi.metadata.order_id === orderId);
  let db = await database.open();
  const attempts = async () =>
    (
      await db.query<{ id: string; order_id: string; status: string; stripe_object_id: string | null }>(
        `select a.id, a.order_id, a.status, a.stripe_object_id from payment_attempts a join orders o on o.id = a.order_id
           join customers c on c.id = o.customer_id where c.email = $1 order by a.attempt`,
        [input.email],
      )
    ).rows;
  const [stranded] = await attempts();
  expect(stranded).toMatchObject({ status: 'creating', stripe_object_id: null });
  expect((await intentsOf(stranded!.order_id)).map((pi) => pi.id)).toEqual([created]);
  // The janitor leaves an attempt alone for 5 minutes (a request may still be working on it); those
  // minutes pass here rather than in the test's wall time.
  await db.query(`update payment_attempts set updated_at = updated_at - interval '301 seconds' where id = $1`, [stranded!.id]);
  await db.close();

  // A new server on the same database, with the janitor on (every second, so the test need not wait 5 minutes).
  const second = await startServerProcess({ ...env, RECONCILE_INTERVAL: '* * * * * *' }, { cwd: database.workDir });
  await until('a janitor pass has recorded an attempt', () => logLines(second, 'reconciliation pass done').some((line) => line.counters?.synced >= 1), second);
  // The customer retries with the same key: the PaymentIntent Stripe made before the crash, no other.
  const retry = (await (await createPaymentIntent(second, input)).json()) as { data?: any; errors?: unknown };
  expect(retry.errors, second.output()).toBeUndefined();
  expect(retry.data.createPaymentIntent).toMatchObject({ paymentIntentId: created, clientSecret: expect.stringContaining(created!), error: null });
  expect((await intentsOf(stranded!.order_id)).map((pi) => pi.id)).toEqual([created]);
  expect(await second.kill('SIGTERM'), second.output()).toEqual({ code: 0, signal: null });

  db = await database.open();
  try {
    expect(await attempts()).toMatchObject([{ id: stranded!.id, status: 'open', stripe_object_id: created }]);
    const { rows } = await db.query<{ event_type: string }>(`select event_type from payment_logs where order_id = $1 and event_type like 'reconcile.%' order by id`, [stranded!.order_id]);
    expect(rows.map((r) => r.event_type)).toEqual(['reconcile.attempt_recorded']);
  } finally {
    await db.close();
  }
});
