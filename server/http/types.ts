/** Variables every route can read from Hono's context. */
export type AppEnv = { Variables: { requestId: string } };
