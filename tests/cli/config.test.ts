// `payments-ops` reads the server's configuration from `.env` in its working directory (issue 21) and
// applies pending migrations first, as the server does: a run with PGLITE_DATA_DIR given only in .env,
// on a directory no database has been made in, answers from a migrated database there.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers';

const workDir = mkdtempSync(join(tmpdir(), 'payments-ops-cli-env-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

describe('configuration', () => {
  it('takes PGLITE_DATA_DIR from .env and migrates the new database before the command', async () => {
    const dataDir = join(workDir, 'from-dotenv');
    writeFileSync(join(workDir, '.env'), `# as the server reads it\nPGLITE_DATA_DIR=${dataDir}\n`);

    const run = await runCli(['webhook-status', '--json'], {}, { cwd: workDir });

    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ status: { received: 0, applied: 0, failed: 0 }, events: null });
    expect(existsSync(join(dataDir, 'PG_VERSION'))).toBe(true);
  }, 180_000);
});
