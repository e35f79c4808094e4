// The built-in Make sink (sandbox mode): stands in for Make.com's custom webhooks so the whole flow
// can be watched offline. It checks each delivery's signature as a scenario would, keeps what it
// received in memory, and can be told to fail or be slow, so a delivery can be seen to retry.
//
//   POST /sandbox/make/:kind        a delivery (what the outbox posts); 401 on a bad signature
//   GET  /sandbox/make/deliveries   what was received, oldest first
//   DELETE /sandbox/make/deliveries forget it
//   POST /sandbox/make/behaviour    { failNext?: n, status?: 500, delayMs?: 0 }: the next n deliveries
//                                   are answered with status; every answer waits delayMs first
//
// Written as a fetch-style handler (Request -> Response), like the Stripe sandbox.
import { verifyMakeSignature } from '../../make/signature';
import { isMakeKind, MAKE_KINDS, type MakeKind } from '../../config';

export const MAKE_SINK_PATH = '/sandbox/make';

/** Received deliveries kept; older ones are forgotten. */
const KEEP = 1000;
const MAX_DELAY_MS = 120_000;

export interface MakeSinkDelivery {
  kind: string;
  deliveryId: string | null;
  receivedAt: string;
  /** What the sink answered: 200, or the status it was told to fail with. */
  answeredStatus: number;
  apiKey: boolean;
  body: unknown;
}

export interface MakeSinkBehaviour {
  failNext: number;
  status: number;
  delayMs: number;
}

export interface MakeSink {
  handle(request: Request): Promise<Response>;
  readonly deliveries: MakeSinkDelivery[];
  behaviour: MakeSinkBehaviour;
}

export function createMakeSink(options: { signingSecret: string }): MakeSink {
  const deliveries: MakeSinkDelivery[] = [];
  const sink: MakeSink = {
    deliveries,
    behaviour: { failNext: 0, status: 500, delayMs: 0 },
    async handle(request) {
      const path = new URL(request.url).pathname.slice(MAKE_SINK_PATH.length);
      if (path === '/deliveries' && request.method === 'GET') return Response.json({ deliveries });
      if (path === '/deliveries' && request.method === 'DELETE') {
        deliveries.length = 0;
        return Response.json({ deliveries });
      }
      if (path === '/behaviour' && request.method === 'POST') return setBehaviour(sink, request);
      const kind = /^\/([a-z_]{1,40})$/.exec(path)?.[1];
      if (kind && isMakeKind(kind) && request.method === 'POST') return receive(sink, kind, request, options.signingSecret);
      return Response.json({ error: 'not_found', message: `No sandbox Make route for ${request.method} ${MAKE_SINK_PATH}${path}` }, { status: 404 });
    },
  };
  return sink;
}

async function receive(sink: MakeSink, kind: string, request: Request, signingSecret: string): Promise<Response> {
  const body = await request.text();
  const check = verifyMakeSignature({ secret: signingSecret, body, header: request.headers.get('x-signature') });
  if (!check.valid) return Response.json({ error: 'bad_signature', reason: check.reason }, { status: 401 });
  const { behaviour } = sink;
  if (behaviour.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, behaviour.delayMs));
  const failing = behaviour.failNext > 0;
  if (failing) behaviour.failNext -= 1;
  const answeredStatus = failing ? behaviour.status : 200;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = body;
  }
  sink.deliveries.push({
    kind,
    deliveryId: request.headers.get('x-delivery-id'),
    receivedAt: new Date().toISOString(),
    answeredStatus,
    apiKey: request.headers.has('x-make-apikey'),
    body: parsed,
  });
  if (sink.deliveries.length > KEEP) sink.deliveries.splice(0, sink.deliveries.length - KEEP);
  // Make's custom webhooks answer "Accepted" once the bundle is queued.
  return failing ? Response.json({ error: 'sandbox_failure', status: answeredStatus }, { status: answeredStatus }) : new Response('Accepted', { status: 200 });
}

async function setBehaviour(sink: MakeSink, request: Request): Promise<Response> {
  let input: Partial<Record<keyof MakeSinkBehaviour, unknown>>;
  try {
    input = (await request.json()) as typeof input;
  } catch {
    return Response.json({ error: 'bad_request', message: 'Send a JSON object: { failNext?, status?, delayMs? }' }, { status: 400 });
  }
  const next = { ...sink.behaviour };
  const problems: string[] = [];
  const take = (field: keyof MakeSinkBehaviour, min: number, max: number) => {
    const value = input?.[field];
    if (value === undefined) return;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) problems.push(`${field} must be an integer from ${min} to ${max}`);
    else next[field] = value;
  };
  take('failNext', 0, 1000);
  take('status', 300, 599);
  take('delayMs', 0, MAX_DELAY_MS);
  if (problems.length > 0) return Response.json({ error: 'bad_request', message: problems.join('; ') }, { status: 400 });
  sink.behaviour = next;
  return Response.json({ behaviour: next });
}

/** The routes of sandbox mode: every kind to this server's sink. */
export function sandboxMakeRoutes(serverUrl: string): Record<MakeKind, string> {
  return Object.fromEntries(MAKE_KINDS.map((kind) => [kind, `${serverUrl}${MAKE_SINK_PATH}/${kind}`])) as Record<MakeKind, string>;
}
