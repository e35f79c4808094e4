// What staff may read of a delivery's payload, wherever they read it (the GraphQL API, payments-ops):
// the payload Make is sent, less the credentials in it.

/**
 * A reminder's pay_url is a member's live pay link (anyone holding it may pay the share, and it reads
 * the member's name and amount): Make needs it, staff reading deliveries do not.
 */
export function redactedPayload(delivery: { kind: string; payload: unknown }): unknown {
  if (delivery.kind !== 'payment_request_reminder') return delivery.payload;
  const payload = delivery.payload as { data?: { pay_url?: unknown } } | null;
  if (typeof payload?.data?.pay_url !== 'string') return payload;
  return { ...payload, data: { ...payload.data, pay_url: '[redacted]' } };
}
