/** Structured JSON logging (pino). Every call-scoped line carries `call` (our id) and leg Call-IDs. */
import { pino } from 'pino';
import type { Logger } from '../vocabulary/index.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export function createLogger(options: { level?: LogLevel; destination?: NodeJS.WritableStream } = {}): Logger {
  const level = options.level ?? 'info';
  const base = { name: 'b2bua-server' };
  const root = options.destination
    ? pino({ level, base, timestamp: pino.stdTimeFunctions.isoTime }, options.destination)
    : pino({ level, base, timestamp: pino.stdTimeFunctions.isoTime });
  return root;
}

/** A logger that drops everything (unit tests). */
export function silentLogger(): Logger {
  return createLogger({ level: 'silent' });
}
