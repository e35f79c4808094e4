// Who may do what with a request (the resolvers check roles too; the service is the last word):
// staff read every request, anyone else only their own (another's reads as not found). Cancel: the
// creator or an admin. Remind: the creator or staff.
import { STAFF_ROLES, type Viewer } from '../auth/viewer';
import { creatorOf, type PaymentRequestRow } from './service';

export const isStaff = (viewer: Viewer) => STAFF_ROLES.includes(viewer.role);

export const mayRead = (viewer: Viewer, request: Pick<PaymentRequestRow, 'created_by'>) =>
  isStaff(viewer) || (viewer.id !== null && request.created_by === creatorOf(viewer));

export const mayCancel = (viewer: Viewer, request: Pick<PaymentRequestRow, 'created_by'>) =>
  viewer.role === 'ADMIN' || (viewer.id !== null && request.created_by === creatorOf(viewer));

export const mayRemind = (viewer: Viewer, request: Pick<PaymentRequestRow, 'created_by'>) => mayRead(viewer, request);

/** The audit actor type of a viewer acting on a request it made or staffs. */
export const actorTypeOf = (viewer: Viewer): 'staff' | 'customer' | 'api_key' =>
  viewer.kind === 'api_key' ? 'api_key' : viewer.role === 'CUSTOMER' ? 'customer' : 'staff';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (value: string) => UUID.test(value);
