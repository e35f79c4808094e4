// scripts/prepare.js, the step `npm start` runs before the server: the console is built only when what
// it is built from changed since its last build. Run as npm runs it (a child process, from the project's
// folder), with the real vite.config.ts, on a tiny console of the test's own so that each build takes a
// second and the repository's dist/ is left alone. The real console goes through the same code in
// `npm run test:e2e` and `npm start`; the server's build in tests/deploy.test.ts.
import { execFile, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const PREPARE = join(ROOT, 'scripts', 'prepare.js');

let project: string;

/**
 * How the tiny console's main.ts (in its console/src/) reaches common/text.ts at the tiny project's root.
 * Computed rather than written out: tests/standalone.test.ts reads a literal '../..' here as a path
 * leaving this repository, and this one is relative to the temporary project.
 */
const COMMON_TEXT_IMPORT = posix.relative('console/src', 'common/text');
/** The tiny console's script: a version to find in the build, and the Supabase settings vite.config.ts bakes in. */
const mainSource = (version: string) =>
  `import { shared } from '${COMMON_TEXT_IMPORT}';\ndeclare const __SUPABASE_CONFIG__: unknown;\ndocument.body.append('${version}', shared, JSON.stringify(__SUPABASE_CONFIG__));\n`;
/** A file outside console/ that the console imports, as console/src/lib/money.ts imports the server's. */
const sharedSource = (text: string) => `export const shared = '${text}';\n`;

beforeAll(() => {
  project = mkdtempSync(join(tmpdir(), 'prepare-test-'));
  mkdirSync(join(project, 'console', 'src'), { recursive: true });
  // vite.config.ts names two pages, the console and the explorer: the smallest of each.
  writeFileSync(join(project, 'console', 'index.html'), '<!doctype html><title>console</title><script type="module" src="./src/main.ts"></script>\n');
  writeFileSync(join(project, 'console', 'explorer.html'), '<!doctype html><title>explorer</title><p>explorer</p>\n');
  writeFileSync(join(project, 'console', 'src', 'main.ts'), mainSource('first version'));
  mkdirSync(join(project, 'common'));
  writeFileSync(join(project, 'common', 'text.ts'), sharedSource('first shared text'));
  copyFileSync(join(ROOT, 'vite.config.ts'), join(project, 'vite.config.ts'));
  copyFileSync(join(ROOT, 'package.json'), join(project, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(project, 'node_modules'), 'dir');
});

afterAll(() => {
  rmSync(project, { recursive: true, force: true });
});

interface Run {
  code: number;
  output: string;
}

/** `node scripts/prepare.js console`, as `npm start` runs it, from the project's folder. */
function prepareConsole(env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [PREPARE, 'console'], { cwd: project, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

/** The built console's JavaScript, all of it. */
function builtScripts(): string {
  const assets = join(project, 'dist', 'console', 'assets');
  return readdirSync(assets)
    .filter((name) => name.endsWith('.js'))
    .map((name) => readFileSync(join(assets, name), 'utf8'))
    .join('\n');
}

describe('npm start builds the console only when its sources changed (scripts/prepare.js)', () => {
  it('builds the first time, saying so and how long it took', async () => {
    const run = await prepareConsole();
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain('Building the console (no build yet)');
    expect(run.output).toMatch(/Console built in \d+\.\d s/);
    expect(builtScripts()).toContain('first version');
    expect(existsSync(join(project, 'dist', 'console.build.json'))).toBe(true);
  }, 120_000);

  it('builds nothing at the next start when nothing changed', async () => {
    const before = readFileSync(join(project, 'dist', 'console.build.json'), 'utf8');
    const run = await prepareConsole();
    expect(run.code, run.output).toBe(0);
    expect(run.output).toBe('');
    expect(readFileSync(join(project, 'dist', 'console.build.json'), 'utf8')).toBe(before);
  }, 60_000);

  it('builds again when a console source changed, naming it', async () => {
    writeFileSync(join(project, 'console', 'src', 'main.ts'), mainSource('second version'));
    const run = await prepareConsole();
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain('Building the console (console/src/main.ts changed)');
    expect(builtScripts()).toContain('second version');
    expect((await prepareConsole()).output).toBe('');
  }, 120_000);

  it('builds again when a file outside console/ that the console imports changed', async () => {
    writeFileSync(join(project, 'common', 'text.ts'), sharedSource('second shared text'));
    const run = await prepareConsole();
    expect(run.output).toContain('Building the console (common/text.ts changed)');
    expect(builtScripts()).toContain('second shared text');

    // Once the console no longer imports it, it no longer counts.
    const imports = mainSource('first version');
    writeFileSync(join(project, 'console', 'src', 'main.ts'), imports.replace(/^import .*\n/, "const shared = 'inline';\n"));
    expect((await prepareConsole()).output).toContain('Building the console (console/src/main.ts changed)');
    writeFileSync(join(project, 'common', 'text.ts'), sharedSource('third shared text'));
    expect((await prepareConsole()).output).toBe('');
  }, 120_000);

  it('builds again when a file is added to the console, or a setting the build bakes in changed', async () => {
    writeFileSync(join(project, 'console', 'src', 'unused.ts'), 'export {};\n');
    expect((await prepareConsole()).output).toContain('Building the console (console/src/unused.ts added)');
    const run = await prepareConsole({ SUPABASE_URL: 'https://example.supabase.co', SUPABASE_ANON_KEY: 'anon-key-0123456789abcdef' });
    expect(run.output).toContain('Building the console (SUPABASE_URL and SUPABASE_ANON_KEY changed)');
    expect(builtScripts()).toContain('https://example.supabase.co');
  }, 120_000);

  it('builds once when several starts find the same change at once (docs/scaling.md starts three)', async () => {
    writeFileSync(join(project, 'console', 'src', 'main.ts'), mainSource('concurrent version'));
    const runs = await Promise.all([prepareConsole(), prepareConsole(), prepareConsole()]);
    expect(runs.map((run) => run.code)).toEqual([0, 0, 0]);
    const output = runs.map((run) => run.output).join('\n');
    expect(output.match(/Building the console/g), output).toHaveLength(1);
    expect(builtScripts()).toContain('concurrent version');
    expect(existsSync(join(project, 'dist', '.prepare.lock'))).toBe(false);
  }, 120_000);

  it('takes over the lock of a start that was killed while building', async () => {
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!; // a pid that has exited
    mkdirSync(join(project, 'dist', '.prepare.lock'));
    writeFileSync(join(project, 'dist', '.prepare.lock', 'pid'), String(dead));
    writeFileSync(join(project, 'console', 'src', 'main.ts'), mainSource('after a killed build'));
    const run = await prepareConsole();
    expect(run.code, run.output).toBe(0);
    expect(builtScripts()).toContain('after a killed build');
    expect(existsSync(join(project, 'dist', '.prepare.lock'))).toBe(false);
  }, 120_000);

  it('rebuilds when the output is gone, even with a current stamp', async () => {
    rmSync(join(project, 'dist', 'console'), { recursive: true });
    const run = await prepareConsole();
    expect(run.output).toContain('Building the console (no build yet)');
    expect(existsSync(join(project, 'dist', 'console', 'index.html'))).toBe(true);
  }, 120_000);

  it('never builds with NODE_ENV=production: a stale build is a warning, a missing one an error', async () => {
    writeFileSync(join(project, 'console', 'src', 'main.ts'), mainSource('third version'));
    const stale = await prepareConsole({ NODE_ENV: 'production' });
    expect(stale.code, stale.output).toBe(0);
    expect(stale.output).toContain('the console in dist/ is older than its sources (console/src/main.ts changed); run `npm run build`');
    expect(builtScripts()).not.toContain('third version');

    rmSync(join(project, 'dist', 'console'), { recursive: true });
    writeFileSync(join(project, '.env'), 'NODE_ENV=production\n'); // read as the server reads it
    const missing = await prepareConsole();
    expect(missing.code).toBe(1);
    expect(missing.output).toContain('dist/console/index.html is missing: run `npm run build` first');
  }, 60_000);
});
