import pino, { type Logger } from 'pino';
import { escapeJsonUnsafe } from './jsonText.js';

export type { Logger };

/**
 * A pino logger writing JSON lines to stderr (never stdout, which carries --json output). Its lines name files and
 * sources: C1 and bidi controls in them are escaped as in `--json` (util/jsonText.ts), not written raw.
 */
export function createLogger(level: string = process.env.CAIRN_LOG_LEVEL ?? 'warn'): Logger {
  return pino({ level, base: { name: 'cairn' }, hooks: { streamWrite: escapeJsonUnsafe } }, pino.destination({ fd: 2, sync: true }));
}

export const silentLogger: Logger = pino({ level: 'silent' });
