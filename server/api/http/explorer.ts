// The GraphQL explorer on GET /graphql for a browser, outside production: GraphiQL as built by Vite
// into the console's output (console/explorer.html, a second entry). Apollo's own landing page loads
// its explorer from Apollo's CDN, which `npm start` (offline by design) cannot reach; this needs only
// this server. GET /graphql with an operation, or asked for as JSON, still goes to Apollo.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Hono } from 'hono';
import { wantsExplorer } from './securityHeaders';
import type { AppEnv } from './types';

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>GraphQL explorer</title></head>
<body><main><h1>GraphQL explorer</h1><p>The explorer is built with the console: run <code>npm run build:console</code> (npm start does it for you).</p></main></body></html>`;

export function mountExplorer(app: Hono<AppEnv>, consoleDistDir: string): void {
  const path = join(resolve(consoleDistDir), 'explorer.html');
  // Read once: the build is immutable while the server runs (npm start builds before it starts).
  const html = existsSync(path) ? readFileSync(path, 'utf8') : null;
  app.get('/graphql', (c, next) => (wantsExplorer(c) ? c.html(html ?? NOT_BUILT) : next()));
}
