// remindPaymentRequestMembers: each unpaid member (pending or failed) of an open or partially paid
// request gets a new pay token (its hash replaces the old one, so the earlier link stops working) and
// one payment_request_reminder Make delivery carrying the new link; Make sends the email. The tokens
// are made here; payment_request_remind applies them under the request's locks.
import type { Viewer } from '../auth/viewer';
import { runStaffAction } from '../idempotency/staffAction';
import { actorTypeOf, isUuid, mayRemind } from './access';
import { NOT_FOUND } from './cancel';
import { payUrlNotConfigured } from './create';
import type { PaymentRequestDeps } from './paymentRequests';
import { remindMembers } from './paymentRequests.sql';
import { findRequest, unpaidMemberIds } from './read.sql';
import type { PaymentRequestActionResult, PaymentRequestError } from './service';
import { newPayToken } from './tokens';

const NOT_CONFIGURED: PaymentRequestError = {
  code: 'REMINDERS_NOT_CONFIGURED',
  message: 'Reminders are not set up: there is no Make route for payment_request_reminder, so nothing would be sent. No member’s link was changed.',
};
const CLOSED: PaymentRequestError = { code: 'REQUEST_NOT_PAYABLE', message: 'The request is paid, canceled or expired: there is no one to remind.' };

interface RemindResponse {
  paymentRequestId: string;
  outcome: 'done' | 'refused';
  reminded: number;
  error?: PaymentRequestError;
}

export async function remindPaymentRequest(deps: PaymentRequestDeps, viewer: Viewer, id: string, idempotencyKey: string): Promise<PaymentRequestActionResult> {
  const payUrl = deps.payUrl;
  if (!payUrl) throw payUrlNotConfigured();
  const request = isUuid(id) ? await findRequest(deps.db, id) : null;
  if (!request || !mayRemind(viewer, request)) return { outcome: 'refused', isRepeat: false, request: null, error: NOT_FOUND };
  const actorType = actorTypeOf(viewer);
  const result = await runStaffAction<RemindResponse>(deps.db, {
    viewer,
    key: idempotencyKey,
    operation: 'remind_payment_request_members',
    canonicalInput: { id },
    actorType,
    logger: deps.logger,
    work: async () => {
      const members = (await unpaidMemberIds(deps.db, id)).map((memberId) => {
        const { token, hash } = newPayToken();
        return { id: memberId, token_hash: hash, pay_url: payUrl(token) };
      });
      // Customers read their share orders' payment logs: a staff member is 'staff' there.
      const answer = await remindMembers(deps.db, { id, actor_log: actorType === 'staff' ? 'staff' : `${actorType}:${viewer.id}`, members });
      if (answer.outcome === 'reminded') return { response: { paymentRequestId: id, outcome: 'done', reminded: answer.reminded }, keep: true };
      const error = answer.outcome === 'not_found' ? NOT_FOUND : answer.outcome === 'not_configured' ? NOT_CONFIGURED : CLOSED;
      return { response: { paymentRequestId: id, outcome: 'refused', reminded: 0, error }, keep: false };
    },
    audit: (response) => ({ action: 'payment_request.remind', targetType: 'payment_request', targetId: id, details: { reminded: response.reminded } }),
  });
  const now = await findRequest(deps.db, id);
  if (result.response.outcome === 'refused') return { outcome: 'refused', isRepeat: result.isRepeat, request: now, error: result.response.error ?? CLOSED };
  return { outcome: 'done', isRepeat: result.isRepeat, request: now!, reminded: result.response.reminded };
}
