// What the API reads of reconciliation: runs and findings, one by id or a keyset page newest first
// (server/platform/db/keysetList.ts). Each list has an index serving its WHERE and ORDER BY
// (20261207000700_reconciliation.sql, 20261207000900_reconciliation_api.sql).
import type { Queryable } from '../platform/db/db';
import { keysetList, type ListKey, type ListPage, pageOf } from '../platform/db/keysetList';
import type { FindingKind, FindingRow, RunRow } from './reconcile.sql';
import type { ReconciliationStatus } from './service';

/** A run as listed: its row and its start in microseconds, the keyset of the list. */
export interface RunRecord extends RunRow {
  started_us: string;
}

/** A finding with everything the API shows of it, and its first sighting in microseconds (the keyset). */
export interface FindingRecord extends FindingRow {
  resolved_by: string | null;
  resolved_at: string | null;
  last_checked_at: string;
  next_check_at: string | null;
  details: Record<string, unknown>;
  first_seen_us: string;
}

/** The service's status under a name of its own: the schema's type of the same name is generated beside it. */
export type ReconciliationStatusView = ReconciliationStatus;

export type RunPage = ListPage<RunRecord>;
export type FindingPage = ListPage<FindingRecord>;

// Times as ISO 8601 text, as to_jsonb writes them (and as the service's rows have them), so both
// drivers (PGlite, node-postgres) hand back the same type.
const RUN_COLUMNS = `id, trigger, actor, status, to_jsonb(started_at) #>> '{}' as started_at, to_jsonb(finished_at) #>> '{}' as finished_at, counters, error,
       (extract(epoch from started_at) * 1000000)::bigint::text as started_us`;

const FINDING_COLUMNS = `id, kind, subject, stripe_object_id, stripe_status, amount::int as amount, currency, order_id, status, resolution,
       resolved_by, to_jsonb(resolved_at) #>> '{}' as resolved_at, to_jsonb(first_seen_at) #>> '{}' as first_seen_at, to_jsonb(last_checked_at) #>> '{}' as last_checked_at,
       checks, to_jsonb(next_check_at) #>> '{}' as next_check_at, details,
       (extract(epoch from first_seen_at) * 1000000)::bigint::text as first_seen_us`;

export async function findRun(db: Queryable, id: string): Promise<RunRecord | null> {
  const { rows } = await db.query<RunRecord>(`select ${RUN_COLUMNS} from reconciliation_runs where id = $1`, [id]);
  return rows[0] ?? null;
}

/** Runs newest first by (started_at desc, id desc). */
export async function listRuns(db: Queryable, options: { first: number; after?: ListKey | null }): Promise<RunPage> {
  const list = keysetList({ time: 'started_at', id: 'id', idType: 'uuid' });
  const { rows } = await db.query<RunRecord>(`select ${RUN_COLUMNS} from reconciliation_runs ${list.tail(options.after, options.first)}`, list.params);
  return pageOf(rows, options.first);
}

export async function findFinding(db: Queryable, id: string): Promise<FindingRecord | null> {
  const { rows } = await db.query<FindingRecord>(`select ${FINDING_COLUMNS} from reconciliation_findings where id = $1`, [id]);
  return rows[0] ?? null;
}

export interface FindingFilter {
  status?: FindingRow['status'] | null;
  kind?: FindingKind | null;
}

/** Findings newest first by (first_seen_at desc, id desc), only the conditions given. */
export async function listFindings(db: Queryable, options: { filter?: FindingFilter | null; first: number; after?: ListKey | null }): Promise<FindingPage> {
  const { filter, first, after } = options;
  const list = keysetList({ time: 'first_seen_at', id: 'id', idType: 'uuid' });
  if (filter?.status) list.where(`status = ${list.bind(filter.status)}`);
  if (filter?.kind) list.where(`kind = ${list.bind(filter.kind)}`);
  const { rows } = await db.query<FindingRecord>(`select ${FINDING_COLUMNS} from reconciliation_findings ${list.tail(after, first)}`, list.params);
  return pageOf(rows, first);
}

/** Open findings by kind (kinds with none left out), for reconciliationStatus. */
export async function openFindingsByKind(db: Queryable): Promise<Array<{ kind: FindingKind; count: number }>> {
  const { rows } = await db.query<{ kind: FindingKind; count: number }>(
    `select kind, count(*)::int as count from reconciliation_findings where status = 'open' group by kind order by kind`,
  );
  return rows;
}
