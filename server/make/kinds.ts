// The kinds of event forwarded to Make.com, each to its own scenario (a webhook URL per kind). The
// SQL side has the same list in the check constraints of 20261122000600_make_outbox.sql.
export const MAKE_KINDS = ['add_project', 'payment_failed', 'refund_completed', 'dispute_opened', 'subscription_changed'] as const;

export type MakeKind = (typeof MAKE_KINDS)[number];

export const isMakeKind = (value: string): value is MakeKind => (MAKE_KINDS as readonly string[]).includes(value);

/**
 * The signing secret of sandbox mode, when none is configured: the built-in sink checks signatures
 * with it. Not a secret (it is in the source); never used outside sandbox mode.
 */
export const SANDBOX_MAKE_SIGNING_SECRET = 'make-sandbox-signing-secret-not-for-production';
