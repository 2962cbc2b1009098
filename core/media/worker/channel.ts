/**
 * Parent side of the worker channel: spawns one media worker process and offers typed
 * requests (with ids and timeouts) and events. When the process exits every pending
 * request is rejected and `onExit` listeners run.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { B2buaError, b2buaError } from '../../errors/index.js';
import {
  type EventMessage,
  type RequestName,
  type WorkerMessage,
  type WorkerRequests,
} from './protocol.js';

export interface WorkerSpawnOptions {
  /** Folder holding the b2bua GStreamer plugin, prepended to GST_PLUGIN_PATH. */
  readonly pluginDir: string;
  readonly requestTimeoutMs?: number;
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
  sentAt: number;
}

/** How far back answer times count in `recentLatencyMs`: a worker that caught up is admitted again within this. */
export const LATENCY_WINDOW_MS = 5_000;
const LATENCY_SAMPLES = 32;

/** Running from sources (tsx) the worker is main.ts and needs the tsx loader; from dist/ it is main.js. */
function workerEntry(): { file: string; execArgv: string[] } {
  const fromSources = import.meta.url.endsWith('.ts');
  const file = fileURLToPath(new URL(fromSources ? './main.ts' : './main.js', import.meta.url));
  // The loader is resolved from this package, not from the daemon's working directory.
  return { file, execArgv: fromSources ? ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href] : [] };
}

export class WorkerChannel {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly eventListeners: ((e: EventMessage) => void)[] = [];
  private readonly exitListeners: ((reason: string) => void)[] = [];
  private exited = false;
  private readonly timeoutMs: number;
  /** The last answers' times (ring): when and how long. */
  private readonly answered: { at: number; ms: number }[] = [];

  private constructor(private readonly child: ChildProcess, timeoutMs: number) {
    this.timeoutMs = timeoutMs;
    child.on('message', (m) => this.receive(m as WorkerMessage));
    child.on('exit', (code, signal) => this.onChildExit(signal ? `killed by ${signal}` : `exited with code ${code}`));
    child.on('error', (e) => this.onChildExit(`failed: ${e.message}`));
  }

  static spawn(options: WorkerSpawnOptions): WorkerChannel {
    const { file, execArgv } = workerEntry();
    const pluginPath = [options.pluginDir, process.env['GST_PLUGIN_PATH']].filter(Boolean).join(':');
    const child = fork(file, [], {
      execArgv,
      env: { ...process.env, GST_PLUGIN_PATH: pluginPath },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    return new WorkerChannel(child, options.requestTimeoutMs ?? 10_000);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return !this.exited;
  }

  request<N extends RequestName>(op: N, params: WorkerRequests[N]['params']): Promise<WorkerRequests[N]['result']> {
    if (this.exited) return Promise.reject(b2buaError('B2BUA_MEDIA_WORKER_LOST', { pid: String(this.child.pid), what: 'is gone' }));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(b2buaError('B2BUA_MEDIA_WORKER_TIMEOUT', { pid: String(this.child.pid), op, ms: this.timeoutMs }));
      }, this.timeoutMs);
      this.pending.set(id, { resolve: resolve, reject, timer, sentAt: Date.now() });
      this.child.send({ kind: 'request', id, op, params }, (err) => {
        if (!err) return;
        clearTimeout(timer);
        this.pending.delete(id);
        reject(b2buaError('B2BUA_MEDIA_WORKER_UNREACHABLE', { pid: String(this.child.pid), why: err.message }));
      });
    });
  }

  /** Requests sent and not answered yet: the worker's queue as the parent sees it. */
  get pendingRequests(): number {
    return this.pending.size;
  }

  /** The longest answer time of the last LATENCY_WINDOW_MS, or the age of the oldest request still waiting if longer (a stuck worker); 0 when idle. */
  recentLatencyMs(now = Date.now()): number {
    let worst = 0;
    for (const a of this.answered) if (now - a.at <= LATENCY_WINDOW_MS) worst = Math.max(worst, a.ms);
    for (const p of this.pending.values()) worst = Math.max(worst, now - p.sentAt);
    return worst;
  }

  onEvent(listener: (e: EventMessage) => void): void {
    this.eventListeners.push(listener);
  }

  onExit(listener: (reason: string) => void): void {
    this.exitListeners.push(listener);
  }

  /** Ends the worker (its sockets and pipelines go with it). */
  kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.exited) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.kill(signal);
    });
  }

  private receive(m: WorkerMessage): void {
    if (m.kind === 'event') {
      for (const l of this.eventListeners) l(m);
      return;
    }
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    clearTimeout(p.timer);
    const now = Date.now();
    if (this.answered.length >= LATENCY_SAMPLES) this.answered.shift();
    this.answered.push({ at: now, ms: now - p.sentAt });
    if (m.ok) p.resolve(m.result);
    else p.reject(new B2buaError(m.code, m.message));
  }

  private onChildExit(what: string): void {
    if (this.exited) return;
    this.exited = true;
    const error = b2buaError('B2BUA_MEDIA_WORKER_LOST', { pid: String(this.child.pid), what });
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(error);
      this.pending.delete(id);
    }
    for (const l of this.exitListeners) l(error.reason);
  }
}
