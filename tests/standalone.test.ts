// A clone of this repository is all a user has: no code may read a file outside it (the Stripe spec
// tests once read ../shared/stripe-openapi/, and 62 tests failed in any other checkout). Every path
// our code builds from its own location (`new URL('…', import.meta.url)`) and every relative module
// it imports must resolve inside the repository.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
// Generated, installed or local-state folders: not code we write.
const SKIP = new Set(['node_modules', 'dist', 'coverage', 'screenshots']);
const CODE = /\.(?:ts|tsx|mts|cts|js|mjs|cjs)$/;

function codeFiles(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || SKIP.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) codeFiles(path, out);
    else if (CODE.test(entry.name)) out.push(path);
  }
  return out;
}

const URL_FROM_HERE = /new URL\(\s*(['"`])([^'"`$]*)\1\s*,\s*import\.meta\.url\s*\)/g;
const RELATIVE_MODULE = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\(\s*)(['"])(\.\.?\/[^'"]*)\1/g;

/** The places the code in `source`, living at `file`, points at, with the text that does it. */
function targets(file: string, source = readFileSync(file, 'utf8')): Array<{ text: string; path: string }> {
  const base = pathToFileURL(file);
  return [...source.matchAll(URL_FROM_HERE), ...source.matchAll(RELATIVE_MODULE)].map((m) => ({ text: m[0], path: fileURLToPath(new URL(m[2]!, base)) }));
}

const inside = (path: string) => path === ROOT || path === ROOT.replace(/[\\/]$/, '') || path.startsWith(ROOT.endsWith(sep) ? ROOT : ROOT + sep);

describe('the repository stands alone', () => {
  const files = codeFiles(ROOT);

  it('finds the code it checks, this file among it', () => {
    expect(files).toContain(fileURLToPath(import.meta.url));
    expect(files.some((f) => f.includes(`${sep}server${sep}`))).toBe(true);
    // The check itself sees paths that climb out (built from parts, so this file does not match).
    const up = '../../';
    const helper = join(ROOT, 'tests', 'helpers', 'example.ts');
    const climbing = [`new URL('${up}../shared/spec.json', import.meta.url)`, `import { x } from '${up}../elsewhere/x';`, `await import("${up}../elsewhere/y")`].join('\n');
    expect(targets(helper, climbing).map((t) => inside(t.path))).toEqual([false, false, false]);
    const staying = [`new URL('${up}schema.graphql', import.meta.url)`, `import { x } from '../sandbox/x';`].join('\n');
    expect(targets(helper, staying).map((t) => inside(t.path))).toEqual([true, true]);
  });

  it('builds no path from a file’s location that leaves the repository', () => {
    const outside = files.flatMap((file) => targets(file).filter((t) => !inside(t.path)).map((t) => `${relative(ROOT, file)}: ${t.text}`));
    expect(outside).toEqual([]);
  });

  it('names no ../shared folder beside the repository in code', () => {
    const naming = files.filter((file) => file !== fileURLToPath(import.meta.url) && /\.\.\/shared\/|\/shared\/stripe-openapi/.test(readFileSync(file, 'utf8')));
    expect(naming.map((f) => relative(ROOT, f))).toEqual([]);
  });
});
