/**
 * The error hierarchy. Every error a user can cause is a CairnError with a
 * stable string `code`, a `hint` saying what to do, and structured `details`.
 * The CLI maps codes to exit statuses in one table (cli/exitCodes.ts).
 */
import { quoteName } from './util/quoteName.js';

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

/** A database could not be copied or failed its check (exit 4): nothing was stored as if it were good. */
export class DatabaseError extends CairnError {
  constructor(message: string, options?: CairnErrorOptions) {
    super('DATABASE', message, options);
  }
}

/** A command whose output was to be stored exited non-zero or was killed: no snapshot was made. */
export class CommandFailedError extends CairnError {
  constructor(message: string, options?: CairnErrorOptions) {
    super('COMMAND_FAILED', message, options);
  }
}

/** The operation was stopped on request (SIGINT/SIGTERM to the CLI, an aborted AbortSignal) before it finished. */
export class InterruptedError extends CairnError {
  constructor(message: string, options?: CairnErrorOptions) {
    super('INTERRUPTED', message, options);
  }
}

/** SQLite result codes that mean index.db (or a scratch database) is damaged, or is not cairn's. */
const SQLITE_DAMAGE = new Set(['SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_CORRUPT_INDEX', 'SQLITE_CORRUPT_SEQUENCE', 'SQLITE_CORRUPT_VTAB']);
/** SQLite result codes that mean the database file cannot be opened or written by this user. */
const SQLITE_ACCESS = new Set(['SQLITE_READONLY', 'SQLITE_CANTOPEN', 'SQLITE_PERM', 'SQLITE_AUTH', 'SQLITE_READONLY_DIRECTORY', 'SQLITE_READONLY_DBMOVED']);
/** Errno codes a user can act on (permissions, a path that is not what it should be), each with what to do. */
const ERRNO_HINTS: Record<string, string> = {
  EACCES: 'check the owner and permissions of that path (and of the repository), or run as a user who may write it',
  EPERM: 'check the owner and permissions of that path (and of the repository), or run as a user who may write it',
  EROFS: 'that file system is mounted read-only',
  ENOENT: 'check the path: it, or a directory on the way to it, does not exist (or cannot be made there)',
  ENOTDIR: 'a part of that path is a file where a directory is needed',
  EISDIR: 'that path is a directory where a file is needed',
  ENAMETOOLONG: 'that path or one of its names is longer than this file system allows',
  ENOSPC: 'free some space and run the command again; the repository is unchanged',
  EDQUOT: 'the disk quota is used up: free some space and run the command again',
};

/**
 * A thrown value that is not a CairnError, turned into one where its cause is the user's to fix: the index
 * database damaged (better-sqlite3's SqliteError codes: exit as damage, rebuild-index repairs it), not
 * accessible or not writable (a full or failing disk), a permission or path problem, a full disk. Undefined for anything else (a bug).
 */
export function explainError(err: unknown): CairnError | undefined {
  if (err instanceof CairnError || typeof err !== 'object' || err === null) return err instanceof CairnError ? err : undefined;
  const code = (err as { code?: unknown }).code;
  const message = (err as { message?: unknown }).message;
  if (typeof code !== 'string' || typeof message !== 'string') return undefined;
  const noSchema = code === 'SQLITE_ERROR' && /^no such (table|column|index)/.test(message);
  if (SQLITE_DAMAGE.has(code) || noSchema) {
    return new IntegrityError(`the repository's index (index.db) is damaged or not cairn's: ${message}`, {
      cause: err,
      hint: 'run `cairn rebuild-index`: it rebuilds index.db from the object store, where nothing is lost',
    });
  }
  // A full disk, or one failing, while SQLite wrote index.db or its -wal/-shm (extended codes: SQLITE_IOERR_WRITE,
  // _FSYNC, _SHMSIZE, ...; better-sqlite3 does not say which errno). SQLite has rolled the failed write back. (Scratch
  // and source databases wrap their own errors, naming their files.)
  if (code === 'SQLITE_FULL' || code.startsWith('SQLITE_IOERR')) {
    const full = code === 'SQLITE_FULL';
    const verb = code === 'SQLITE_IOERR_READ' || code === 'SQLITE_IOERR_SHORT_READ' ? 'read' : 'write';
    return new IoError(`${full ? 'no space left on device: ' : ''}cannot ${verb} the repository's index (index.db): ${message}${full ? '' : ` (${code})`}`, {
      cause: err,
      hint: full
        ? 'free some space on the repository\'s file system and run the command again'
        : 'the repository\'s file system is full or failing: check its free space (df) and the system log, then run the command again',
    });
  }
  if (SQLITE_ACCESS.has(code)) {
    return new IoError(`cannot ${code.startsWith('SQLITE_READONLY') ? 'write' : 'open'} the repository's index (index.db): ${message}`, {
      cause: err,
      hint: 'check that this user may read and write the repository directory and index.db (owner and permissions)',
    });
  }
  const hint = ERRNO_HINTS[code];
  if (hint === undefined) return undefined;
  const p = (err as { path?: unknown }).path;
  const what = code === 'ENOSPC' ? 'no space left on device' : message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '');
  return new IoError(`${what}${typeof p === 'string' ? `: ${quoteName(p)}` : ''}`, { cause: err, hint });
}
