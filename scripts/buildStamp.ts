// What a build was made from, so that `npm start` rebuilds only when that changed (scripts/prepare.ts).
//
// A stamp is a JSON file beside the build output (dist/<name>.build.json) holding the SHA-256 of every
// input file the build read, and of any setting baked in (e.g. the console's Supabase URL). Before a
// start, the inputs are hashed again and compared with it: equal, the build is current; a file added,
// removed or changed, or no stamp at all, and it is built again. A stamp is written only after its build
// succeeded and removed before a build starts, so an interrupted build is redone at the next start.
// Hashing the console's and the server's sources takes tens of milliseconds; a Vite build, seconds.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';

/** What a build reads: whole folders (every file in them, so a new file counts), single files, and settings. */
export interface BuildInputs {
  dirs: string[];
  files: string[];
  /** Values the build bakes in, by name; only their hashes are stored. */
  values?: Record<string, string>;
}

/** path (relative to the root, `/`-separated) or `value:<name>` → SHA-256 hex. A missing file is `missing`. */
export type Fingerprint = Record<string, string>;

interface Stamp {
  builtAt: string;
  inputs: Fingerprint;
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

function filesUnder(root: string, dir: string): string[] {
  const absolute = join(root, dir);
  if (!existsSync(absolute)) return [];
  return readdirSync(absolute, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(root, join(entry.parentPath, entry.name)).split(sep).join('/'));
}

export function fingerprint(root: string, inputs: BuildInputs): Fingerprint {
  const paths = new Set([...inputs.dirs.flatMap((dir) => filesUnder(root, dir)), ...inputs.files]);
  const result: Fingerprint = {};
  for (const path of [...paths].sort()) {
    const absolute = join(root, path);
    result[path] = existsSync(absolute) ? sha256(readFileSync(absolute)) : 'missing';
  }
  for (const [name, value] of Object.entries(inputs.values ?? {}).sort(([a], [b]) => a.localeCompare(b))) result[`value:${name}`] = sha256(value);
  return result;
}

export function readStamp(stampFile: string): Stamp | null {
  try {
    const stamp = JSON.parse(readFileSync(stampFile, 'utf8')) as Stamp;
    return stamp && typeof stamp.inputs === 'object' ? stamp : null;
  } catch {
    return null; // none yet, or unreadable: either way the build is redone
  }
}

export function writeStamp(stampFile: string, inputs: Fingerprint): void {
  mkdirSync(dirname(stampFile), { recursive: true });
  writeFileSync(stampFile, JSON.stringify({ builtAt: new Date().toISOString(), inputs } satisfies Stamp, null, 1) + '\n');
}

export function removeStamp(stampFile: string): void {
  rmSync(stampFile, { force: true });
}

/**
 * Why the build made from `previous` is out of date for `current`, in a few words for the progress
 * line ("console/src/App.tsx changed", "2 files added: …"), or null when it is current.
 */
export function staleReason(previous: Fingerprint | undefined, current: Fingerprint): string | null {
  if (!previous) return 'no build yet';
  const changed: string[] = [];
  const added: string[] = [];
  for (const [path, hash] of Object.entries(current)) {
    if (!(path in previous)) added.push(path);
    else if (previous[path] !== hash) changed.push(path);
  }
  const removed = Object.keys(previous).filter((path) => !(path in current));
  const parts = [describe(changed, 'changed'), describe(added, 'added'), describe(removed, 'removed')].filter((part) => part !== null);
  return parts.length === 0 ? null : parts.join('; ');
}

function describe(paths: string[], what: string): string | null {
  if (paths.length === 0) return null;
  const names = paths.map((path) => (path.startsWith('value:') ? path.slice('value:'.length) : path));
  const shown = names.slice(0, 2).join(', ');
  return names.length <= 2 ? `${shown} ${what}` : `${shown} and ${names.length - 2} more ${what}`;
}
