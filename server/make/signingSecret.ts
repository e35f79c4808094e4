// The Make signing secret every process agrees on (issue 24). Deliveries are signed by whichever
// process posts them, and a Make scenario checks them against one secret: a process started with
// another MAKE_SIGNING_SECRET would have its deliveries refused, some of the time, with nothing in the
// logs to say why. At start a process compares its secret with the one the others use, by a
// fingerprint kept in the database beside the Make routes (never the secret itself), and refuses to
// start when they differ, as it does for the routes (server/make/routes.ts).
import { createHmac } from 'node:crypto';
import type { Db } from '../platform/db/db';

/** What the fingerprint is an HMAC of: fixed, so that one secret always gives one fingerprint. */
const FINGERPRINT_LABEL = 'payments-ops: Make signing secret fingerprint, v1';

/** HMAC-SHA256 of a fixed label keyed with the secret: tells two secrets apart, gives neither away. */
export function signingSecretFingerprint(secret: string): string {
  return createHmac('sha256', secret).update(FINGERPRINT_LABEL).digest('hex');
}

/** This process's MAKE_SIGNING_SECRET differs from the one the other processes use: it must not start. */
export class MakeSigningSecretDisagreeError extends Error {
  constructor() {
    // One line, naming the variable and never its value (nor the fingerprint).
    super(
      "MAKE_SIGNING_SECRET differs from the Make signing secret in the database (another process's, kept as a fingerprint): " +
        'set the same MAKE_SIGNING_SECRET in every process, or start one process once with MAKE_SIGNING_SECRET_OVERWRITE=true to replace it',
    );
    this.name = 'MakeSigningSecretDisagreeError';
  }
}

/**
 * Writes the secret's fingerprint when the database holds none, or when told to overwrite (a
 * rotation); checks it is the same otherwise. One transaction holding the table's lock, so two
 * processes starting at once with different secrets cannot both see none and both write.
 */
export async function seatMakeSigningSecret(db: Db, secret: string, options: { overwrite: boolean }): Promise<'first' | 'same' | 'overwritten'> {
  const fingerprint = signingSecretFingerprint(secret);
  return db.transaction(async (tx) => {
    await tx.query('lock table make_signing_secret in share row exclusive mode');
    const { rows } = await tx.query<{ fingerprint: string }>('select fingerprint from make_signing_secret');
    const stored = rows[0]?.fingerprint;
    if (stored === fingerprint) return 'same';
    if (stored !== undefined && !options.overwrite) throw new MakeSigningSecretDisagreeError();
    await tx.query(
      `insert into make_signing_secret (id, fingerprint, updated_at) values (true, $1, now())
       on conflict (id) do update set fingerprint = excluded.fingerprint, updated_at = excluded.updated_at`,
      [fingerprint],
    );
    return stored === undefined ? 'first' : 'overwritten';
  });
}
