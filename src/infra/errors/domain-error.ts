/** The error categories a client sees as GraphQL `extensions.code` (CONTRACT.md section 6). */
export enum ErrorCode {
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  FORBIDDEN = 'FORBIDDEN',
  NOT_FOUND = 'NOT_FOUND',
  BAD_USER_INPUT = 'BAD_USER_INPUT',
  CONFLICT = 'CONFLICT',
  SERVER_NOT_VERIFIED = 'SERVER_NOT_VERIFIED',
  SENDER_NOT_VERIFIED = 'SENDER_NOT_VERIFIED',
  PROVIDER_AUTH_FAILED = 'PROVIDER_AUTH_FAILED',
  PROVIDER_UNREACHABLE = 'PROVIDER_UNREACHABLE',
  NO_ROUTE = 'NO_ROUTE',
  /** Beyond the contract's list: too many requests of one kind (extensions.retryAfterSeconds says when to retry). */
  RATE_LIMITED = 'RATE_LIMITED',
}

/**
 * Base of every error a service throws on purpose. The message is written for a person and is
 * shown to the client as is; anything that is not a DomainError is masked by the formatter.
 */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra `extensions` for the client (e.g. `fields` for BAD_USER_INPUT). */
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export class BadUserInputError extends DomainError {
  constructor(
    message: string,
    readonly fields: string[],
  ) {
    super(ErrorCode.BAD_USER_INPUT, message, { fields });
  }

  /** One offending field: `BadUserInputError.field('timezone', 'is not a valid IANA zone')`. */
  static field(path: string, problem: string): BadUserInputError {
    return new BadUserInputError(`${path} ${problem}`, [path]);
  }
}

export class NotFoundError extends DomainError {
  constructor(what: string, id: string) {
    super(ErrorCode.NOT_FOUND, `${what} ${id} was not found`);
  }
}

export class ForbiddenError extends DomainError {
  constructor(message = 'You are not allowed to do this') {
    super(ErrorCode.FORBIDDEN, message);
  }
}

export class UnauthenticatedError extends DomainError {
  constructor(message = 'A valid bearer token is required') {
    super(ErrorCode.UNAUTHENTICATED, message);
  }
}

export class ConflictError extends DomainError {
  constructor(message: string, fields?: string[]) {
    super(ErrorCode.CONFLICT, message, fields ? { fields } : {});
  }

  /** A conflict the input field at `path` is at fault for, named as BadUserInputError.field names it. */
  static field(path: string, problem: string): ConflictError {
    return new ConflictError(`${path} ${problem}`, [path]);
  }
}
