// @ts-check
// Makes dist/ current before a start: the console (Vite, dist/console) and the compiled server
// (scripts/build-server.ts, dist/server), each built only when what it is built from changed since its
// last build, with a line saying what is built and why, and how long it took.
//
//   node scripts/prepare.js [console] [server] [--force]
//
// No target: both. `--force` builds the targets whatever their stamps say (`npm run build`,
// `build:console`, `build:server`). `npm start` runs this, then `node dist/server/main.js`: the server a
// newcomer starts is the JavaScript production runs, and a restart with nothing changed builds nothing.
//
// How it knows: a stamp beside each build output (dist/console.build.json, dist/server.build.json)
// holds the SHA-256 of every input file the build read and of any setting it baked in (the console's
// Supabase URL and key). Before a start the inputs are hashed again (tens of milliseconds) and compared:
// a file added, removed or changed, no stamp, or no output, and that build is redone. A stamp is removed
// before its build and written only after it succeeded, so an interrupted build is redone next time.
//
// Plain JavaScript, so that the check costs no TypeScript loader; the builds (scripts/builds.ts) are
// loaded through tsx only when there is something to build.
//
// With NODE_ENV=production (the environment or .env) it never builds, since a production host has no
// dev dependencies (Vite) and should run what was built and tested: it stops with one line when a
// build is missing and warns when the sources have moved on since; `npm run build` makes it.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseEnv } from 'node:util';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Settings vite.config.ts bakes into the console, read as it reads them (environment first, then these files). */
const CONSOLE_SETTINGS = ['SUPABASE_URL', 'SUPABASE_ANON_KEY'];
const VITE_ENV_FILES = ['.env', '.env.local', '.env.production', '.env.production.local'];
/** How long a start waits for another one's build of dist/ (a first console build takes 10-30 s on a busy machine). */
const LOCK_WAIT_MS = 300_000;

/**
 * @typedef {Record<string, string>} Fingerprint  path (relative to the root, `/`-separated) or `value:<name>` → SHA-256 hex; a missing file is `missing`
 * @typedef {{ summary?: string, readFiles?: string[] }} Built
 * @typedef {object} Target
 * @property {string} name
 * @property {string} root the folder inputs and outputs are relative to
 * @property {string} stampFile
 * @property {string} output a file the build always writes: without it the build is redone whatever the stamp says
 * @property {{ dirs: string[], files: string[], values?: Record<string, string> }} inputs whole folders (so a new file counts), single files, settings
 * @property {string} building progress line, 'Building the console'
 * @property {string} built progress line, 'Console built'
 * @property {(builds: typeof import('./builds')) => Promise<Built>} build
 */

class PrepareError extends Error {}

/** @param {string} path */
function readEnvFile(path) {
  return existsSync(path) ? parseEnv(readFileSync(path, 'utf8')) : {};
}

/**
 * The console: built by Vite from the working directory, as vite.config.ts expects (npm runs scripts in the package's folder).
 * @param {string} root
 * @returns {Target}
 */
function consoleTarget(root) {
  const files = VITE_ENV_FILES.map((file) => readEnvFile(join(root, file)));
  const settings = Object.fromEntries(CONSOLE_SETTINGS.map((name) => [name, { environment: process.env[name], files: files.map((values) => values[name]) }]));
  return {
    name: 'console',
    root,
    stampFile: join(root, 'dist', 'console.build.json'),
    output: join(root, 'dist', 'console', 'index.html'),
    // Everything Vite reads that is ours: the console's folder (pages, sources, public files), its
    // config, the TypeScript settings it compiles with, the lockfile for the packages it bundles, and
    // (remembered in the stamp from the last build) the files of ours it bundled from outside console/.
    inputs: { dirs: ['console'], files: ['vite.config.ts', 'tsconfig.json', 'package.json', 'package-lock.json'], values: { [CONSOLE_SETTINGS.join(' and ')]: JSON.stringify(settings) } },
    building: 'Building the console',
    built: 'Console built',
    build: (builds) => builds.buildConsole(root),
  };
}

/**
 * The server: compiled by scripts/build-server.ts from this repository into its dist/.
 * @returns {Target}
 */
function serverTarget() {
  return {
    name: 'server',
    root: REPO,
    stampFile: join(REPO, 'dist', 'server.build.json'),
    output: join(REPO, 'dist', 'server', 'main.js'),
    inputs: { dirs: ['server', 'stripe-sandbox', 'supabase/migrations'], files: ['schema.graphql', 'tsconfig.json', 'package.json', 'package-lock.json', 'scripts/build-server.ts'] },
    building: 'Compiling the server',
    built: 'Server compiled',
    build: (builds) => builds.compileServer(join(REPO, 'dist')),
  };
}

/** @param {string | Buffer} data */
const sha256 = (data) => createHash('sha256').update(data).digest('hex');

/** @param {string} root @param {string} dir */
function filesUnder(root, dir) {
  const absolute = join(root, dir);
  if (!existsSync(absolute)) return [];
  return readdirSync(absolute, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(root, join(entry.parentPath, entry.name)).split(sep).join('/'));
}

/**
 * The target's inputs now: its folders and files, and the single files its last build found it reads (kept in the stamp).
 * @param {Target} target @param {Fingerprint | undefined} previous @param {string[]} [readFiles]
 * @returns {Fingerprint}
 */
function fingerprint(target, previous, readFiles = []) {
  const { dirs, files, values = {} } = target.inputs;
  const remembered = Object.keys(previous ?? {}).filter((path) => !path.startsWith('value:'));
  const outside = [...remembered, ...readFiles].filter((path) => !dirs.some((dir) => path.startsWith(`${dir}/`)));
  const paths = new Set([...dirs.flatMap((dir) => filesUnder(target.root, dir)), ...files, ...outside]);
  /** @type {Fingerprint} */
  const result = {};
  for (const path of [...paths].sort()) {
    const absolute = join(target.root, path);
    result[path] = existsSync(absolute) ? sha256(readFileSync(absolute)) : 'missing';
  }
  for (const [name, value] of Object.entries(values)) result[`value:${name}`] = sha256(value);
  return result;
}

/** @param {string} stampFile @returns {Fingerprint | undefined} */
function readStamp(stampFile) {
  try {
    const stamp = JSON.parse(readFileSync(stampFile, 'utf8'));
    return stamp && typeof stamp.inputs === 'object' ? stamp.inputs : undefined;
  } catch {
    return undefined; // none yet, or unreadable: either way the build is redone
  }
}

/** @param {string} stampFile @param {Fingerprint} inputs */
function writeStamp(stampFile, inputs) {
  mkdirSync(dirname(stampFile), { recursive: true });
  writeFileSync(stampFile, JSON.stringify({ builtAt: new Date().toISOString(), inputs }, null, 1) + '\n');
}

/**
 * Why the build made from `previous` is out of date for `current`, in a few words for the progress
 * line ("console/src/App.tsx changed", "a, b and 3 more added"), or null when it is current.
 * @param {Fingerprint | undefined} previous @param {Fingerprint} current
 */
function staleReason(previous, current) {
  if (!previous) return 'no build yet';
  const changed = Object.keys(current).filter((path) => path in previous && previous[path] !== current[path]);
  const added = Object.keys(current).filter((path) => !(path in previous));
  const removed = Object.keys(previous).filter((path) => !(path in current));
  const parts = [describe(changed, 'changed'), describe(added, 'added'), describe(removed, 'removed')].filter(Boolean);
  return parts.length === 0 ? null : parts.join('; ');
}

/** @param {string[]} paths @param {string} what */
function describe(paths, what) {
  if (paths.length === 0) return null;
  const names = paths.map((path) => path.replace(/^value:/, ''));
  const shown = names.slice(0, 2).join(', ');
  return names.length <= 2 ? `${shown} ${what}` : `${shown} and ${names.length - 2} more ${what}`;
}

/** @type {Promise<typeof import('./builds')> | undefined} */
let builds;
/** scripts/builds.ts, through tsx: registered once, and only when something is built. */
async function loadBuilds() {
  builds ??= import('tsx/esm/api').then(({ register }) => {
    register();
    return import('./builds.ts');
  });
  return builds;
}

/** Why the target is to be built now, or null when its build is current. @param {Target} target @param {boolean} force */
function buildReason(target, force) {
  if (force) return 'asked for';
  if (!existsSync(target.output)) return 'no build yet';
  const previous = readStamp(target.stampFile);
  return staleReason(previous, fingerprint(target, previous));
}

/**
 * Runs `build` holding dist/.prepare.lock, a directory (made atomically) with the holder's pid in it:
 * docs/scaling.md starts `npm run start:web &` twice and `start:worker &` at once, and two builds
 * writing dist/ together would leave it half made. A lock whose holder is gone (killed mid-build) is
 * taken over.
 * @param {string} root @param {() => Promise<void>} build
 */
async function withBuildLock(root, build) {
  const lock = join(root, 'dist', '.prepare.lock');
  mkdirSync(dirname(lock), { recursive: true });
  const deadline = Date.now() + LOCK_WAIT_MS;
  let told = false;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if (/** @type {NodeJS.ErrnoException} */ (error).code !== 'EEXIST') throw error;
      if (lockHolderGone(lock)) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new PrepareError(`another build still holds ${lock} after ${LOCK_WAIT_MS / 1000} s; remove it if no build is running`);
      if (!told) process.stdout.write('Waiting for another start to finish building dist/…\n');
      told = true;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  try {
    await build();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** @param {string} lock */
function lockHolderGone(lock) {
  let pid = 0;
  try {
    pid = Number(readFileSync(join(lock, 'pid'), 'utf8'));
  } catch {
    // Read below as no pid yet.
  }
  if (!Number.isInteger(pid) || pid <= 0) {
    // No pid yet: the holder is between making the directory and writing it, unless that was long ago.
    try {
      return Date.now() - statSync(lock).mtimeMs > 10_000;
    } catch {
      return true; // gone meanwhile
    }
  }
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return /** @type {NodeJS.ErrnoException} */ (error).code === 'ESRCH';
  }
}

/** @param {Target} target @param {{ force: boolean, production: boolean }} options */
async function prepare(target, options) {
  const reason = buildReason(target, options.force);
  if (reason === null) return;
  if (options.production && !options.force) {
    if (!existsSync(target.output)) throw new PrepareError(`${target.output} is missing: run \`npm run build\` first (with NODE_ENV=production, npm start runs the build and never makes it)`);
    process.stdout.write(`Warning: the ${target.name} in dist/ is older than its sources (${reason}); run \`npm run build\` to rebuild it.\n`);
    return;
  }
  await withBuildLock(target.root, async () => {
    // Another start may have built it while this one waited for the lock.
    const stillReason = options.force ? reason : buildReason(target, false);
    if (stillReason !== null) await build(target, stillReason);
  });
}

/** @param {Target} target @param {string} reason */
async function build(target, reason) {
  process.stdout.write(`${target.building} (${reason})…\n`);
  const started = performance.now();
  rmSync(target.stampFile, { force: true });
  const { summary, readFiles } = await target.build(await loadBuilds());
  // What this build read, not what the last one did: a file no longer imported stops counting.
  writeStamp(target.stampFile, fingerprint(target, undefined, readFiles));
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stdout.write(`${target.built} in ${seconds} s${summary ? ` (${summary})` : ''}.\n`);
}

/** @param {string[]} argv */
async function main(argv) {
  const force = argv.includes('--force');
  const names = argv.filter((arg) => arg !== '--force');
  const unknown = names.filter((name) => name !== 'console' && name !== 'server');
  if (unknown.length > 0) throw new PrepareError(`unknown target ${unknown.join(', ')}: the targets are console and server`);
  const wanted = names.length === 0 ? ['console', 'server'] : names;
  // NODE_ENV as the server will read it: the environment, else .env (not loaded into this process:
  // vite.config.ts reads .env files itself, with its own precedence).
  const production = (process.env.NODE_ENV ?? readEnvFile(join(process.cwd(), '.env')).NODE_ENV) === 'production';
  const targets = [...(wanted.includes('console') ? [consoleTarget(process.cwd())] : []), ...(wanted.includes('server') ? [serverTarget()] : [])];
  for (const target of targets) await prepare(target, { force, production });
}

main(process.argv.slice(2)).catch((error) => {
  process.stderr.write(`${error instanceof PrepareError ? '' : 'Build failed: '}${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
