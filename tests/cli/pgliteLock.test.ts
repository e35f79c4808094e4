// A PGlite directory is one process's at a time (server/platform/db/pgliteLock.ts): with the real
// server (`npm start`'s entry) running on it, `payments-ops` refuses to open it, saying a server is
// running there (exit 3), and so does a second server; once the server is gone, even killed with no
// chance to give the lock back, the CLI opens it.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { PGLITE_LOCK_FILE } from '../../server/platform/db/pgliteLock';
import { killServerProcesses, startServerProcess } from '../helpers/serverProcess';
import { TEST_ENGINE } from '../helpers/db';
import { runCli } from './helpers';

let workDir: string;
let dataDir: string;

// The lock is PGlite's own, so this runs in the PGlite suite, whose setup provides the migrated template;
// the PostgreSQL suite (vitest.pg.config.ts) has no PGlite template and nothing of its engine to test here.
const runsHere = TEST_ENGINE !== 'postgres';

beforeAll(async () => {
  if (!runsHere) return;
  // A copy of the migrated template.
  workDir = mkdtempSync(join(tmpdir(), 'payments-ops-lock-'));
  dataDir = join(workDir, 'pglite');
  const pg = await PGlite.create({ dataDir, loadDataDir: new Blob([readFileSync(inject('pgliteTemplate'))]) });
  await pg.close();
});
afterAll(async () => {
  if (!runsHere) return;
  await killServerProcesses();
  rmSync(workDir, { recursive: true, force: true });
});

describe.runIf(runsHere)('the PGlite directory of a running server', () => {
  it('is refused to the CLI and to a second server while the server lives, and opens once it was killed (its Stripe sandbox run by the CLI)', { timeout: 240_000 }, async () => {
    const env = { PGLITE_DATA_DIR: dataDir };
    const server = await startServerProcess(env, { cwd: workDir });
    expect(readFileSync(join(dataDir, PGLITE_LOCK_FILE), 'utf8').split('\n')[0]).toBe(String(server.pid));

    const refused = await runCli(['webhook-status'], env, { cwd: workDir });
    expect(refused.code, refused.stderr).toBe(3);
    expect(refused.stdout).toBe('');
    expect(refused.stderr.trim()).toMatch(new RegExp(`^payments-ops: The PGlite directory .+ is in use by process ${server.pid} \\(main\\.ts\\): a payments-ops server is running on it\\..+\\(DATABASE_IN_USE\\)$`));

    await expect(startServerProcess(env, { cwd: workDir, startTimeoutMs: 60_000 })).rejects.toThrow(new RegExp(`in use by process ${server.pid}`));

    // SIGKILL: no shutdown, the lock file stays behind with a pid that is gone.
    await server.kill('SIGKILL');
    expect(existsSync(join(dataDir, PGLITE_LOCK_FILE))).toBe(true);
    const opened = await runCli(['webhook-status', '--json'], env, { cwd: workDir });
    expect(opened.code, opened.stderr).toBe(0);
    expect(JSON.parse(opened.stdout)).toHaveProperty('status');
    // The CLI gave it back when it closed the database.
    expect(existsSync(join(dataDir, PGLITE_LOCK_FILE))).toBe(false);

    // Sandbox mode with the server gone: the CLI runs the server's sandbox (.data/stripe-sandbox.json
    // in the working directory) itself, so a pass reaches Stripe with nothing listening at PORT.
    expect(existsSync(join(workDir, '.data', 'stripe-sandbox.json'))).toBe(true);
    const pass = await runCli(['reconcile', '--dry-run', '--json'], { ...env, PORT: '1' }, { cwd: workDir });
    expect(pass.code, pass.stderr).toBe(0);
    expect(JSON.parse(pass.stdout)).toMatchObject({ dryRun: true, counters: { failed: 0 } });
  });
});
