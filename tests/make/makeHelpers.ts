// Make.com stood in for by msw (it is outside our system): a hook per kind under MAKE_HOOK that checks
// every delivery's signature as a scenario would and records it, answering what each test scripts.
// Plus the delivery JSON Schema, compiled once, and row helpers.
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import type { Db } from '../../server/platform/db/db';
import { verifyMakeSignature } from '../../server/make/signature';

export const MAKE_HOOK = 'https://hook.make.test';
export const MAKE_TEST_SECRET = 'make-test-signing-secret-0001';
export const MAKE_TEST_API_KEY = 'make-test-api-key';

export interface ReceivedDelivery {
  kind: string;
  deliveryId: string | null;
  signatureValid: boolean;
  apiKey: string | null;
  contentType: string | null;
  body: any;
  rawBody: string;
  at: number;
}

/** What the hook answers: a Response, or msw's network error; undefined falls through to 200. */
export type Answer = (request: Request) => Response | Promise<Response> | undefined;

export interface MakeHook {
  received: ReceivedDelivery[];
  /** Answers for the next requests, in order; once used up, 200 "Accepted". */
  script: Answer[];
  reset(): void;
  close(): void;
}

export function startMakeHook(secret = MAKE_TEST_SECRET): MakeHook {
  const hook: MakeHook = {
    received: [],
    script: [],
    reset() {
      hook.received.length = 0;
      hook.script.length = 0;
    },
    close: () => server.close(),
  };
  const server = setupServer(
    http.post(`${MAKE_HOOK}/:kind`, async ({ request, params }) => {
      const rawBody = await request.clone().text();
      hook.received.push({
        kind: String(params.kind),
        deliveryId: request.headers.get('x-delivery-id'),
        signatureValid: verifyMakeSignature({ secret, body: rawBody, header: request.headers.get('x-signature') }).valid,
        apiKey: request.headers.get('x-make-apikey'),
        contentType: request.headers.get('content-type'),
        body: JSON.parse(rawBody),
        rawBody,
        at: Date.now(),
      });
      const answer = hook.script.shift();
      return (await answer?.(request)) ?? new HttpResponse('Accepted', { status: 200 });
    }),
  );
  // The server's calls to itself (GraphQL, the Stripe sandbox) go through untouched.
  server.listen({ onUnhandledRequest: 'bypass' });
  return hook;
}

/** Environment for a server whose Make scenarios are the msw hook. */
export const makeEnv = (kinds: string[] = ['add_project']): Record<string, string> => {
  const urls = Object.fromEntries(kinds.filter((kind) => kind !== 'add_project').map((kind) => [kind, `${MAKE_HOOK}/${kind}`]));
  return {
    MAKE_SIGNING_SECRET: MAKE_TEST_SECRET,
    MAKE_API_KEY: MAKE_TEST_API_KEY,
    ...(kinds.includes('add_project') ? { MAKE_ADD_PROJECT_WEBHOOK_URL: `${MAKE_HOOK}/add_project` } : {}),
    ...(Object.keys(urls).length > 0 ? { MAKE_WEBHOOK_URLS: JSON.stringify(urls) } : {}),
  };
};

const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
ajv.addFormat('uuid', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
ajv.addFormat('date-time', (value: string) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value) && !Number.isNaN(Date.parse(value)));
const schema = JSON.parse(readFileSync(new URL('../../server/make/delivery.schema.json', import.meta.url), 'utf8'));
const validate = ajv.compile(schema);

/** The JSON Schema's errors for a payload (empty when it is valid). */
export function schemaErrors(payload: unknown): string[] {
  return validate(payload) ? [] : (validate.errors ?? []).map((error) => `${error.instancePath} ${error.message} ${JSON.stringify(error.params)}`);
}

export interface DeliveryRow {
  id: string;
  kind: string;
  status: string;
  attempts: number;
  order_id: string | null;
  subject_id: string | null;
  payload: any;
  next_attempt_at: Date;
  last_status_code: number | null;
  last_error: string | null;
  last_response: string | null;
  delivered_at: Date | null;
  dead_at: Date | null;
}

export async function deliveries(db: Db, where = 'true', params: unknown[] = []): Promise<DeliveryRow[]> {
  const { rows } = await db.query<DeliveryRow>(`select * from make_deliveries where ${where} order by created_at, id`, params as never[]);
  return rows;
}

export async function attemptsOf(db: Db, deliveryId: string) {
  const { rows } = await db.query<{ attempt: number; status_code: number | null; outcome: string; error: string | null; response: string | null; latency_ms: number }>(
    'select attempt, status_code, outcome, error, response, latency_ms from make_delivery_attempts where delivery_id = $1 order by attempt',
    [deliveryId],
  );
  return rows;
}

/** Makes a delivery's next attempt due now (instead of waiting out its backoff). */
export async function makeDue(db: Db, deliveryId: string): Promise<void> {
  await db.query(`update make_deliveries set next_attempt_at = now() where id = $1 and status in ('pending', 'delivering')`, [deliveryId]);
}
