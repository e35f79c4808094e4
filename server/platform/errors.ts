// Our own errors: one AppError with a code and a few subclasses. The GraphQL edge maps them to
// `extensions.code` (server/api/graphql/errors.ts); anything that is not an AppError is INTERNAL and its
// details stay in the logs.

export type ErrorCode = 'UNAUTHENTICATED' | 'FORBIDDEN' | 'BAD_USER_INPUT' | 'CONFLICT' | 'NOT_FOUND' | 'INTERNAL' | 'SERVICE_UNAVAILABLE';

const HTTP_STATUS: Record<ErrorCode, number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  BAD_USER_INPUT: 400,
  CONFLICT: 409,
  NOT_FOUND: 404,
  INTERNAL: 500,
  // The database (or another part we depend on) is away for now: the same request may succeed later.
  SERVICE_UNAVAILABLE: 503,
};

export class AppError extends Error {
  override name = 'AppError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Safe, structured details for the client (field names, ids): never secrets. */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
  get httpStatus(): number {
    return HTTP_STATUS[this.code];
  }
}

export class UnauthenticatedError extends AppError {
  constructor(message = 'Authentication required: send a valid API key or bearer token') {
    super('UNAUTHENTICATED', message);
  }
}

export class ForbiddenError extends AppError {
  constructor(message = 'Your role may not do this') {
    super('FORBIDDEN', message);
  }
}

export class BadUserInputError extends AppError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('BAD_USER_INPUT', message, details);
  }
}

export class ConflictError extends AppError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('CONFLICT', message, details);
  }
}

export class NotFoundError extends AppError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('NOT_FOUND', message, details);
  }
}
