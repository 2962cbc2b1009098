/** Structured JSON logging (pino). Every call-scoped line carries `call` (our id) and leg Call-IDs. */
import { pino } from 'pino';
import type { Logger } from '../vocabulary/index.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/**
 * Standard output, written once per event-loop iteration instead of once per line: the lines logged until the loop's
 * check phase (a call's "incoming call" and "leg B INVITE", or a burst of calls) leave there in one write(2)
 * (setImmediate). A line waits at most for the I/O callbacks already due in that iteration, never for a timer or new
 * I/O to arrive, so a reader of the log (an operator's tail, a test waiting for a line) sees it as it would with a
 * write per line; at 100 CPS the write per line was half of the daemon's busy time (bench/README.md). sonic-boom in
 * its synchronous mode does the writes (it retries EAGAIN on a non-blocking pipe); lines still pending at process exit
 * are written then.
 */
const batched = new Set<TurnBatchedStdout>();

class TurnBatchedStdout {
  private pending: string[] = [];
  private scheduled = false;
  private readonly out = pino.destination({ dest: 1, sync: true });

  constructor() {
    if (batched.size === 0) process.on('exit', () => { for (const d of batched) d.flush(); });
    batched.add(this);
  }

  write(line: string): boolean {
    this.pending.push(line);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return true;
  }

  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const data = this.pending.length === 1 ? this.pending[0]! : this.pending.join('');
    this.pending = [];
    try {
      this.out.write(data);
    } catch {
      /* the reader of standard output is gone: nothing to save the lines to */
    }
  }
}

/** Without `destination`: standard output, one write per event-loop iteration (TurnBatchedStdout). With one (syslog, tests): as given. */
export function createLogger(options: { level?: LogLevel; destination?: NodeJS.WritableStream } = {}): Logger {
  const level = options.level ?? 'info';
  const settings = { level, base: { name: 'b2bua-server' }, timestamp: pino.stdTimeFunctions.isoTime };
  return pino(settings, options.destination ?? new TurnBatchedStdout());
}

/** A logger that drops everything (unit tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
