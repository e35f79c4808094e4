// The production build (`npm run build:server`, scripts/build-server.ts) as the Dockerfile runs it:
// plain `node dist/server/main.js`, no tsx, no TypeScript. It must start, apply the migrations it
// finds beside it, load the GraphQL schema, answer /healthz and /readyz, and stop cleanly on SIGTERM
// (what a container runtime sends). Built into a directory of its own under dist/ so that a build by
// a person at the same time is not overwritten halfway. The database is the suite's engine (a copy of
// the migrated PGlite template, or a fresh PostgreSQL database under `npm run test:pg`), so the
// migration runner reads dist's copy of the migrations and finds them applied, as on a redeploy.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../scripts/build-server';
import { createProcessDatabase, type ProcessDatabase } from './helpers/serverProcess';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

let outDir: string;
let database: ProcessDatabase;
let child: ChildProcess | undefined;
let output = '';

beforeAll(async () => {
  outDir = mkdtempSync(join(ROOT, 'dist', '.deploy-test-'));
  await buildServer(outDir);
  database = await createProcessDatabase();
  await (await database.open()).close(); // unpacks the template; the server process opens it next
}, 60_000);

afterAll(async () => {
  child?.kill('SIGKILL');
  rmSync(outDir, { recursive: true, force: true });
  await database?.destroy();
});

/** Starts the compiled server and resolves with its base URL once the banner names it. */
function startCompiled(env: Record<string, string>): Promise<{ url: string; exited: Promise<number | null> }> {
  child = spawn(process.execPath, [join(outDir, 'server', 'main.js')], {
    cwd: database.workDir, // sandbox mode keeps its dev credentials in ./.data; .env is read from here
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'warn',
      CONSOLE_DIST_DIR: join(database.workDir, 'no-console'),
      RECONCILE_INTERVAL: 'off',
      ...database.env,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const onData = (chunk: string) => {
      output += chunk;
      const match = /Health\s+(http:\/\/\S+)\/healthz/.exec(output);
      if (match) resolve({ url: match[1]!, exited });
    };
    child!.stdout!.setEncoding('utf8').on('data', onData);
    child!.stderr!.setEncoding('utf8').on('data', onData);
    void exited.then((code) => reject(new Error(`the compiled server exited (${code}) before its banner:\n${output}`)));
  });
}

describe('the compiled server (npm run build:server)', () => {
  it('writes plain JavaScript with its relative imports as .js files, and the data the server reads beside it', () => {
    const main = readFileSync(join(outDir, 'server', 'main.js'), 'utf8');
    // main.ts imports the app only once its configuration is good (a dynamic import): rewritten as the static ones.
    expect(main).toMatch(/import\("\.\/compose\.js"\)/);
    expect(main).toMatch(/from "\.\/config\.js"/);
    // No extensionless relative import, static or dynamic: Node's ESM loader refuses them.
    expect(main).not.toMatch(/(?:from |import\()"\.[^"]*(?<!\.js)"/);
    expect(existsSync(join(outDir, 'server', 'platform', 'db', 'migrate.js'))).toBe(true);
    expect(readFileSync(join(outDir, 'schema.graphql'), 'utf8')).toBe(readFileSync(join(ROOT, 'schema.graphql'), 'utf8'));
    expect(existsSync(join(outDir, 'supabase', 'migrations', '20261122000000_supabase_shim.sql'))).toBe(true);
    // The server imports nothing from the console (tests/architecture.test.ts): nothing lands in
    // dist/console, which belongs to the console's build and is emptied by each one.
    expect(existsSync(join(outDir, 'console'))).toBe(false);
    expect(readFileSync(join(outDir, 'server', 'sandboxMode', 'paymentRequestPages.js'), 'utf8')).not.toMatch(/from "[^"]*console\//);
  });

  it('starts under plain node, answers /healthz, /readyz and GraphQL, and exits 0 on SIGTERM', async () => {
    const { url, exited } = await startCompiled({});
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', database: database.env.DATABASE_URL ? 'postgres' : 'pglite' });
    // The schema is read from dist's copy of schema.graphql, relative to the compiled file.
    const graphql = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ __typename }' }) });
    expect(await graphql.json()).toEqual({ data: { __typename: 'Query' } });
    child!.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).not.toMatch(/error/i);
  }, 60_000);

  it("compiles the operator's CLI too, which runs under plain node in the image", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [join(outDir, 'server', 'cli', 'main.js'), '--help'], { cwd: database.workDir, env: { PATH: process.env.PATH ?? '' } });
    expect(stdout).toContain('payments-ops <command> [options]');
    expect(stdout).toContain('process-refund');
  });
});
