/**
 * Keeps the accounts of pools with `registrationRequired` registered: REGISTER through the host's SIP layer
 * (which answers digest challenges), refresh before expiry, retry after failures, and un-REGISTER at shutdown
 * unless `unregisterOnServerShutdown` is false.
 *
 * At scale (thousands of lines on one trunk):
 * - Every REGISTER of a pool (first, refresh, retry, re-REGISTER after an update, un-REGISTER of a removed account or
 *   of an account's old identity) goes through ONE queue per pool that sends at most one every
 *   `registrationThrottlingRateMs` (0: no spacing). Flexisip throttles its account operations the same way
 *   (account-pool.cc, mAccountOpsQueue); we throttle the refreshes and retries too, so a registrar that came back
 *   after an outage does not get every line at once. The queue holds at most one entry per line (a line already
 *   queued is not queued twice) and is served first in, first out. At most `maxInFlight` (200) of a pool's REGISTERs
 *   await their answer at a time: at throttle 0 the next ones leave as answers come in (our safety, not Flexisip's).
 * - Refreshes happen at a uniformly random point between 50 % and 90 % of the granted expiry, drawn again for each
 *   refresh, so lines registered together do not refresh together (belle-sip has the same "refresh window",
 *   at 90 %–90 % by default).
 * - Retries back off: `retryMs` × 2^(failures − 1), capped at `retryCapMs`, plus up to 25 % jitter; a Retry-After in the
 *   answer is honoured (up to the cap); reset by a success. belle-sip retries after a fixed 60 s (refresher.c,
 *   DEFAULT_RETRY_AFTER); we start earlier (30 s, as before) and back off, which is gentler on a registrar that is down.
 * - 423 Interval Too Brief: REGISTER again at once (through the queue) with the answer's Min-Expires, remembered for
 *   the line (RFC 3261 10.2.8, as belle-sip does).
 * - Shutdown un-REGISTERs are NOT throttled: they all leave at once (as liblinphone's core does at shutdown) and the
 *   whole shutdown is bounded by `unregisterTimeoutMs`; a throttled shutdown of 10,000 lines at 10 ms would take 100 s.
 */
import { randomBytes } from 'node:crypto';
import {
  errorReason, noAnswerError, type Logger, type OutgoingRequest, type PluginSipApi, type RegistrationEvent, type SipResponseView,
} from '../../core/plugin-api/index.js';
import type { AccountTransport } from '../../core/plugin-api/index.js';
import type { Line, RegistrationState } from './accounts.js';
import { parseSipAddress } from './sip-uri.js';

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** A monotonic clock in ms, when there is one: the throttle checks its spacing with it. */
  nowMs?(): number;
  /** Run `fn` once pending I/O callbacks and microtasks are done (setImmediate), when there is such a thing. */
  afterIo?(fn: () => void): void;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  // libuv measures a timer from the loop's cached time, which can be a little older than the send it follows
  nowMs: () => performance.now(),
  afterIo: (fn) => {
    setImmediate(fn);
  },
};

export interface RegistrationOptions {
  readonly sip: PluginSipApi;
  readonly log: Logger;
  /** Called on every state change (the plugin forwards it to hooks.registrationChanged). */
  readonly onChange: (event: Omit<RegistrationEvent, 'plugin'>) => void;
  readonly timers?: Timers;
  /** Uniform in [0, 1): refresh points and retry jitter. */
  readonly random?: () => number;
  /** Expires we ask for, in seconds. */
  readonly expiresSeconds?: number;
  /** Delay before the first retry after a failure; doubles on each further failure. */
  readonly retryMs?: number;
  /** Longest delay between two retries (before jitter). */
  readonly retryCapMs?: number;
  /** How long shutdown waits for un-REGISTER answers. */
  readonly unregisterTimeoutMs?: number;
  /** A REGISTER without final answer after this long counts as failed. */
  readonly requestTimeoutMs?: number;
  /** REGISTERs of one pool awaiting their answer, at most. */
  readonly maxInFlight?: number;
  /** one-connection-per-account: the line's own socket (its REGISTERs leave from it, its Contact names it). */
  readonly transportOf?: (line: Line) => AccountTransport | undefined;
}

export const DEFAULT_EXPIRES_SECONDS = 3600;
export const DEFAULT_RETRY_MS = 30_000;
export const DEFAULT_RETRY_CAP_MS = 600_000;
/** A retry waits its backoff plus up to this fraction more, so lines that failed together do not retry together. */
export const RETRY_JITTER = 0.25;
export const DEFAULT_UNREGISTER_TIMEOUT_MS = 3_000;
/** Longer than a SIP transaction (Timer F, 32 s): normally the host's 408 comes first. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 40_000;
/** Refresh window, as fractions of the granted expiry. */
export const REFRESH_WINDOW = [0.5, 0.9] as const;
/** Never refresh sooner than this after a success, nor later than this before expiry (when there is room). */
export const MIN_REFRESH_MS = 1_000;
export const REFRESH_MARGIN_MS = 2_000;
/** A Min-Expires above this (a week) is refused: the line fails rather than asking for it. */
export const MAX_MIN_EXPIRES_SECONDS = 7 * 24 * 3600;
/** 423 answers in a row before the line counts as failed (a registrar raising Min-Expires for ever). */
export const MAX_CONSECUTIVE_423 = 3;
/** Node fires a longer setTimeout at once: every delay is clamped to this. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** With no throttling, REGISTERs leave by batches of this many per event-loop turn. */
const UNTHROTTLED_BATCH = 100;
/**
 * REGISTERs of one pool awaiting their answer, at most (the next ones wait in the queue). Without it, 10,000 lines
 * at throttle 0 overflow the UDP socket buffers of both ends at once and most exchanges end in retransmissions and
 * timeouts (bench/README.md); with a dead registrar it keeps the retries from piling up.
 */
export const DEFAULT_MAX_IN_FLIGHT = 200;

/** When to refresh: uniform between 50 % and 90 % of the granted expiry, at least 1 s, at most expiry − 2 s when possible. */
export function refreshDelayMs(grantedSeconds: number, random: () => number = Math.random): number {
  const ms = grantedSeconds * 1000;
  const [lo, hi] = REFRESH_WINDOW;
  const drawn = ms * (lo + (hi - lo) * random());
  const latest = Math.max(ms * lo, ms - REFRESH_MARGIN_MS);
  return Math.min(MAX_TIMER_MS, Math.round(Math.max(MIN_REFRESH_MS, Math.min(drawn, latest))));
}

/** Delay before retry number `failures` (1 = first): exponential from `firstMs`, capped, plus jitter. */
export function retryDelayMs(failures: number, firstMs: number, capMs: number, random: () => number = Math.random): number {
  const base = Math.min(capMs, firstMs * 2 ** Math.min(Math.max(0, failures - 1), 30));
  return Math.min(MAX_TIMER_MS, Math.round(base * (1 + RETRY_JITTER * random())));
}

interface Unregister {
  readonly uri: string;
  readonly request: OutgoingRequest;
  /** For the log: which un-REGISTER this is. */
  readonly what: string;
  readonly done: () => void;
}

/** What a line has going on; forgotten when the line is removed and has nothing left to send. */
interface LineRecord {
  callId: string;
  cseq: number;
  /** Refresh or retry wait. */
  timer: unknown;
  /** A REGISTER is due: the line is (or is about to be) in its pool's queue. */
  registerDue: boolean;
  /** un-REGISTERs due (an old identity, a removed account): at most 2. */
  unregisters: Unregister[];
  inFlight: boolean;
  /** Asked to REGISTER again while one was in flight (an update): queued when the answer is in. */
  again: boolean;
  failures: number;
  consecutive423: number;
  /** The registrar's Min-Expires (423), asked from then on. */
  minExpires: number | undefined;
}

/**
 * One pool's REGISTER queue: FIFO, one entry per line, at most one send per `rateMs` (0: batches per event-loop turn).
 * `send(line)` does what the line has due and says whether it sent something (only then does the spacing start).
 */
class PoolQueue {
  private readonly order = new Set<Line>();
  private cooldown: unknown;
  private pumping = false;
  private lastSentAt: number | undefined;
  /** Waiting for afterIo to start the spacing. */
  private stamping: object | undefined;
  /** REGISTERs sent and not answered yet. */
  private active = 0;

  constructor(
    private readonly rateMs: number,
    private readonly timers: Timers,
    private readonly send: (line: Line) => boolean,
    private readonly maxInFlight: number,
  ) {}

  /** A REGISTER this queue let out got its answer (or failed): room for the next one. */
  answered(): void {
    this.active = Math.max(0, this.active - 1);
    if (this.order.size > 0) this.pump();
  }

  get size(): number {
    return this.order.size;
  }

  push(line: Line): void {
    if (this.order.has(line)) return;
    this.order.add(line);
    this.pump();
  }

  clear(): void {
    this.order.clear();
    this.active = 0;
    if (this.cooldown !== undefined) this.timers.clearTimeout(this.cooldown);
    this.cooldown = undefined;
    this.stamping = undefined;
  }

  private pump(): void {
    if (this.cooldown !== undefined || this.stamping !== undefined || this.pumping || this.active >= this.maxInFlight) return;
    const now = this.timers.nowMs?.();
    if (this.rateMs > 0 && now !== undefined && this.lastSentAt !== undefined && now - this.lastSentAt < this.rateMs) {
      // woken a little early (or pushed right after a send): wait for the rest of the spacing
      return this.wait(Math.ceil(this.rateMs - (now - this.lastSentAt)));
    }
    this.pumping = true;
    try {
      let sent = 0;
      while (this.order.size > 0 && this.active < this.maxInFlight) {
        const line = this.order.values().next().value as Line;
        this.order.delete(line);
        if (!this.send(line)) continue;
        sent++;
        this.active++;
        if (this.rateMs > 0 || sent >= UNTHROTTLED_BATCH) break;
      }
      if (this.rateMs > 0 && sent > 0) {
        this.spaceFromNow();
      } else if (this.order.size > 0 && this.active < this.maxInFlight) {
        this.wait(0); // unthrottled: the next batch on the next turn of the event loop
      }
    } finally {
      this.pumping = false;
    }
  }

  /**
   * The spacing counts from when the REGISTER was handed to the socket: the host sends it a few microtasks after
   * `request()` and a pause there (GC) would otherwise bring two REGISTERs closer on the wire. `afterIo` runs after
   * those microtasks (setImmediate); without it (tests' clocks), from now.
   */
  private spaceFromNow(): void {
    if (!this.timers.afterIo) {
      this.lastSentAt = this.timers.nowMs?.();
      return this.wait(this.rateMs);
    }
    const token = {};
    this.stamping = token;
    this.timers.afterIo(() => {
      if (this.stamping !== token) return; // cleared (shutdown) meanwhile
      this.stamping = undefined;
      this.lastSentAt = this.timers.nowMs?.();
      this.wait(this.rateMs);
    });
  }

  private wait(ms: number): void {
    this.cooldown = this.timers.setTimeout(() => {
      this.cooldown = undefined;
      this.pump();
    }, ms);
  }
}

export class Registrations {
  private readonly timers: Timers;
  private readonly random: () => number;
  private readonly records = new Map<Line, LineRecord>();
  private readonly queues = new Map<string, PoolQueue>();
  private readonly ownTimeouts = new WeakSet<object>();
  private readonly lines: Set<Line>;
  private started = false;
  private stopped = false;
  private stopping: Promise<void> | undefined;
  private readonly expires: number;
  private readonly retryMs: number;
  private readonly retryCapMs: number;
  private readonly unregisterTimeoutMs: number;
  private readonly requestTimeoutMs: number;

  constructor(
    lines: readonly Line[],
    private readonly opts: RegistrationOptions,
  ) {
    this.lines = new Set(lines);
    this.timers = opts.timers ?? realTimers;
    this.random = opts.random ?? Math.random;
    this.expires = opts.expiresSeconds ?? DEFAULT_EXPIRES_SECONDS;
    this.retryMs = opts.retryMs ?? DEFAULT_RETRY_MS;
    this.retryCapMs = Math.max(this.retryMs, opts.retryCapMs ?? DEFAULT_RETRY_CAP_MS);
    this.unregisterTimeoutMs = opts.unregisterTimeoutMs ?? DEFAULT_UNREGISTER_TIMEOUT_MS;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  }

  /** Queue every line's first REGISTER (in pool order, spaced by the pool's throttling rate). */
  start(): void {
    this.started = true;
    for (const line of this.lines) this.due(line);
  }

  /** Lines a loader added: registered once start() ran (through their pool's queue, as at start). */
  add(lines: readonly Line[]): void {
    const added = lines.filter((l) => !this.lines.has(l));
    for (const line of added) this.lines.add(line);
    if (this.started) for (const line of added) this.due(line);
  }

  /** A line whose credentials or addresses changed registers again now (Flexisip: refreshRegister, account-pool.cc:315). */
  refresh(line: Line): void {
    if (!this.lines.has(line)) return this.add([line]);
    const rec = this.recordOf(line);
    rec.failures = 0;
    rec.consecutive423 = 0;
    rec.minExpires = undefined; // maybe another registrar now
    if (this.started) this.due(line);
  }

  /**
   * un-REGISTER an identity the line no longer has (its URI changed), through the pool's queue. Resolves when
   * answered (or dropped at shutdown).
   */
  unregisterOldIdentity(line: Line, old: { uri: string; request: OutgoingRequest }): Promise<void> {
    return this.queueUnregister(line, old, 'un-REGISTER of the old identity');
  }

  /**
   * A line removed from its pool: no more REGISTERs; un-REGISTERed (through the pool's queue) if it was registered,
   * as linphone's removeAccount does. Resolves when the un-REGISTER is answered, failed, or dropped at shutdown.
   */
  async remove(line: Line, registered: { uri: string; request: OutgoingRequest } | undefined = this.unregisterRequestOf(line)): Promise<void> {
    if (!this.lines.delete(line)) return;
    const rec = this.records.get(line);
    if (rec) {
      this.clearWait(rec);
      rec.registerDue = false;
      rec.again = false;
    }
    if (registered && !this.stopped) await this.queueUnregister(line, registered, 'un-REGISTER of a removed account');
    this.forgetIfIdle(line);
  }

  /** Expires 0 for a registered line, built now (before the line is reconfigured or forgotten). */
  unregisterRequestOf(line: Line): { uri: string; request: OutgoingRequest } | undefined {
    return line.registration.state === 'registered' ? { uri: line.uri, request: this.registerRequest(line, 0) } : undefined;
  }

  /** Lines waiting in their pool's queue (observability, tests). */
  queued(pool?: string): number {
    let n = 0;
    for (const [name, q] of this.queues) if (pool === undefined || name === pool) n += q.size;
    return n;
  }

  /**
   * Cancel timers and queues, and un-REGISTER the registered lines whose pool asks for it, all at once (not
   * throttled). Resolves when every answer is in, or after `unregisterTimeoutMs` (the host bounds shutdown hooks
   * too: an unreachable registrar must not eat it all).
   */
  stop(): Promise<void> {
    this.stopping ??= this.unregisterAll();
    return this.stopping;
  }

  private async unregisterAll(): Promise<void> {
    this.stopped = true;
    for (const q of this.queues.values()) q.clear();
    for (const rec of this.records.values()) {
      this.clearWait(rec);
      for (const u of rec.unregisters.splice(0)) u.done();
    }
    const leaving = [...this.lines].filter((l) => l.pool.config.unregisterOnServerShutdown !== false && l.registration.state === 'registered');
    if (leaving.length === 0) return;
    const all = Promise.allSettled(
      leaving.map(async (line) => {
        try {
          const res = await this.opts.sip.request(this.registerRequest(line, 0));
          this.opts.log.debug({ account: line.uri, status: res.status }, 'un-REGISTER answered');
        } catch (e) {
          this.opts.log.warn({ account: line.uri, err: e }, 'un-REGISTER failed');
        }
        this.setState(line, 'unregistered');
      }),
    );
    let timer: unknown;
    const timeout = new Promise<void>((resolve) => {
      timer = this.timers.setTimeout(() => {
        const late = leaving.filter((l) => l.registration.state !== 'unregistered').map((l) => l.uri);
        this.opts.log.warn({ count: late.length, accounts: late.slice(0, 20), timeoutMs: this.unregisterTimeoutMs }, 'un-REGISTER not answered in time');
        resolve();
      }, this.unregisterTimeoutMs);
    });
    await Promise.race([all, timeout]);
    this.timers.clearTimeout(timer);
  }

  private recordOf(line: Line): LineRecord {
    let rec = this.records.get(line);
    if (!rec) {
      rec = {
        callId: `${randomBytes(12).toString('hex')}@sip-bridge`, cseq: 0, timer: undefined, registerDue: false, unregisters: [],
        inFlight: false, again: false, failures: 0, consecutive423: 0, minExpires: undefined,
      };
      this.records.set(line, rec);
    }
    return rec;
  }

  private queueOf(line: Line): PoolQueue {
    const name = line.pool.name;
    let q = this.queues.get(name);
    if (!q) {
      const rate = line.pool.config.registrationThrottlingRateMs ?? 0;
      q = new PoolQueue(Number.isFinite(rate) && rate > 0 ? rate : 0, this.timers, (l) => this.dispatch(l), Math.max(1, this.opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT));
      this.queues.set(name, q);
    }
    return q;
  }

  private clearWait(rec: LineRecord): void {
    if (rec.timer !== undefined) this.timers.clearTimeout(rec.timer);
    rec.timer = undefined;
  }

  /** The line has to REGISTER: into its pool's queue now (a pending refresh or retry wait is dropped). */
  private due(line: Line): void {
    if (this.stopped || !this.lines.has(line)) return;
    const rec = this.recordOf(line);
    this.clearWait(rec);
    if (rec.inFlight) {
      rec.again = true;
      return;
    }
    rec.registerDue = true;
    this.queueOf(line).push(line);
  }

  /** The line has to REGISTER after `delayMs` (refresh, retry). */
  private dueIn(line: Line, delayMs: number): void {
    if (this.stopped || !this.lines.has(line)) return;
    const rec = this.recordOf(line);
    this.clearWait(rec);
    rec.timer = this.timers.setTimeout(() => {
      rec.timer = undefined;
      this.due(line);
    }, delayMs);
  }

  private queueUnregister(line: Line, u: { uri: string; request: OutgoingRequest }, what: string): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const rec = this.recordOf(line);
    return new Promise<void>((resolve) => {
      // Bounded: an old identity not yet un-REGISTERed stays the one to un-REGISTER (a newer one never registered).
      if (rec.unregisters.length >= 2) return resolve();
      rec.unregisters.push({ uri: u.uri, request: u.request, what, done: resolve });
      this.queueOf(line).push(line);
    });
  }

  /** The queue's turn for `line`: send what it has due; false when there was nothing (no spacing then). */
  private dispatch(line: Line): boolean {
    if (this.stopped) return false;
    const rec = this.records.get(line);
    if (!rec) return false;
    const u = rec.unregisters.shift();
    if (u) {
      void this.sendUnregister(line, u).finally(() => this.queueOf(line).answered());
      if (rec.unregisters.length > 0 || rec.registerDue) this.queueOf(line).push(line); // back of the queue: fair
      return true;
    }
    if (!rec.registerDue || !this.lines.has(line)) return false;
    rec.registerDue = false;
    void this.register(line, rec).finally(() => this.queueOf(line).answered());
    return true;
  }

  private async sendUnregister(line: Line, u: Unregister): Promise<void> {
    const what = u.what;
    try {
      const res = await this.requestWithTimeout(u.request);
      this.opts.log.debug({ account: u.uri, status: res.status }, `${what} answered`);
    } catch (e) {
      this.opts.log.warn({ account: u.uri, err: e }, `${what} failed`);
    }
    if (!this.lines.has(line) && !this.stopped) this.setState(line, 'unregistered');
    u.done();
    this.forgetIfIdle(line);
  }

  private forgetIfIdle(line: Line): void {
    const rec = this.records.get(line);
    if (rec && !this.lines.has(line) && !rec.inFlight && rec.unregisters.length === 0) {
      this.clearWait(rec);
      this.records.delete(line);
    }
  }

  private async register(line: Line, rec: LineRecord): Promise<void> {
    // A refresh keeps the line usable; only a first attempt or a retry shows "in progress".
    if (line.registration.state !== 'registered') this.setState(line, 'registering');
    const asked = Math.max(this.expires, rec.minExpires ?? 0);
    rec.inFlight = true;
    let res: SipResponseView | undefined;
    let error: unknown;
    try {
      res = await this.requestWithTimeout(this.registerRequest(line, asked));
    } catch (e) {
      error = e;
    }
    rec.inFlight = false;
    if (this.stopped) return;
    if (!this.lines.has(line)) {
      // Removed while in flight: if this REGISTER just bound it, take the binding back.
      if (res && res.status >= 200 && res.status < 300) {
        void this.queueUnregister(line, { uri: line.uri, request: this.registerRequest(line, 0) }, 'un-REGISTER of a removed account');
      }
      this.forgetIfIdle(line);
      return;
    }
    if (rec.again) {
      rec.again = false;
      this.due(line); // updated while in flight: what we just sent is stale
      return;
    }
    // No answer at all: liblinphone's 408 ("Not answered") for our own timeout, else a transport error (0, "IO error").
    if (!res) return this.fail(line, rec, errorReason(error), this.ownTimeouts.has(error as object) ? 408 : 0);
    if (res.status >= 200 && res.status < 300) {
      rec.failures = 0;
      rec.consecutive423 = 0;
      this.setState(line, 'registered');
      this.dueIn(line, refreshDelayMs(grantedExpires(res, asked), this.random));
      return;
    }
    if (res.status === 423) {
      const min = Number(res.header('Min-Expires')?.trim());
      if (Number.isInteger(min) && min > asked && min <= MAX_MIN_EXPIRES_SECONDS && rec.consecutive423 < MAX_CONSECUTIVE_423) {
        rec.consecutive423++;
        rec.minExpires = min;
        this.opts.log.info({ account: line.uri, asked, minExpires: min }, 'registrar wants a longer expiry (423): REGISTER again with its Min-Expires');
        this.due(line);
        return;
      }
      this.opts.log.warn(
        { account: line.uri, asked, minExpires: res.header('Min-Expires'), maxMinExpires: MAX_MIN_EXPIRES_SECONDS, in423Row: rec.consecutive423 + 1 },
        '423 without a usable Min-Expires (missing, not above what we asked, above a week, or too many in a row)',
      );
    }
    rec.consecutive423 = 0;
    this.fail(line, rec, `${res.status} ${res.reason}`.trim(), res.status, retryAfterMs(res));
  }

  /** The host's transactions end in 408 on their own; this guard keeps a line from waiting for ever if one does not. */
  private requestWithTimeout(req: OutgoingRequest): Promise<SipResponseView> {
    let timer: unknown;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.timers.setTimeout(() => {
        const e = noAnswerError(this.requestTimeoutMs);
        this.ownTimeouts.add(e);
        reject(e);
      }, this.requestTimeoutMs);
    });
    return Promise.race([this.opts.sip.request(req), timeout]).finally(() => this.timers.clearTimeout(timer));
  }

  private fail(line: Line, rec: LineRecord, reason: string, status: number, retryAfter?: number): void {
    rec.failures++;
    const backoff = retryDelayMs(rec.failures, this.retryMs, this.retryCapMs, this.random);
    const retryInMs = retryAfter === undefined ? backoff : Math.max(backoff, Math.min(retryAfter, this.retryCapMs));
    this.opts.log.warn({ account: line.uri, reason, failures: rec.failures, retryInMs }, 'registration failed');
    this.setState(line, 'failed', reason, status);
    this.dueIn(line, retryInMs);
  }

  private setState(line: Line, state: Exclude<RegistrationState, 'none'>, reason?: string, status?: number): void {
    const before = line.registration;
    line.registration = reason === undefined ? { state } : { state, reason, ...(status !== undefined ? { status } : {}) };
    if (before.state === state && before.reason === reason) return;
    this.opts.onChange({ account: line.uri, state, ...(reason !== undefined ? { reason } : {}) });
  }

  registerRequest(line: Line, expires: number): OutgoingRequest {
    const identity = `<${line.uri}>`;
    const dialog = this.recordOf(line);
    // Same Call-ID for every REGISTER of a line (RFC 3261 10.2.4); the host may use two more CSeqs for challenges.
    dialog.cseq += 3;
    const transport = this.opts.transportOf?.(line);
    const req: OutgoingRequest = {
      method: 'REGISTER',
      uri: line.registrar,
      headers: {
        From: identity, To: identity, Contact: contactFor(line, transport?.contact ?? this.opts.sip.contact), Expires: String(expires),
        'Call-ID': dialog.callId, CSeq: `${dialog.cseq} REGISTER`,
      },
    };
    // Always through the account's outbound proxy, as liblinphone sends it on the account's route (account-pool.cc:154).
    if (line.outboundProxy !== line.registrar) req.outboundProxy = line.outboundProxy;
    if (transport) req.transport = transport;
    const credentials = line.credentials;
    if (credentials) req.credentials = credentials;
    return req;
  }
}

/** Our listening URI with the account's user, so that calls the provider sends to this account reach us. */
export function contactFor(line: Line, listening: string): string {
  const us = parseSipAddress(listening);
  const user = line.uriParts.user ? `${line.uriParts.user}@` : '';
  return `<${us.scheme || 'sip'}:${user}${us.hostport}${us.uriParameters}>`;
}

/** Expiry granted by the registrar: our Contact's `expires` parameter, else the Expires header, else what we asked. */
export function grantedExpires(res: SipResponseView, asked: number): number {
  const contactExpires = /;\s*expires\s*=\s*(\d+)/i.exec(res.header('Contact') ?? '')?.[1];
  const header = res.header('Expires');
  const value = Number(contactExpires ?? header ?? asked);
  return Number.isFinite(value) && value > 0 ? value : asked;
}

/** Retry-After of a failure answer, in ms (delta-seconds only; a date or garbage is ignored). */
function retryAfterMs(res: SipResponseView): number | undefined {
  const m = /^\s*(\d{1,9})\b/.exec(res.header('Retry-After') ?? '');
  return m ? Number(m[1]) * 1000 : undefined;
}
