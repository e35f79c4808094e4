// SIGTERM and SIGINT drain (README: stop accepting, finish what is in flight within SHUTDOWN_TIMEOUT_MS,
// exit 0), proven on the real server as users run it: server/main.ts in a child process with
// NODE_ENV=development. (Under NODE_ENV=test Apollo installs no signal handler of its own; in every other
// mode its default handler stopped Apollo and re-raised the signal, and the process died within 80 ms
// with its requests reset: the tests had never seen it.)
//
// "In flight" is made certain rather than hoped for: the webhook delivery is sent with
// `Expect: 100-continue`, so the server's "100 Continue" proves it is serving the request before the
// signal is sent, and its body is finished only once the server refuses new connections (draining).
// The Make delivery in flight is held by a local stand-in for Make until the test lets it answer.
import { request as httpRequest, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Db } from '../../server/platform/db/db';
import { WEBHOOK_PATH } from '../../server/api/http/webhookRoute';
import { createProcessDatabase, type Exit, killServerProcesses, type ProcessDatabase, type ServerProcess, startServerProcess } from '../helpers/serverProcess';
import { deliver, newStory, signed, type Story, WEBHOOK_TEST_SECRET } from '../helpers/webhookStory';

interface Deferred<T = void> {
  promise: Promise<T>;
  resolve: (value: T) => void;
}

function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** A stand-in for Make: records each POST and answers it only when the test releases it. */
interface SlowMake {
  url: string;
  /** Resolves with the delivery id of the first POST, once it has arrived (and is held). */
  firstPost: Promise<string>;
  /** Lets every held POST (and any later one) answer 200. */
  release: () => void;
  /** Delivery ids of the POSTs whose 200 was written in full. */
  answered: string[];
  close: () => Promise<void>;
}

async function startSlowMake(): Promise<SlowMake> {
  const first = deferred<string>();
  const released = deferred();
  const answered: string[] = [];
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    request.resume();
    request.on('end', () => {
      const id = String(request.headers['x-delivery-id']);
      first.resolve(id);
      void released.promise.then(() => response.writeHead(200, { 'content-type': 'text/plain' }).end('Accepted', () => answered.push(id)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    firstPost: first.promise,
    release: () => released.resolve(),
    answered,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

interface Answer {
  status: number;
  connection: string | undefined;
  body: unknown;
}

/**
 * A POST whose body is held back: resolves once the server has answered "100 Continue" (it is serving
 * the request); `finish()` sends the body and resolves with the answer.
 */
async function heldPost(baseUrl: string, path: string, payload: string, headers: Record<string, string>): Promise<{ finish: () => Promise<Answer> }> {
  const { hostname, port } = new URL(baseUrl);
  const request = httpRequest({
    host: hostname,
    port: Number(port),
    method: 'POST',
    path,
    agent: false,
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), expect: '100-continue', ...headers },
  });
  const answer = new Promise<Answer>((resolve, reject) => {
    request.once('error', reject);
    request.once('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.once('error', reject);
      response.once('end', () =>
        resolve({ status: response.statusCode!, connection: response.headers.connection, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }),
      );
    });
  });
  // The last test never finishes its body: the reset at the deadline is its expected end.
  answer.catch(() => undefined);
  request.flushHeaders();
  await new Promise<void>((resolve, reject) => {
    request.once('continue', resolve);
    request.once('error', reject);
  });
  return {
    finish: () => {
      request.end(payload);
      return answer;
    },
  };
}

/** A signed webhook delivery, held as heldPost holds it. */
function heldWebhook(baseUrl: string, event: object) {
  const { payload, signature } = signed(event);
  return heldPost(baseUrl, WEBHOOK_PATH, payload, { 'stripe-signature': signature });
}

/** Resolves once a new TCP connection to the server is refused: it has stopped accepting (draining). */
async function untilRefusingConnections(url: string): Promise<void> {
  const { hostname, port } = new URL(url);
  for (;;) {
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: hostname, port: Number(port) });
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
    });
    if (refused) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

let database: ProcessDatabase | undefined;
let make: SlowMake | undefined;

afterEach(async () => {
  await killServerProcesses();
  await make?.close();
  make = undefined;
  await database?.destroy();
  database = undefined;
});

async function withDb<T>(fn: (db: Db) => Promise<T>): Promise<T> {
  const db = await database!.open();
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** Orders waiting for their payment, made before the server starts (PGlite: one process at a time). */
async function setUp(stories: number): Promise<Story[]> {
  database = await createProcessDatabase();
  return withDb(async (db) => {
    const made: Story[] = [];
    for (let i = 0; i < stories; i++) made.push(await newStory(db));
    return made;
  });
}

/** The server as `npm start` runs it, in development mode, posting add_project to the slow Make. */
function startDevelopmentServer(makeUrl: string): Promise<ServerProcess> {
  return startServerProcess(
    {
      ...database!.env,
      NODE_ENV: 'development',
      LOG_LEVEL: 'info',
      STRIPE_WEBHOOK_SECRET: WEBHOOK_TEST_SECRET,
      MAKE_ADD_PROJECT_WEBHOOK_URL: `${makeUrl}/add_project`,
      MAKE_SIGNING_SECRET: 'shutdown-test-make-signing-secret',
      // Long enough never to decide these tests: they wait on conditions, and the drain ends on its own.
      MAKE_TIMEOUT_MS: '120000',
      SHUTDOWN_TIMEOUT_MS: '120000',
    },
    { cwd: database!.workDir },
  );
}

async function deliveriesOf(db: Db, orderIds: string[]) {
  const { rows } = await db.query<{ order_id: string; status: string; attempts: number }>(
    `select order_id, status, attempts from make_deliveries where kind = 'add_project' and order_id = any($1::uuid[]) order by order_id`,
    [orderIds],
  );
  return rows;
}

async function eventStatuses(db: Db, ids: string[]) {
  const { rows } = await db.query<{ id: string; status: string }>('select id, status from stripe_events where id = any($1::text[]) order by id', [ids]);
  return rows;
}

/** Both paid-signalling events of a story: the applier pays the order and enqueues its add_project. */
const paidEvents = (story: Story) => [story.event('checkout.session.completed'), story.event('payment_intent.succeeded')];

describe.each([['SIGTERM'], ['SIGINT']] as const)('%s while a webhook delivery, a GraphQL query and a Make delivery are in flight', (signal) => {
  it(`finishes all three, answers the webhook and a GraphQL query 200, records the Make delivery, and exits 0 (a second ${signal} does not cut the drain short)`, { timeout: 240_000 }, async () => {
    const [paid, late] = await setUp(2);
    make = await startSlowMake();
    const server = await startDevelopmentServer(make.url);
    let exit: Exit | undefined;
    void server.exited.then((e) => (exit = e));

    // A paid order whose add_project POST is now held by Make.
    const first = await Promise.all(paidEvents(paid!).map((event) => deliver(server.url, event)));
    expect(first).toEqual([
      { status: 200, body: { received: true } },
      { status: 200, body: { received: true } },
    ]);
    await make.firstPost;
    // A webhook delivery the server is serving, its body not yet sent.
    const lateEvent = late!.event('checkout.session.completed');
    const webhook = await heldWebhook(server.url, lateEvent);
    // And a GraphQL query (the price list, read from the database), held the same way.
    const graphql = await heldPost(server.url, '/graphql', JSON.stringify({ query: '{ pricing { name } }' }), {});

    process.kill(server.pid, signal);
    await untilRefusingConnections(server.url);
    // Sent again, as a second Ctrl-C (or a relayed copy of the first) would be.
    process.kill(server.pid, signal);

    const answer = await webhook.finish();
    expect(answer).toEqual({ status: 200, connection: 'close', body: { received: true } });
    // Apollo is still serving: its own signal handler would have stopped it by now.
    const query = await graphql.finish();
    expect(query).toMatchObject({ status: 200, connection: 'close', body: { data: { pricing: expect.arrayContaining([expect.objectContaining({ name: 'Business Plan Builder' })]) } } });
    expect(query.body).not.toHaveProperty('errors');
    // The Make POST is still held: the process must still be waiting for it.
    expect(exit).toBeUndefined();
    make.release();

    expect(await server.exited, server.output()).toEqual({ code: 0, signal: null });
    expect(make.answered).toHaveLength(1);
    expect(server.output()).toContain('shut down cleanly');
    await withDb(async (db) => {
      // Recorded as delivered by the process that posted it: the next start will not post it again.
      expect(await deliveriesOf(db, [paid!.orderId])).toEqual([{ order_id: paid!.orderId, status: 'delivered', attempts: 1 }]);
      // The late event was acknowledged, so it is stored (applied now or by the next process).
      const stored = await eventStatuses(db, [lateEvent.id]);
      expect(stored).toHaveLength(1);
      expect(['received', 'applied']).toContain(stored[0]!.status);
    });
  });
});

describe('a drain that outlives SHUTDOWN_TIMEOUT_MS', () => {
  it('closes the connections still open at the deadline and still exits 0', { timeout: 240_000 }, async () => {
    const [story] = await setUp(1);
    const server = await startServerProcess(
      { ...database!.env, NODE_ENV: 'development', LOG_LEVEL: 'info', STRIPE_WEBHOOK_SECRET: WEBHOOK_TEST_SECRET, SHUTDOWN_TIMEOUT_MS: '1000' },
      { cwd: database!.workDir },
    );
    // A client that starts a delivery and never sends its body.
    await heldWebhook(server.url, story!.event('checkout.session.completed'));

    process.kill(server.pid, 'SIGTERM');

    expect(await server.exited, server.output()).toEqual({ code: 0, signal: null });
    expect(server.output()).toContain('shutdown timeout: closing the connections still open');
  });
});

afterAll(async () => {
  await killServerProcesses();
});
