// Compiles the server to plain JavaScript in dist/, so that it runs as `node dist/server/main.js`
// without tsx (no TypeScript compiler in the image, no compile at each start). scripts/prepare.js runs
// it: `npm run build:server` and `npm run build` always, `npm start` when the server's sources changed.
//
// Why esbuild file by file and not `tsc` or one bundle: the sources import each other without
// extensions (`moduleResolution: bundler`), which Node's ESM loader refuses, so tsc's output would not
// run; and one bundle would move every module to dist/server/main.js, breaking the two files that find
// data relative to their own place (server/platform/db/migrate.ts reads ../../../supabase/migrations,
// server/api/graphql/server.ts reads ../../../schema.graphql). So each source file the server reaches
// becomes one .js file at the same place under dist/, its relative imports rewritten to those .js
// files, packages left as imports of node_modules; and schema.graphql and supabase/migrations are
// copied to dist/ where those two files look for them. dist/ is then whole: with the production
// dependencies and package.json (for "type": "module") it runs anywhere (the Dockerfile copies it).
// A file of ours outside server/ and stripe-sandbox/ that the server imports (say, a helper shared with
// the console) is inlined into its importer instead, with what it imports: written to dist/console/…
// it would land in the console build's folder, which Vite empties at every console build.
//
// esbuild is what tsx and vite already use (a dependency of both), so this adds no package. It strips
// types without checking them: `npm run typecheck` is the check.
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'dist');
/** The server, and the operator's CLI (docs/cli.md) so that a container can run it: `node dist/server/cli/main.js`. */
const ENTRIES = ['server/main.ts', 'server/cli/main.ts'];
/** What the build writes, and so what it removes first: dist/console is the console build's. */
const OUTPUTS = ['server', 'stripe-sandbox', 'schema.graphql', 'supabase'];
/** The folders whose files become files of their own under dist/; others the server imports are inlined. */
const OWN = ['server/', 'stripe-sandbox/'];
/** Read at run time relative to the compiled files (see above). */
const DATA = ['schema.graphql', 'supabase/migrations'];
const SOURCE = /\.(ts|tsx|mts)$/;

export class BuildError extends Error {
  override name = 'BuildError';
}

/** Every file of ours the entries reach (imports followed, packages not): esbuild's own resolution. */
async function reachableSources(): Promise<string[]> {
  const result = await build({ absWorkingDir: ROOT, entryPoints: ENTRIES, outdir: OUT, bundle: true, packages: 'external', platform: 'node', format: 'esm', write: false, metafile: true, logLevel: 'silent' });
  return Object.keys(result.metafile.inputs).filter((file) => SOURCE.test(file));
}

const isOwn = (file: string) => OWN.some((folder) => file.split(sep).join('/').startsWith(folder));

/** Relative imports stay imports, of the sibling .js file the same build writes; JSON is inlined. */
const relativeImportsToJs: Plugin = {
  name: 'relative-imports-to-js',
  setup(plugin) {
    plugin.onResolve({ filter: /^\.\.?\// }, async (args) => {
      if (args.pluginData === 'resolving') return undefined;
      const resolved = await plugin.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: 'resolving' });
      if (resolved.errors.length > 0) return { errors: resolved.errors };
      if (!SOURCE.test(resolved.path)) return undefined; // JSON and the like: bundled into the importer
      if (!isOwn(relative(ROOT, resolved.path))) return undefined; // a file from elsewhere: inlined (see above)
      // What an inlined file imports is inlined with it: a path relative to it would be wrong in its importer's output.
      if (args.importer && !isOwn(relative(ROOT, args.importer))) return undefined;
      if (args.kind === 'entry-point') return undefined;
      let target = relative(dirname(args.importer), resolved.path).replace(SOURCE, '.js').split(sep).join('/');
      if (!target.startsWith('.')) target = `./${target}`;
      return { path: target, external: true };
    });
  },
};

/**
 * Compiles into `outDir` (dist/ by default; a test builds into a directory of its own under dist/,
 * where Node still finds node_modules and package.json by walking up).
 */
export async function buildServer(outDir: string = OUT): Promise<{ files: number; sources: string[] }> {
  const sources = await reachableSources();
  const outside = sources.filter((file) => file.startsWith('..'));
  if (outside.length > 0) throw new BuildError(`the server imports files outside the repository: ${outside.join(', ')}`);
  for (const output of OUTPUTS) rmSync(join(outDir, output), { recursive: true, force: true });
  await build({
    absWorkingDir: ROOT,
    entryPoints: sources.filter(isOwn),
    outdir: outDir,
    outbase: '.',
    bundle: true, // only so that the plugin sees every import; each file still imports the others
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked', // stack traces in logs and Sentry point at the TypeScript lines
    plugins: [relativeImportsToJs],
    logLevel: 'warning',
  });
  for (const data of DATA) {
    mkdirSync(dirname(join(outDir, data)), { recursive: true });
    cpSync(join(ROOT, data), join(outDir, data), { recursive: true });
  }
  return { files: sources.filter(isOwn).length, sources };
}
