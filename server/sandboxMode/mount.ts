// Sandbox mode's one mount: everything the server serves only when it runs against the Stripe sandbox
// (no Stripe key, never in production) goes into the HTTP app here, in one place and one style, so it
// passes through the app's request id, logging and security headers like every other answer. Each
// part is given what it needs as arguments by the composition root (server/compose.ts).
import type { HttpBindings } from '@hono/node-server';
import type { Env, Hono, MiddlewareHandler } from 'hono';
import type { StripeSandbox } from '../../stripe-sandbox/sandbox';
import { DEV_SIGN_IN_PATH, type DevSignInOptions, mountDevSignIn } from './devSignIn';
import { MAKE_SINK_PATH, type MakeSink } from './make/sink';
import { mountSandboxStorefront, type SandboxStorefrontDeps } from './storefront';

export interface SandboxModeDeps {
  /** The Stripe emulator, served under /v1, /checkout, /3ds and /_sandbox. */
  stripeSandbox: StripeSandbox;
  /** The console's dev sign-in (POST /_sandbox/dev-sign-in); absent when staff sign in through a JWKS. */
  devSignIn: DevSignInOptions | undefined;
  /** The Make sink the outbox delivers to when no Make URL is configured. */
  makeSink: MakeSink | undefined;
  storefront: SandboxStorefrontDeps;
}

/** What only the HTTP app has: the rate limit of the dev sign-in (it shares the app's limiter settings). */
export interface SandboxModeHttp<E extends Env> {
  devSignInLimit: MiddlewareHandler<E>;
}

/** Mount before the console's catch-all routes, which would otherwise answer the sink's and the pages' GETs. */
/** The app's environment as far as this mount needs it: the Node request, to drop a socket. */
type NodeEnv = Env & { Bindings: Partial<HttpBindings> };

// The handlers answer fetch-style (Request -> Response); their answers go out through c.newResponse so
// that the headers the app set before them (X-Request-Id) are kept, as a bare Response would drop them.
export function mountSandboxMode<E extends NodeEnv>(app: Hono<E>, deps: SandboxModeDeps, http: SandboxModeHttp<E>): void {
  // Ahead of the emulator's /_sandbox/* routes, which would otherwise answer it.
  if (deps.devSignIn) {
    app.use(DEV_SIGN_IN_PATH, http.devSignInLimit);
    mountDevSignIn(app, deps.devSignIn);
  }

  const { stripeSandbox } = deps;
  for (const prefix of ['/v1/*', '/checkout/*', '/3ds/*', '/_sandbox/*']) {
    app.all(prefix, async (c) => {
      const response = await stripeSandbox.handle(c.req.raw);
      if (response.type !== 'error') return c.newResponse(response.body, response);
      // An injected connection reset: drop the socket without answering, as a network failure would.
      c.env?.incoming?.socket.destroy();
      return c.body(null, 500);
    });
  }

  mountSandboxStorefront(app, deps.storefront);

  const { makeSink } = deps;
  if (makeSink) {
    app.all(`${MAKE_SINK_PATH}/*`, async (c) => {
      const response = await makeSink.handle(c.req.raw);
      return c.newResponse(response.body, response);
    });
  }
}
