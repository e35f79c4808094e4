import type { HttpBindings } from '@hono/node-server';

/** What every route can read from Hono's context: the Node request (when served by Node) and our variables. */
export type AppEnv = { Bindings: Partial<HttpBindings>; Variables: { requestId: string } };
