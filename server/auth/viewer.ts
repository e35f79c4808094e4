/** Who the caller is, as the access rules see it (the schema's Role, kept equal by a type test). */
export type Role = 'ANONYMOUS' | 'CUSTOMER' | 'STOREFRONT' | 'MAKE' | 'SUPPORT' | 'ADMIN';

/** The authenticated caller, as every resolver sees it. */
export interface Viewer {
  role: Role;
  /** Supabase Auth user id (staff, customers) or API key id (machine clients). */
  id: string | null;
  /** Email for people, key name for API keys. */
  name: string | null;
  /**
   * People only: their token vouches that they own the email in `name`. Only then may their sign-in
   * take over the guest customer with that email (and its orders).
   */
  emailVerified?: boolean;
  kind: 'anonymous' | 'user' | 'api_key';
}

/** What GraphQL's Viewer object is resolved from (its fields' parent). */
export type ViewerValue = Pick<Viewer, 'role' | 'id' | 'name'>;

export const ANONYMOUS_VIEWER: Viewer = Object.freeze({ role: 'ANONYMOUS', id: null, name: null, kind: 'anonymous' });

export const STAFF_ROLES: readonly Role[] = ['SUPPORT', 'ADMIN'];
