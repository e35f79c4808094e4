// Makes dist/ current before a start: the console (Vite, dist/console) and the compiled server
// (scripts/build-server.ts, dist/server), each built only when what it is built from changed since its
// last build (scripts/buildStamp.ts), with a line saying what is built and why, and how long it took.
//
//   node --import tsx scripts/prepare.ts [console] [server] [--force]
//
// No target: both. `--force` builds the targets whatever their stamps say (`npm run build`,
// `build:console`, `build:server`). `npm start` runs this, then `node dist/server/main.js`: the server a
// newcomer starts is the JavaScript production runs, and a restart with nothing changed builds nothing.
//
// With NODE_ENV=production (the environment or .env) it never builds, since a production host has no
// dev dependencies (Vite) and should run what was built and tested: it stops with one line when a
// build is missing and warns when the sources have moved on since, and `npm run build` makes it.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseEnv } from 'node:util';
import type { Plugin } from 'vite';
import { buildServer } from './build-server';
import { type BuildInputs, fingerprint, readStamp, removeStamp, staleReason, writeStamp } from './buildStamp';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Settings vite.config.ts bakes into the console, read as it reads them (environment first, then these files). */
const CONSOLE_SETTINGS = ['SUPABASE_URL', 'SUPABASE_ANON_KEY'];
const VITE_ENV_FILES = ['.env', '.env.local', '.env.production', '.env.production.local'];

interface Target {
  name: 'console' | 'server';
  /** The folder the inputs and outputs are relative to. */
  root: string;
  stampFile: string;
  /** A file the build always writes: without it the build is redone whatever the stamp says. */
  output: string;
  inputs: BuildInputs;
  /** The progress lines: 'Building the console (why)…', then 'Console built in 9.8 s'. */
  building: string;
  built: string;
  /** Runs the build; returns files of its inputs found only while building (e.g. what the server imports from elsewhere). */
  build: () => Promise<{ summary?: string; readFiles?: string[] }>;
}

class PrepareError extends Error {}

function readEnvFile(path: string): Record<string, string | undefined> {
  return existsSync(path) ? parseEnv(readFileSync(path, 'utf8')) : {};
}

/** The console: built by Vite from the working directory, as vite.config.ts expects (npm runs scripts in the package's folder). */
function consoleTarget(root: string): Target {
  const files = Object.fromEntries(VITE_ENV_FILES.map((file) => [file, readEnvFile(join(root, file))]));
  const settings = Object.fromEntries(CONSOLE_SETTINGS.map((name) => [name, { environment: process.env[name], files: VITE_ENV_FILES.map((file) => files[file]![name]) }]));
  return {
    name: 'console',
    root,
    stampFile: join(root, 'dist', 'console.build.json'),
    output: join(root, 'dist', 'console', 'index.html'),
    // Everything Vite reads that is ours: the console's folder (pages, sources, public files), its
    // config, the TypeScript settings it compiles with, and the lockfile for the packages it bundles.
    inputs: { dirs: ['console'], files: ['vite.config.ts', 'tsconfig.json', 'package.json', 'package-lock.json'], values: { [CONSOLE_SETTINGS.join(' and ')]: JSON.stringify(settings) } },
    building: 'Building the console',
    built: 'Console built',
    build: async () => {
      const { build } = await import('vite');
      await build({ configFile: join(root, 'vite.config.ts'), logLevel: 'warn', plugins: [progress()] });
      return {};
    },
  };
}

/** The server: compiled by scripts/build-server.ts from this repository into its dist/. */
function serverTarget(): Target {
  return {
    name: 'server',
    root: REPO,
    stampFile: join(REPO, 'dist', 'server.build.json'),
    output: join(REPO, 'dist', 'server', 'main.js'),
    inputs: { dirs: ['server', 'stripe-sandbox', 'supabase/migrations'], files: ['schema.graphql', 'tsconfig.json', 'package.json', 'package-lock.json', 'scripts/build-server.ts'] },
    building: 'Compiling the server',
    built: 'Server compiled',
    build: async () => {
      const { files, sources } = await buildServer(join(REPO, 'dist'));
      return { summary: `${files} files`, readFiles: sources };
    },
  };
}

/** Vite prints nothing at `warn` while it works: a module count, rewritten in place on a terminal and every 5 s otherwise. */
function progress(): Plugin {
  let modules = 0;
  let shownAt = Date.now();
  const tty = process.stdout.isTTY;
  return {
    name: 'payments-ops:progress',
    moduleParsed() {
      modules += 1;
      const now = Date.now();
      if (now - shownAt < (tty ? 200 : 5000)) return;
      shownAt = now;
      process.stdout.write(tty ? `\r  ${modules} modules…` : `  ${modules} modules…\n`);
    },
    buildEnd() {
      if (tty) process.stdout.write('\r\x1b[K');
    },
  };
}

/** The target's inputs now, including the single files its last build found it reads (kept in the stamp). */
function currentInputs(target: Target, previous: Record<string, string> | undefined, readFiles: string[] = []): Record<string, string> {
  const remembered = Object.keys(previous ?? {}).filter((path) => !path.startsWith('value:'));
  const outside = [...remembered, ...readFiles].filter((path) => !target.inputs.dirs.some((dir) => path.startsWith(`${dir}/`)));
  return fingerprint(target.root, { ...target.inputs, files: [...new Set([...target.inputs.files, ...outside])] });
}

async function prepare(target: Target, options: { force: boolean; production: boolean }): Promise<void> {
  const previous = readStamp(target.stampFile)?.inputs;
  const reason = options.force ? 'asked for' : !existsSync(target.output) ? 'no build yet' : staleReason(previous, currentInputs(target, previous));
  if (reason === null) return;
  if (options.production && !options.force) {
    if (!existsSync(target.output)) throw new PrepareError(`${target.output} is missing: run \`npm run build\` first (with NODE_ENV=production, npm start runs the build and never makes it)`);
    process.stdout.write(`Warning: the ${target.name} in dist/ is older than its sources (${reason}); run \`npm run build\` to rebuild it.\n`);
    return;
  }
  process.stdout.write(`${target.building} (${reason})…\n`);
  const started = performance.now();
  removeStamp(target.stampFile);
  const { summary, readFiles } = await target.build();
  writeStamp(target.stampFile, currentInputs(target, previous, readFiles));
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stdout.write(`${target.built} in ${seconds} s${summary ? ` (${summary})` : ''}.\n`);
}

async function main(argv: string[]): Promise<void> {
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

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`${error instanceof PrepareError ? '' : 'Build failed: '}${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
