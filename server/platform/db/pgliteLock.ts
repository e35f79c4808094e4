// One process at a time on a PGlite directory. PGlite is Postgres in WASM with no postmaster: two
// processes opening the same directory (the server, and `payments-ops` at a terminal beside it) each
// write its files as if alone and corrupt it. Its own postmaster.pid holds a fixed fake pid (-42), so
// it cannot tell. This lock file holds the pid of the process that has the directory open; a process
// finding a live pid there refuses to open it, one finding a dead pid (a crash, SIGKILL) takes it over.
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';

export const PGLITE_LOCK_FILE = 'payments-ops.lock';

/** Another live process has the PGlite directory open: nothing was opened. */
export class PgliteLockedError extends Error {
  override name = 'PgliteLockedError';
  constructor(
    readonly dataDir: string,
    readonly pid: number,
    readonly holder: string,
  ) {
    super(
      `The PGlite directory ${dataDir} is in use by process ${pid} (${holder}): a payments-ops server is running on it. ` +
        'Stop that process first, or use the running server (the console or the GraphQL API); PGlite allows one process per directory.',
    );
  }
}

export interface PgliteLock {
  release: () => void;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user; alive all the same.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readHolder(file: string): { pid: number; holder: string } | null {
  try {
    const [pid, holder] = readFileSync(file, 'utf8').split('\n');
    const parsed = Number(pid);
    return Number.isSafeInteger(parsed) && parsed > 0 ? { pid: parsed, holder: holder?.trim() || 'unknown' } : null;
  } catch {
    return null;
  }
}

/** What this process is, for the message another process shows: `server/main.ts`, `payments-ops`. */
function describeSelf(): string {
  return process.argv[1] ? basename(process.argv[1]) : 'node';
}

/**
 * Takes the directory's lock for this process, or throws PgliteLockedError naming the live process
 * that holds it. The lock is released by `release()` and, failing that, when this process exits.
 */
export function lockPgliteDir(dataDir: string): PgliteLock {
  const file = join(dataDir, PGLITE_LOCK_FILE);
  for (let tries = 0; ; tries++) {
    let fd: number;
    try {
      // 'wx': created only if absent, so two processes starting together cannot both take it.
      fd = openSync(file, 'wx');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || tries > 2) throw error;
      const held = readHolder(file);
      if (held && held.pid !== process.pid && isAlive(held.pid)) throw new PgliteLockedError(dataDir, held.pid, held.holder);
      // Left by a process that is gone (or by this one): taken over.
      rmSync(file, { force: true });
      continue;
    }
    writeSync(fd, `${process.pid}\n${describeSelf()}\n`);
    closeSync(fd);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      process.off('exit', release);
      // Only our own: a later process may have taken over a lock we were too slow to give back.
      if (readHolder(file)?.pid === process.pid) rmSync(file, { force: true });
    };
    process.on('exit', release);
    return { release };
  }
}
