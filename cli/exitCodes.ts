/** The one table from error codes to exit statuses (documented in docs/cli.md and README). */
import type { ErrorCode } from '../src/index.js';

export const EXIT = {
  OK: 0,
  INTERNAL: 1,
  USAGE: 2,
  PARTIAL: 3,
  INTEGRITY: 4,
  NOT_FOUND: 5,
  NO_REPOSITORY: 10,
  BUSY: 11,
  REFUSED: 12,
  INTERRUPTED: 130,
  /** SIGTERM: 128 + 15, what a shell reports for a process it ended. */
  TERMINATED: 143,
} as const;

export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case 'USAGE':
    case 'AMBIGUOUS_REF':
    case 'SOURCE_INVALID':
    case 'REPOSITORY_EXISTS':
      return EXIT.USAGE;
    case 'PARTIAL':
      return EXIT.PARTIAL;
    case 'INTEGRITY':
    case 'UNSAFE_PATH':
    case 'DATABASE':
      return EXIT.INTEGRITY;
    case 'NOT_FOUND':
      return EXIT.NOT_FOUND;
    case 'NO_REPOSITORY':
    case 'UNSUPPORTED_FORMAT':
      return EXIT.NO_REPOSITORY;
    case 'BUSY':
      return EXIT.BUSY;
    case 'REFUSED':
    case 'TARGET_NOT_EMPTY':
      return EXIT.REFUSED;
    case 'INTERRUPTED':
      return EXIT.INTERRUPTED;
    case 'COMMAND_FAILED':
    case 'IO':
    case 'INTERNAL':
      return EXIT.INTERNAL;
  }
}
