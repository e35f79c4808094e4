// Payment requests split among members (issue 20): the types the GraphQL resolvers, the demo
// storefront, the console's API and the janitor share with the service (paymentRequests.ts and its
// SQL in migration 20261207001700_payment_requests.sql and later). docs/payment-requests.md.
//
// A request is a sum split into members' shares. Each share is backed by an order of its own
// (orders.payment_request_id), so its PaymentIntents are that order's payment_attempts (Stripe key
// member_share:<member id>:<attempt>) and the order path (webhook applier, order_apply_payment,
// refunds, disputes, janitor) applies to it unchanged. The member's pay token is random (32 bytes,
// base64url), given once, and stored as its sha256 only.

import type { Viewer } from '../auth/viewer';

export type PaymentRequestStatus = 'open' | 'partially_paid' | 'paid' | 'canceled' | 'expired';
export type MemberShareStatus = 'pending' | 'processing' | 'paid' | 'failed' | 'canceled' | 'refunded';

export interface PaymentRequestRow {
  id: string;
  title: string;
  /** The track (product id), or null for a free description. */
  product_id: string | null;
  product_name: string | null;
  description: string | null;
  currency: string;
  total: number;
  /** Sum of the shares paid or processing. */
  amount_paid: number;
  /** Sum refunded over every share. */
  amount_refunded: number;
  status: PaymentRequestStatus;
  members_count: number;
  members_paid: number;
  expires_at: string | null;
  /** staff:<user id> | customer:<user id> | api_key:<key id>. */
  created_by: string;
  created_by_name: string | null;
  metadata: Record<string, string>;
  completed_at: string | null;
  canceled_at: string | null;
  created_at: string;
  updated_at: string;
  /** Microseconds since the epoch of created_at, as text: the keyset cursor. */
  created_us: string;
}

export interface PaymentRequestMemberRow {
  id: string;
  payment_request_id: string;
  email: string;
  name: string | null;
  amount_pence: number;
  status: MemberShareStatus;
  payment_attempt_count: number;
  stripe_payment_intent_id: string | null;
  order_id: string;
  paid_at: string | null;
  amount_refunded: number;
  created_at: string;
  updated_at: string;
}

/** What the member's pay page shows. */
export interface MemberShareView {
  member_id: string;
  payment_request_id: string;
  title: string;
  description: string | null;
  track_name: string | null;
  /** The member's name, or email when none. */
  member_name: string;
  amount_pence: number;
  currency: string;
  status: MemberShareStatus;
  request_status: PaymentRequestStatus;
  expires_at: string | null;
}

export type PaymentRequestErrorCode =
  | 'PAYMENT_REQUEST_NOT_FOUND'
  | 'SHARE_NOT_FOUND'
  | 'SHARE_ALREADY_PAID'
  | 'SHARE_PROCESSING'
  | 'REQUEST_NOT_PAYABLE'
  | 'REQUEST_NOT_CANCELABLE'
  | 'PAYMENT_PROVIDER_UNAVAILABLE'
  | 'REMINDERS_NOT_CONFIGURED'
  | 'SHARE_REFUNDED';

export interface PaymentRequestError {
  code: PaymentRequestErrorCode;
  /** In words for people; never a secret or a stack. */
  message: string;
}

/** Validated input (the resolver and the storefront check shapes; the service checks the rules again in SQL). */
export interface CreatePaymentRequestInput {
  idempotencyKey: string;
  title: string;
  track: string | null;
  description: string | null;
  currency: string;
  members: Array<{ email: string; name: string | null; amount: number }>;
  /** Unix ms; null: no expiry. */
  expiresAt: number | null;
  metadata: Record<string, string>;
}

export interface MemberPayLink {
  memberId: string;
  email: string;
  /** PAYMENT_REQUEST_PAY_URL with the token. */
  payUrl: string;
}

export type CreatePaymentRequestResult =
  | { outcome: 'created'; isRepeat: false; request: PaymentRequestRow; payLinks: MemberPayLink[] }
  /** The same key and input again: the request, no links (tokens are kept only hashed). */
  | { outcome: 'created'; isRepeat: true; request: PaymentRequestRow; payLinks: [] }
  /** The key was used with other input or for another operation. */
  | { outcome: 'conflict'; operation: string };

export type PayMemberShareResult =
  | { outcome: 'pay'; isRepeat: boolean; share: MemberShareView; paymentIntentId: string; clientSecret: string }
  | { outcome: 'refused'; isRepeat: boolean; share: MemberShareView | null; error: PaymentRequestError }
  | { outcome: 'conflict'; operation: string };

export type PaymentRequestActionResult =
  | { outcome: 'done'; isRepeat: boolean; request: PaymentRequestRow; reminded?: number }
  | { outcome: 'refused'; isRepeat: boolean; request: PaymentRequestRow | null; error: PaymentRequestError }
  | { outcome: 'conflict'; operation: string };

export interface PaymentRequestListOptions {
  status?: PaymentRequestStatus | null;
  /** created_by to restrict to (a non-staff caller's own); null: all. */
  createdBy?: string | null;
  first: number;
  after?: { createdUs: string; id: string } | null;
}

export interface PaymentRequests {
  create(viewer: Viewer, input: CreatePaymentRequestInput): Promise<CreatePaymentRequestResult>;
  /** Option C: the member's open PaymentIntent while it can be paid, else a new one. */
  payShare(token: string, idempotencyKey: string): Promise<PayMemberShareResult>;
  cancel(viewer: Viewer, id: string, idempotencyKey: string): Promise<PaymentRequestActionResult>;
  remind(viewer: Viewer, id: string, idempotencyKey: string): Promise<PaymentRequestActionResult>;
  /** A request the viewer may read (creator or staff), else null. */
  find(viewer: Viewer, id: string): Promise<PaymentRequestRow | null>;
  list(viewer: Viewer, options: PaymentRequestListOptions): Promise<{ rows: PaymentRequestRow[]; hasNextPage: boolean }>;
  members(requestId: string): Promise<PaymentRequestMemberRow[]>;
  /** The share a token opens, or null (wrong or replaced token). */
  shareByToken(token: string): Promise<MemberShareView | null>;
  /** The janitor's step: expire requests past expires_at, cancelling their members' open PaymentIntents. */
  expireDue(now: Date): Promise<{ expired: number; canceledIntents: number }>;
}

/** The creator tag of a viewer: who may read, cancel and remind a request. */
export function creatorOf(viewer: Viewer): string {
  if (viewer.kind === 'api_key') return `api_key:${viewer.id}`;
  if (viewer.role === 'CUSTOMER') return `customer:${viewer.id}`;
  return `staff:${viewer.id}`;
}
