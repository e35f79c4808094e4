// `npm run apikey`: create, list and revoke API keys against a real database, through the same
// function the command line calls.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey, verifyApiKey } from '../../server/auth/apiKeys';
import { runApiKeyCommand, USAGE } from '../../server/cli/apikey';
import type { Db } from '../../server/platform/db/db';
import { createTestDb, type TestDb } from '../helpers/db';

let testDb: TestDb;
let db: Db;

beforeAll(async () => {
  testDb = await createTestDb();
  db = testDb.db;
});

afterAll(async () => {
  await testDb?.close();
});

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runApiKeyCommand(db, argv, { out: (line) => out.push(line), err: (line) => err.push(line) });
  return { code, out, err, stdout: out.join('\n') };
}

async function create(name: string, scope: string) {
  const result = await run('create', '--name', name, '--scope', scope);
  expect(result.code).toBe(0);
  const key = /^\s*key\s+(pok_\S+)$/m.exec(result.stdout)?.[1];
  const id = /^\s*id\s+(\S+)$/m.exec(result.stdout)?.[1];
  expect(key).toBeDefined();
  expect(id).toBeDefined();
  return { ...result, key: key!, id: id! };
}

const keyCount = async () => (await db.query<{ n: number }>('select count(*)::int as n from api_keys')).rows[0]!.n;

describe('apikey create', () => {
  it('prints a new key once, with its id and scope, and the key authenticates', async () => {
    const created = await create('Main storefront', 'storefront');

    expect(created.stdout).toContain('scope  storefront');
    expect(created.stdout).toMatch(/shown only this once/);
    expect(created.err).toEqual([]);
    const verified = await verifyApiKey(db, created.key);
    expect(verified).toMatchObject({ id: created.id, name: 'Main storefront', scope: 'storefront', revoked_at: null });
  });

  it('creates a Make key with the make scope', async () => {
    const created = await create('Make add_project', 'make');
    expect(created.key).toMatch(/^pok_make_/);
    expect(await verifyApiKey(db, created.key)).toMatchObject({ id: created.id, scope: 'make' });
  });

  it('stores only the hash of the key, never the key itself', async () => {
    const created = await create('Hash check', 'storefront');
    const { rows } = await db.query<Record<string, unknown>>('select * from api_keys where id = $1', [created.id]);
    expect(rows[0]!.key_hash).toBe(hashApiKey(created.key));
    expect(JSON.stringify(rows[0])).not.toContain(created.key);
  });
});

describe('apikey list', () => {
  it('shows id, name, scope, prefix and dates of every key, but no key and no hash', async () => {
    const created = await create('Listed storefront', 'storefront');
    await verifyApiKey(db, created.key); // marks it used

    const listed = await run('list');

    expect(listed.code).toBe(0);
    expect(listed.out[0]).toMatch(/^ID\s+NAME\s+SCOPE\s+PREFIX\s+CREATED\s+LAST USED\s+REVOKED$/);
    const line = listed.out.find((l) => l.startsWith(created.id));
    expect(line).toBeDefined();
    expect(line).toContain('Listed storefront');
    expect(line).toContain(`${created.key.slice(0, 'pok_storefront_'.length + 4)}…`);
    expect(line).toMatch(/\d{4}-\d{2}-\d{2}T[\d:.]+Z\s+\d{4}-\d{2}-\d{2}T[\d:.]+Z\s+-$/);
    expect(listed.stdout).not.toContain(created.key);
    const { rows } = await db.query<{ key_hash: string }>('select key_hash from api_keys');
    for (const { key_hash } of rows) expect(listed.stdout).not.toContain(key_hash);
  });
});

describe('apikey revoke', () => {
  it('revokes a key, after which it no longer authenticates and the list shows when', async () => {
    const created = await create('To revoke', 'storefront');
    expect(await verifyApiKey(db, created.key)).toBeDefined();

    const revoked = await run('revoke', created.id);

    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toMatch(new RegExp(`Revoked API key ${created.id}`));
    expect(await verifyApiKey(db, created.key)).toBeUndefined();
    const line = (await run('list')).out.find((l) => l.startsWith(created.id));
    expect(line).toMatch(/\d{4}-\d{2}-\d{2}T[\d:.]+Z$/);
  });

  it('says so when the key was already revoked, keeping the first revocation time', async () => {
    const created = await create('Revoked twice', 'make');
    await run('revoke', created.id);
    const first = await db.query('select revoked_at from api_keys where id = $1', [created.id]);

    const again = await run('revoke', created.id);

    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/already revoked/);
    expect((await db.query('select revoked_at from api_keys where id = $1', [created.id])).rows).toEqual(first.rows);
  });

  it('fails with exit code 1 for an id no key has, changing nothing', async () => {
    const before = await db.query('select id, revoked_at from api_keys order by id');
    const result = await run('revoke', '00000000-0000-4000-8000-000000000000');
    expect(result.code).toBe(1);
    expect(result.err).toEqual(['apikey: no API key with id 00000000-0000-4000-8000-000000000000']);
    expect((await db.query('select id, revoked_at from api_keys order by id')).rows).toEqual(before.rows);
  });
});

describe('bad arguments', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['an unknown scope', ['create', '--name', 'Bad scope', '--scope', 'admin'], /unknown scope "admin": expected storefront or make/],
    ['a missing name', ['create', '--scope', 'storefront'], /create needs --name <name>/],
    ['a blank name', ['create', '--name', '   ', '--scope', 'storefront'], /create needs --name <name>/],
    ['a name over 100 characters', ['create', '--name', 'n'.repeat(101), '--scope', 'storefront'], /--name must be at most 100 characters/],
    ['a missing scope', ['create', '--name', 'No scope'], /create needs --scope storefront\|make/],
    ['an option without its value', ['create', '--name'], /--name/],
    ['an unknown option', ['list', '--all'], /--all/],
    ['an unknown command', ['delete', 'x'], /unknown command "delete"/],
    ['no command', [], /a command is required/],
    ['revoke without an id', ['revoke'], /revoke needs the id/],
    ['revoke with something that is not an id', ['revoke', "1; drop table api_keys"], /is not a key id/],
    ['an extra argument', ['list', 'everything'], /unexpected argument "everything" for list/],
  ];

  it.each(cases)('refuses %s with one usage line, exit code 2 and no change', async (_label, argv, message) => {
    const before = await keyCount();
    const revokedBefore = await db.query('select id from api_keys where revoked_at is not null order by id');

    const result = await run(...argv);

    expect(result.code).toBe(2);
    expect(result.out).toEqual([]);
    expect(result.err).toHaveLength(1);
    expect(result.err[0]).toMatch(message);
    expect(result.err[0]).toContain(USAGE);
    expect(result.err[0]).not.toContain('\n');
    expect(await keyCount()).toBe(before);
    expect((await db.query('select id from api_keys where revoked_at is not null order by id')).rows).toEqual(revokedBefore.rows);
  });

  it('prints the usage with --help and exits 0', async () => {
    const result = await run('--help');
    expect(result).toMatchObject({ code: 0, out: [USAGE], err: [] });
  });
});
