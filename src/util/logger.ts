import pino, { type Logger } from 'pino';

export type { Logger };

/** A pino logger writing JSON lines to stderr (never stdout, which carries --json output). */
export function createLogger(level: string = process.env.CAIRN_LOG_LEVEL ?? 'warn'): Logger {
  return pino({ level, base: { name: 'cairn' } }, pino.destination({ fd: 2, sync: true }));
}

export const silentLogger: Logger = pino({ level: 'silent' });
