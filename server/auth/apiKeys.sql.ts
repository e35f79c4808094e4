import type { Queryable } from '../platform/db/db';

export type ApiKeyScope = 'storefront' | 'make';

export interface ApiKeyRow {
  id: string;
  name: string;
  scope: ApiKeyScope;
  prefix: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

const COLUMNS = 'id, name, scope, prefix, created_at, last_used_at, revoked_at';

export async function insertApiKey(db: Queryable, key: { name: string; scope: ApiKeyScope; prefix: string; hash: string }): Promise<ApiKeyRow> {
  const { rows } = await db.query<ApiKeyRow>(
    `insert into api_keys (name, scope, prefix, key_hash) values ($1, $2, $3, $4) returning ${COLUMNS}`,
    [key.name, key.scope, key.prefix, key.hash],
  );
  return rows[0]!;
}

/** The key with this hash if it exists and is not revoked; marks it used (at most once a minute). */
export async function findActiveApiKeyByHash(db: Queryable, hash: string): Promise<ApiKeyRow | undefined> {
  const { rows } = await db.query<ApiKeyRow>(`select ${COLUMNS} from api_keys where key_hash = $1 and revoked_at is null`, [hash]);
  const key = rows[0];
  if (key && (!key.last_used_at || Date.now() - key.last_used_at.getTime() > 60_000)) {
    await db.query('update api_keys set last_used_at = now() where id = $1', [key.id]);
  }
  return key;
}

export async function revokeApiKey(db: Queryable, id: string): Promise<ApiKeyRow | undefined> {
  const { rows } = await db.query<ApiKeyRow>(
    `update api_keys set revoked_at = coalesce(revoked_at, now()) where id = $1 returning ${COLUMNS}`,
    [id],
  );
  return rows[0];
}

export async function listApiKeys(db: Queryable): Promise<ApiKeyRow[]> {
  const { rows } = await db.query<ApiKeyRow>(`select ${COLUMNS} from api_keys order by created_at desc, id desc`);
  return rows;
}
