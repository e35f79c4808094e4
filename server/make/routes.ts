// Make routes every process agrees on (issue 24). The SQL enqueues a delivery only for a kind in
// make_routes, and the outbox posts it to the URL found there, whichever process runs it: with several
// processes on one database, the last to start used to replace the routes silently, so one process
// started with an old or missing MAKE_* variable re-routed (or stopped) every process's deliveries.
// Now a process whose routes differ from those the database holds refuses to start, unless it is
// told to replace them (MAKE_ROUTES_OVERWRITE=true, once).
import type { MakeKind } from '../config';
import type { Db, Queryable } from '../platform/db/db';
import { syncMakeRoutes } from './deliveries.sql';

export type MakeRoutes = Partial<Record<MakeKind, string>>;

/** first: the database held none; same: it held these; overwritten: it held others, replaced as asked. */
export type SeatOutcome = { outcome: 'first' | 'same' } | { outcome: 'overwritten'; kinds: MakeKind[] };

/** This process's Make routes differ from those another process wrote: it must not start. */
export class MakeRoutesDisagreeError extends Error {
  constructor(readonly kinds: MakeKind[], readonly variable: 'MAKE_WEBHOOK_URLS' | 'MAKE_ADD_PROJECT_WEBHOOK_URL') {
    // One line, naming the kinds and never a URL (a Make webhook URL is as good as a credential).
    super(
      `${variable} differs from the Make routes in the database (another process's) for ${kinds.join(', ')}: ` +
        'set the same MAKE_ADD_PROJECT_WEBHOOK_URL and MAKE_WEBHOOK_URLS in every process, or start one process once with MAKE_ROUTES_OVERWRITE=true to replace them',
    );
    this.name = 'MakeRoutesDisagreeError';
  }
}

/** A sandbox-mode process (no MAKE_* variables) on a database holding routes someone configured: it must not start. */
export class SandboxMakeRoutesError extends Error {
  constructor(readonly kinds: MakeKind[]) {
    // One line, naming the kinds and never a URL.
    super(
      `No MAKE_* variables are set (sandbox mode routes Make to this process's own sink), but the database holds configured Make routes for ${kinds.join(', ')}: ` +
        'set the same MAKE_ADD_PROJECT_WEBHOOK_URL and MAKE_WEBHOOK_URLS as the other processes, or give this process a database of its own',
    );
    this.name = 'SandboxMakeRoutesError';
  }
}

/**
 * Sandbox mode writes routes to its own sink, replacing what the database holds: allowed only when it
 * holds none or only other sandbox servers' sink routes, never over routes an operator configured.
 */
export async function checkSandboxMayRoute(db: Queryable, isSandboxRoute: (url: string) => boolean): Promise<void> {
  const stored = await readMakeRoutes(db);
  const configured = (Object.keys(stored) as MakeKind[]).filter((kind) => !isSandboxRoute(stored[kind]!)).sort();
  if (configured.length > 0) throw new SandboxMakeRoutesError(configured);
}

/** The kinds whose URL differs between the two (one side may have none). */
export function differingKinds(configured: MakeRoutes, stored: MakeRoutes): MakeKind[] {
  const kinds = new Set([...Object.keys(configured), ...Object.keys(stored)] as MakeKind[]);
  return [...kinds].filter((kind) => configured[kind] !== stored[kind]).sort();
}

export interface SeatOptions {
  /** MAKE_ROUTES_OVERWRITE: replace routes that differ instead of refusing. */
  overwrite: boolean;
  /**
   * Routes to sandbox mode's built-in sink were written by a sandbox-mode server on this machine (its
   * own URL, a new port each start): nobody configured them, so they never hold a process back.
   */
  isSandboxRoute?: (url: string) => boolean;
}

/**
 * Writes the configured routes when the database holds none (or only sandbox ones), or when told to
 * overwrite; checks they are the same otherwise. One transaction holding the table's lock, so two
 * processes starting at once with different routes cannot both see an empty table and both write.
 */
export async function seatMakeRoutes(db: Db, configured: MakeRoutes, options: SeatOptions): Promise<SeatOutcome> {
  return db.transaction(async (tx) => {
    await tx.query('lock table make_routes in share row exclusive mode');
    const stored = await readMakeRoutes(tx);
    const kinds = differingKinds(configured, stored);
    if (kinds.length === 0) return { outcome: 'same' };
    const storedUrls = Object.values(stored);
    if (storedUrls.length === 0 || storedUrls.every((url) => options.isSandboxRoute?.(url))) {
      await syncMakeRoutes(tx, configured);
      return { outcome: 'first' };
    }
    if (!options.overwrite) {
      throw new MakeRoutesDisagreeError(kinds, kinds.every((kind) => kind === 'add_project') ? 'MAKE_ADD_PROJECT_WEBHOOK_URL' : 'MAKE_WEBHOOK_URLS');
    }
    await syncMakeRoutes(tx, configured);
    return { outcome: 'overwritten', kinds };
  });
}

export async function readMakeRoutes(db: Queryable): Promise<MakeRoutes> {
  const { rows } = await db.query<{ kind: MakeKind; url: string }>('select kind, url from make_routes order by kind');
  return Object.fromEntries(rows.map((row) => [row.kind, row.url])) as MakeRoutes;
}
