// The floor under goal (b) of issue 23 (our CPU per acknowledged event at most a third of the peer's):
// a node:http server that only verifies each delivery's Stripe signature (HMAC-SHA256 of
// `<t>.<body>`, compared in constant time, as the Stripe SDK does) and answers 200, with no database,
// no JSON parse and no log. No receiver that verifies on Node can cost less per event than this.
// Environment: STRIPE_WEBHOOK_SECRET. Prints `listening on <url>` once it listens.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

const secret = process.env.STRIPE_WEBHOOK_SECRET;
const TOLERANCE_S = 300;

function verified(body, header) {
  if (typeof header !== 'string') return false;
  let t;
  const signatures = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq);
    if (key === 't') t = part.slice(eq + 1);
    else if (key === 'v1') signatures.push(part.slice(eq + 1));
  }
  if (!t || Math.abs(Date.now() / 1000 - Number(t)) > TOLERANCE_S) return false;
  const expected = createHmac('sha256', secret).update(`${t}.`).update(body).digest();
  return signatures.some((s) => s.length === 64 && timingSafeEqual(Buffer.from(s, 'hex'), expected));
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const ok = verified(Buffer.concat(chunks), req.headers['stripe-signature']);
    const body = ok ? '{"received":true}' : '{"error":"bad_signature"}';
    res.writeHead(ok ? 200 : 400, { 'content-type': 'application/json', 'content-length': String(body.length) });
    res.end(body);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening on http://127.0.0.1:${server.address().port}\n`));
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
