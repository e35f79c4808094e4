// The Make signing secret every process agrees on (issue 24): a process whose MAKE_SIGNING_SECRET
// differs from the one the others use (kept in the database as a fingerprint, never the secret) refuses
// to start with one line naming the variable and never its value; the same secret starts;
// MAKE_SIGNING_SECRET_OVERWRITE=true rotates it. Whole servers (startApp) on one database, as two
// processes on one PostgreSQL are; and the seating itself.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config';
import { startApp } from '../../server/compose';
import { MakeSigningSecretDisagreeError, seatMakeSigningSecret, signingSecretFingerprint } from '../../server/make/signingSecret';
import { createLogger } from '../../server/platform/observability/logger';
import { createTestDb, type TestDb } from '../helpers/db';
import { testConfig } from '../helpers/server';

const SECRET = 'make-signing-secret-first-0123456789';
const OTHER_SECRET = 'make-signing-secret-other-9876543210';
const ROUTE = { MAKE_ADD_PROJECT_WEBHOOK_URL: 'https://hook.eu1.make.com/add-project' };
const silent = createLogger({ level: 'silent' });

const stored = async (testDb: TestDb) => (await testDb.db.query<{ fingerprint: string }>('select fingerprint from make_signing_secret')).rows;

describe('MAKE_SIGNING_SECRET_OVERWRITE', () => {
  it('is false by default and takes true or false only', () => {
    expect(loadConfig({}).make.overwriteSigningSecret).toBe(false);
    expect(loadConfig({ MAKE_SIGNING_SECRET_OVERWRITE: 'true' }).make.overwriteSigningSecret).toBe(true);
    let message = '';
    try {
      loadConfig({ MAKE_SIGNING_SECRET_OVERWRITE: 'yes' });
    } catch (error) {
      if (error instanceof ConfigError) message = error.message;
    }
    expect(message).toBe('Invalid environment variable MAKE_SIGNING_SECRET_OVERWRITE: expected true or false');
  });
});

describe('seating the Make signing secret', () => {
  let testDb: TestDb;
  beforeAll(async () => {
    testDb = await createTestDb();
  });
  afterAll(() => testDb.close());

  it('keeps a fingerprint only: 64 hex characters, one per secret, holding nothing of it', async () => {
    expect(await seatMakeSigningSecret(testDb.db, SECRET, { overwrite: false })).toBe('first');
    const rows = await stored(testDb);
    expect(rows).toEqual([{ fingerprint: signingSecretFingerprint(SECRET) }]);
    expect(rows[0]!.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(rows[0]!.fingerprint).not.toContain(Buffer.from(SECRET).toString('hex').slice(0, 16));
    expect(signingSecretFingerprint(SECRET)).toBe(signingSecretFingerprint(SECRET));
    expect(signingSecretFingerprint(OTHER_SECRET)).not.toBe(signingSecretFingerprint(SECRET));
  });

  it('the same secret writes nothing; another is refused in one line naming the variable, never a value, and writes nothing', async () => {
    const before = (await testDb.db.query('select fingerprint, updated_at from make_signing_secret')).rows;
    expect(await seatMakeSigningSecret(testDb.db, SECRET, { overwrite: false })).toBe('same');
    expect((await testDb.db.query('select fingerprint, updated_at from make_signing_secret')).rows).toEqual(before);

    const error = (await seatMakeSigningSecret(testDb.db, OTHER_SECRET, { overwrite: false }).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(MakeSigningSecretDisagreeError);
    expect(error.message).toBe(
      "MAKE_SIGNING_SECRET differs from the Make signing secret in the database (another process's, kept as a fingerprint): set the same MAKE_SIGNING_SECRET in every process, or start one process once with MAKE_SIGNING_SECRET_OVERWRITE=true to replace it",
    );
    for (const value of [SECRET, OTHER_SECRET, signingSecretFingerprint(SECRET), signingSecretFingerprint(OTHER_SECRET)]) expect(error.message).not.toContain(value);
    expect((await testDb.db.query('select fingerprint, updated_at from make_signing_secret')).rows).toEqual(before);
  });

  it('MAKE_SIGNING_SECRET_OVERWRITE=true replaces it (a rotation), and then the old secret is refused', async () => {
    expect(await seatMakeSigningSecret(testDb.db, OTHER_SECRET, { overwrite: true })).toBe('overwritten');
    expect(await stored(testDb)).toEqual([{ fingerprint: signingSecretFingerprint(OTHER_SECRET) }]);
    await expect(seatMakeSigningSecret(testDb.db, SECRET, { overwrite: false })).rejects.toBeInstanceOf(MakeSigningSecretDisagreeError);
    expect(await seatMakeSigningSecret(testDb.db, OTHER_SECRET, { overwrite: true })).toBe('same');
  });

  it('two processes starting at once with different secrets: one seats its own, the other is refused', async () => {
    const own = await createTestDb();
    try {
      const outcomes = await Promise.allSettled([seatMakeSigningSecret(own.db, SECRET, { overwrite: false }), seatMakeSigningSecret(own.db, OTHER_SECRET, { overwrite: false })]);
      expect(outcomes.filter((o) => o.status === 'fulfilled').map((o) => (o as PromiseFulfilledResult<string>).value)).toEqual(['first']);
      expect(outcomes.filter((o) => o.status === 'rejected').map((o) => (o as PromiseRejectedResult).reason)).toEqual([expect.any(MakeSigningSecretDisagreeError)]);
      expect(await stored(own)).toHaveLength(1);
    } finally {
      await own.close();
    }
  });
});

describe('servers on one database and their Make signing secrets', () => {
  let testDb: TestDb;
  beforeAll(async () => {
    testDb = await createTestDb();
  });
  afterAll(() => testDb.close());

  const start = (env: Record<string, string>) => startApp(testConfig({ ...ROUTE, ...env }), silent, { db: testDb.db });

  it('the same secret: both start; another: refused before serving, writing nothing; the overwrite flag rotates it', { timeout: 240_000 }, async () => {
    const first = await start({ MAKE_SIGNING_SECRET: SECRET });
    const second = await start({ MAKE_SIGNING_SECRET: SECRET });
    await Promise.all([first.stop(), second.stop()]);
    expect(await stored(testDb)).toEqual([{ fingerprint: signingSecretFingerprint(SECRET) }]);

    const refused = (await start({ MAKE_SIGNING_SECRET: OTHER_SECRET }).catch((e: unknown) => e)) as Error;
    expect(refused).toBeInstanceOf(MakeSigningSecretDisagreeError);
    expect(refused.message).not.toContain(OTHER_SECRET);
    expect(refused.message).not.toContain('\n');
    expect(await stored(testDb)).toEqual([{ fingerprint: signingSecretFingerprint(SECRET) }]);

    const rotated = await start({ MAKE_SIGNING_SECRET: OTHER_SECRET, MAKE_SIGNING_SECRET_OVERWRITE: 'true' });
    await rotated.stop();
    expect(await stored(testDb)).toEqual([{ fingerprint: signingSecretFingerprint(OTHER_SECRET) }]);
    // Now a process still given the old secret is the one refused.
    await expect(start({ MAKE_SIGNING_SECRET: SECRET })).rejects.toBeInstanceOf(MakeSigningSecretDisagreeError);
  });
});
