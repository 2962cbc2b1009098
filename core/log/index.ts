/** Structured JSON logging (pino). Every call-scoped line carries `call` (our id) and leg Call-IDs. */
import { pino } from 'pino';
import type { Logger } from '../vocabulary/index.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** Bytes buffered before a write to standard output (pino's synchronous default cost ~20 % of the daemon's CPU). */
const BATCH_BYTES = 4096;
/** A line waits at most this long for the batch to fill (readers of the log, tests among them, see it soon). */
const BATCH_MS = 100;

interface AsyncDestination { write(line: string): boolean; flush(): void; flushSync(): void }
const buffered = new Set<AsyncDestination>();

/** Writes out every line still buffered, synchronously: before the process exits and where a reader waits for a line. */
export function flushLogsSync(): void {
  for (const d of buffered) {
    try {
      d.flushSync();
    } catch {
      /* the reader is gone: nothing to save */
    }
  }
}

/**
 * Standard output, asynchronous and batched (sonic-boom), flushed BATCH_MS after the first line of a batch; at
 * process exit pino's destination flushes itself synchronously (test/unit/log/exit-flush.test.ts).
 */
function batchedStdout(): AsyncDestination {
  const out = pino.destination({ dest: 1, sync: false, minLength: BATCH_BYTES });
  let timer: NodeJS.Timeout | undefined;
  const flushNow = (): void => {
    timer = undefined;
    out.flush();
  };
  return {
    write: (line) => {
      timer ??= setTimeout(flushNow, BATCH_MS).unref();
      return out.write(line);
    },
    flush: () => out.flush(),
    flushSync: () => {
      clearTimeout(timer);
      timer = undefined;
      out.flushSync();
    },
  };
}

/**
 * Without `destination`: standard output through an asynchronous, batched destination (written every 4 KB, 100 ms
 * after a line, and at exit; call flushLogsSync() after a line a reader waits for). With one (syslog, tests): as given.
 */
export function createLogger(options: { level?: LogLevel; destination?: NodeJS.WritableStream } = {}): Logger {
  const level = options.level ?? 'info';
  const base = { name: 'b2bua-server' };
  const settings = { level, base, timestamp: pino.stdTimeFunctions.isoTime };
  if (options.destination) return pino(settings, options.destination);
  const stdout = batchedStdout();
  buffered.add(stdout);
  return pino(settings, stdout);
}

/** A logger that drops everything (unit tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
