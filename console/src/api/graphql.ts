// One POST per operation to the server's GraphQL endpoint, with the staff bearer token. GraphQL errors
// become a GraphQLRequestError carrying extensions.code, so screens can say what went wrong in words;
// UNAUTHENTICATED (an expired or revoked token) also ends the session, which sends the user to sign-in.
// Each document is a generated TypedDocumentString (api/generated/graphql.ts): its result and variable
// types come from schema.graphql, so a screen cannot read a field its document did not ask for.
import { sessionStore } from '../auth/session';
import type { TypedDocumentString } from './generated/graphql';

export interface GraphQLErrorBody {
  message: string;
  extensions?: { code?: string; requestId?: string; reason?: string; [key: string]: unknown };
}

export class GraphQLRequestError extends Error {
  override name = 'GraphQLRequestError';
  constructor(
    message: string,
    readonly code: string | undefined,
    readonly status: number,
    readonly errors: GraphQLErrorBody[] = [],
  ) {
    super(message);
  }
  get requestId(): string | undefined {
    return this.errors.find((e) => e.extensions?.requestId)?.extensions?.requestId;
  }
}

export function graphqlUrl(): string {
  return new URL('/graphql', globalThis.location?.origin ?? 'http://localhost').toString();
}

export async function graphqlRequest<T, V>(document: TypedDocumentString<T, V>, variables?: V): Promise<T> {
  const token = sessionStore.token();
  const response = await fetch(graphqlUrl(), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query: document.toString(), variables }),
  });
  let body: { data?: T | null; errors?: GraphQLErrorBody[] };
  try {
    body = (await response.json()) as typeof body;
  } catch {
    throw new GraphQLRequestError(`The server answered ${response.status} without a readable body`, response.status === 401 ? 'UNAUTHENTICATED' : undefined, response.status);
  }
  const errors = body.errors ?? [];
  const code = errors.find((e) => e.extensions?.code)?.extensions?.code ?? (response.status === 401 ? 'UNAUTHENTICATED' : undefined);
  if (code === 'UNAUTHENTICATED' && token) sessionStore.expire();
  if (errors.length > 0) throw new GraphQLRequestError(errors.map((e) => e.message).join('; '), code, response.status, errors);
  if (!body.data) throw new GraphQLRequestError(`The server answered ${response.status} without data`, undefined, response.status);
  return body.data;
}

/** An error in words a person can act on; typed payload errors are handled where they occur. */
export function describeError(error: unknown): string {
  if (error instanceof GraphQLRequestError) {
    switch (error.code) {
      case 'UNAUTHENTICATED':
        return 'Your session has ended. Sign in again.';
      case 'FORBIDDEN':
        return 'Your role may not do this.';
      case 'BAD_USER_INPUT':
        return error.message;
      case 'CONFLICT':
        // The same press is still being worked on (a retry arrived before the first answer): not a clash.
        if (error.errors.some((e) => e.extensions?.reason === 'IDEMPOTENCY_KEY_IN_PROGRESS')) return 'This press is still being worked on. Wait a moment, then look again.';
        return `This was already done with other input: ${error.message}`;
      case 'INTERNAL':
        return `The server failed while answering${error.requestId ? ` (request id ${error.requestId})` : ''}. Try again; if it keeps failing, pass the request id to engineering.`;
      default:
        return error.message;
    }
  }
  if (error instanceof TypeError) return 'The server could not be reached. Check your connection and try again.';
  return error instanceof Error ? error.message : String(error);
}

/** A key for one button press: the server refuses a second effect for the same key. */
export function newIdempotencyKey(): string {
  return crypto.randomUUID();
}
