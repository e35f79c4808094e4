// The two builds scripts/prepare.js runs when their sources changed (or always, for `npm run build`):
// the console by Vite into dist/console, the server by scripts/build-server.ts into dist/server.
// Loaded through tsx only when something is to be built, so that a start with nothing changed does not
// pay for registering tsx.
import { isAbsolute, join, relative, sep } from 'node:path';
import type { Plugin } from 'vite';
import { buildServer } from './build-server';

export interface Built {
  /** Said after the time in the progress line, e.g. "174 files". */
  summary?: string;
  /** Files of ours the build read, beyond the folders prepare.js hashes (e.g. what the server imports from console/). */
  readFiles?: string[];
}

/**
 * Vite, from `root` (the working directory: vite.config.ts reads its paths and .env files from there).
 * Returns every file of ours it bundled, so that one outside console/ (the console shares code with
 * the server) is hashed too.
 */
export async function buildConsole(root: string): Promise<Built> {
  const { build } = await import('vite');
  const read = new Set<string>();
  await build({ configFile: join(root, 'vite.config.ts'), logLevel: 'warn', plugins: [progress(), recordModules(root, read)] });
  return { readFiles: [...read] };
}

/** Collects the project's own files among the modules Vite parsed: not packages, not virtual modules. */
function recordModules(root: string, read: Set<string>): Plugin {
  return {
    name: 'payments-ops:record-modules',
    moduleParsed(info) {
      const file = info.id.split('?')[0]!;
      if (file.startsWith('\0') || !isAbsolute(file)) return;
      const path = relative(root, file);
      if (path.startsWith('..') || path.split(sep).includes('node_modules')) return;
      read.add(path.split(sep).join('/'));
    },
  };
}

export async function compileServer(outDir: string): Promise<Built> {
  const { files, sources } = await buildServer(outDir);
  return { summary: `${files} files`, readFiles: sources };
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
