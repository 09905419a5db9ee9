/**
 * The error hierarchy. Every error a user can cause is a CairnError with a
 * stable string `code`, a `hint` saying what to do, and structured `details`.
 * The CLI maps codes to exit statuses in one table (cli/exitCodes.ts).
 */

export type ErrorCode =
  | 'USAGE'
  | 'NOT_FOUND'
  | 'AMBIGUOUS_REF'
  | 'NO_REPOSITORY'
  | 'REPOSITORY_EXISTS'
  | 'UNSUPPORTED_FORMAT'
  | 'INTEGRITY'
  | 'BUSY'
  | 'REFUSED'
  | 'TARGET_NOT_EMPTY'
  | 'UNSAFE_PATH'
  | 'SOURCE_INVALID'
  | 'PARTIAL'
  | 'IO'
  | 'COMMAND_FAILED'
  | 'DATABASE'
  | 'INTERRUPTED'
  | 'INTERNAL';

export interface CairnErrorOptions {
  hint?: string;
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class CairnError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: CairnErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
    this.details = options.details ?? {};
  }

  toJSON(): Record<string, unknown> {
    return {
      error: this.code,
      message: this.message,
      ...(this.hint ? { hint: this.hint } : {}),
      ...(Object.keys(this.details).length ? { details: this.details } : {}),
    };
  }
}

export class UsageError extends CairnError {
  constructor(message: string, options?: CairnErrorOptions) {
    super('USAGE', message, options);
  }
}

export class NotFoundError extends CairnError {
  constructor(message: string, options?: CairnErrorOptions) {
    super('NOT_FOUND', message, options);
  }
}

export class AmbiguousRefError extends CairnError {
  constructor(message: string, options?: CairnErrorOptions) {
    super('AMBIGUOUS_REF', message, options);
  }
}

export class NoRepositoryError extends CairnError {
  constructor(message: string, options?: CairnErrorOptions) {
    super('NO_REPOSITORY', message, options);
  }
}

export class UnsupportedFormatError extends CairnError {
  constructor(message: string, options?: CairnErrorOptions) {
    super('UNSUPPORTED_FORMAT', message, options);
  }
}

/** A stored object failed its hash check, or is missing, truncated or unparsable. */
export class IntegrityError extends CairnError {
  constructor(message: string, options?: CairnErrorOptions) {
    super('INTEGRITY', message, options);
  }
}

export class BusyError extends CairnError {
  constructor(message: string, options?: CairnErrorOptions) {
    super('BUSY', message, options);
  }
}

export class RefusedError extends CairnError {
  constructor(message: string, options?: CairnErrorOptions) {
    super('REFUSED', message, options);
  }
}

export class UnsafePathError extends CairnError {
  constructor(message: string, options?: CairnErrorOptions) {
    super('UNSAFE_PATH', message, options);
  }
}

export class SourceError extends CairnError {
  constructor(message: string, options?: CairnErrorOptions) {
    super('SOURCE_INVALID', message, options);
  }
}

export class IoError extends CairnError {
  constructor(message: string, options?: CairnErrorOptions) {
    super('IO', message, options);
  }
}

/** True for a Node system error with the given errno code. */
export function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

/** Short human text of any thrown value, for warnings. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' && !(err instanceof CairnError) && !err.message.startsWith(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
