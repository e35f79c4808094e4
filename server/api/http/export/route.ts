// GET /export/{payment-logs|orders|refunds}.csv?<the list's filters>: the filtered staff list as a CSV
// file, streamed. The caller is authenticated as /graphql does it (bearer token; staff only: 401
// without or with bad credentials, 403 for other roles), every parameter is checked before anything
// is read (400 naming it), and the rows are read one keyset batch at a time as the client takes them
// (the stream pulls a batch only when the last one was consumed), so memory holds one batch however
// many rows the export has. Before any row is sent an audit_log row records who exported what (the
// filters, rows 0, complete false), so a killed process or a stalled client still leaves a trace; if it
// cannot be written the export is refused (503) and nothing is sent. When the stream ends (read to the
// end, or the client went away) that row is updated with the number of rows sent and whether all were.
import type { Context } from 'hono';
import { authenticate, type AuthDeps } from '../../../auth/authenticate';
import { STAFF_ROLES, type Viewer } from '../../../auth/viewer';
import type { Db } from '../../../platform/db/db';
import type { ListKey } from '../../../platform/db/keysetList';
import { AppError, BadUserInputError, ForbiddenError, UnauthenticatedError } from '../../../platform/errors';
import type { Logger } from '../../../platform/observability/logger';
import type { AppEnv } from '../types';
import { csvRow } from './csv';
import { EXPORT_BATCH_SIZE, EXPORT_LISTS, type ExportList } from './lists';

export const EXPORT_PATH = '/export/:file';

export interface ExportRouteDeps {
  db: Db;
  auth: AuthDeps;
  logger: Logger;
  /** Rows per batch read; tests make it small to see several batches. */
  batchSize?: number;
}

const MAX_PARAM_LENGTH = 500;

async function staffViewer(deps: ExportRouteDeps, c: Context<AppEnv>): Promise<Viewer> {
  const viewer = await authenticate(deps.auth, { authorization: c.req.header('authorization'), apiKey: c.req.header('x-api-key') });
  if (viewer.role === 'ANONYMOUS') throw new UnauthenticatedError('Send the staff bearer token in the Authorization header');
  if (!STAFF_ROLES.includes(viewer.role)) throw new ForbiddenError(`Your role (${viewer.role.toLowerCase()}) may not export; allowed: support, admin`);
  return viewer;
}

/** The query's parameters, each given once, known to the list, and text PostgreSQL can hold. */
function readParams(list: ExportList, url: URL): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [name, value] of url.searchParams) {
    if (!list.params.includes(name)) {
      throw new BadUserInputError(`${list.name}.csv takes ${list.params.join(', ')}; not ${name.slice(0, 100)}`, { reason: 'UNKNOWN_PARAMETER', field: name.slice(0, 100) });
    }
    if (name in params) throw new BadUserInputError(`${name} is given more than once`, { reason: 'INVALID_FILTER', field: name });
    if (value.length > MAX_PARAM_LENGTH || /[\u0000\uFFFD]/.test(value)) {
      throw new BadUserInputError(`${name} must be text of at most ${MAX_PARAM_LENGTH} characters`, { reason: 'INVALID_FILTER', field: name });
    }
    if (value !== '') params[name] = value;
  }
  return params;
}

const errorResponse = (c: Context<AppEnv>, error: AppError) =>
  c.json({ error: error.code.toLowerCase(), code: error.code, message: error.message, ...(error.details?.field ? { field: error.details.field } : {}) }, error.httpStatus as 400);

export function exportRoute(deps: ExportRouteDeps) {
  const batchSize = deps.batchSize ?? EXPORT_BATCH_SIZE;
  return async (c: Context<AppEnv>) => {
    const file = c.req.param('file') ?? '';
    const list = file.endsWith('.csv') ? EXPORT_LISTS[file.slice(0, -4)] : undefined;
    if (!list || !Object.hasOwn(EXPORT_LISTS, file.slice(0, -4))) {
      return c.json({ error: 'not_found', message: `No export ${file.slice(0, 100)}: payment-logs.csv, orders.csv or refunds.csv` }, 404);
    }
    let viewer: Viewer;
    let params: Record<string, string>;
    let readBatch: ReturnType<ExportList['prepare']>;
    try {
      viewer = await staffViewer(deps, c);
      params = readParams(list, new URL(c.req.url));
      readBatch = list.prepare(params);
    } catch (error) {
      if (error instanceof AppError) return errorResponse(c, error);
      throw error;
    }
    const requestId = c.get('requestId');
    let auditId: string;
    try {
      auditId = await auditStart(deps.db, viewer, list, params, requestId);
    } catch (error) {
      // No audit row, no export: the rows hold customers' personal data.
      deps.logger.error({ err: error, list: list.name }, 'could not record a CSV export in the audit log; export refused');
      return c.json({ error: 'unavailable', code: 'UNAVAILABLE', message: 'The export cannot be recorded in the audit log right now; try again shortly' }, 503);
    }
    const body = csvStream({ list, readBatch, db: deps.db, batchSize, logger: deps.logger, audit: (rows, complete) => auditFinish(deps.db, auditId, params, rows, complete) });
    const stamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z').replaceAll(':', '-');
    return new Response(body, {
      headers: {
        'Content-Type': 'text/csv; charset=utf-8',
        'Content-Disposition': `attachment; filename="${list.name}-${stamp}.csv"`,
        'Cache-Control': 'no-store',
        'X-Request-Id': requestId,
      },
    });
  };
}

function csvStream(options: {
  list: ExportList;
  readBatch: ReturnType<ExportList['prepare']>;
  db: Db;
  batchSize: number;
  logger: Logger;
  audit: (rows: number, complete: boolean) => Promise<void>;
}): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let after: ListKey | null = null;
  let rows = 0;
  let started = false;
  let done = false;
  const finish = async (complete: boolean) => {
    if (done) return;
    done = true;
    try {
      await options.audit(rows, complete);
    } catch (error) {
      // The row written at the start stays (rows 0, complete false): the export is on record, its count is not.
      options.logger.error({ err: error, list: options.list.name, rows }, 'could not record a CSV export’s row count in the audit log');
    }
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          if (!started) {
            started = true;
            controller.enqueue(encoder.encode(csvRow(options.list.header)));
            return;
          }
          const batch = await options.readBatch(options.db, after, options.batchSize);
          if (done) return; // the client went away while the batch was read
          if (batch.rows.length > 0) controller.enqueue(encoder.encode(batch.rows.map(csvRow).join('')));
          rows += batch.rows.length;
          after = batch.next;
          if (after === null) {
            await finish(true);
            controller.close();
          }
        } catch (error) {
          // The status line is sent: the client sees the download cut short; the log says why.
          options.logger.error({ err: error, list: options.list.name, rows }, 'CSV export failed while streaming');
          await finish(false);
          controller.error(new Error('export failed'));
        }
      },
      async cancel() {
        await finish(false);
      },
    },
    // One chunk (a batch) ahead at most: the next batch is read only when the client has taken this one.
    { highWaterMark: 1 },
  );
}

/** The export's audit row, written before anything is sent: rows 0, complete false until auditFinish. */
async function auditStart(db: Db, viewer: Viewer, list: ExportList, filters: Record<string, string>, requestId: string): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    `insert into audit_log (actor_type, actor_id, action, target_type, target_id, details, request_id)
     values ('staff', $1, 'export.csv', 'export', $2, $3, $4)
     returning id::text as id`,
    [`staff:${viewer.id}`, list.name, { filters, rows: 0, complete: false }, requestId],
  );
  return rows[0]!.id;
}

async function auditFinish(db: Db, auditId: string, filters: Record<string, string>, rows: number, complete: boolean): Promise<void> {
  await db.query(`update audit_log set details = $2 where id = $1::bigint and action = 'export.csv'`, [auditId, { filters, rows, complete }]);
}
