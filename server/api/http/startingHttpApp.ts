// What a process answers while it starts (issue 24): it listens before its start-up steps run, so that
// a process waiting for its database is seen as alive and not ready, rather than as a port that
// refuses connections. /healthz is 200 (a liveness check must not restart it: a new process would wait
// the same), /readyz is 503 (a balancer sends it nothing yet), and every other route is 503 with
// Retry-After. Once started, the process serves its real app on the same port.
import type { ProcessRole } from '../../config';

const RETRY_AFTER_SECONDS = '5';

export function startingHttpHandler(role: ProcessRole): (request: Request) => Response {
  const roleField = role === 'worker' ? { role: 'worker' } : {};
  return (request) => {
    const path = new URL(request.url).pathname;
    if (path === '/healthz') return Response.json({ status: 'ok', ...roleField });
    if (path === '/readyz') return Response.json({ status: 'starting', ...roleField }, { status: 503, headers: { 'retry-after': RETRY_AFTER_SECONDS } });
    return Response.json({ error: 'the server is starting: try again shortly' }, { status: 503, headers: { 'retry-after': RETRY_AFTER_SECONDS } });
  };
}
