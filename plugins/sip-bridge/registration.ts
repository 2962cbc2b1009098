/**
 * Keeps the accounts of pools with `registrationRequired` registered: REGISTER through the host's SIP layer
 * (which answers digest challenges), refresh before expiry, retry after failures, space the first REGISTERs of a
 * pool by `registrationThrottlingRateMs`, and un-REGISTER at shutdown unless `unregisterOnServerShutdown` is false.
 */
import { randomBytes } from 'node:crypto';
import {
  errorReason, noAnswerError, type Logger, type OutgoingRequest, type PluginSipApi, type RegistrationEvent, type SipResponseView,
} from '../../core/plugin-api/index.js';
import type { Line, RegistrationState } from './accounts.js';
import { parseSipAddress } from './sip-uri.js';

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface RegistrationOptions {
  readonly sip: PluginSipApi;
  readonly log: Logger;
  /** Called on every state change (the plugin forwards it to hooks.registrationChanged). */
  readonly onChange: (event: Omit<RegistrationEvent, 'plugin'>) => void;
  readonly timers?: Timers;
  /** Expires we ask for, in seconds. */
  readonly expiresSeconds?: number;
  /** Delay before trying again after a failure. */
  readonly retryMs?: number;
  /** How long shutdown waits for un-REGISTER answers. */
  readonly unregisterTimeoutMs?: number;
  /** A REGISTER without final answer after this long counts as failed. */
  readonly requestTimeoutMs?: number;
}

export const DEFAULT_EXPIRES_SECONDS = 3600;
export const DEFAULT_RETRY_MS = 30_000;
export const DEFAULT_UNREGISTER_TIMEOUT_MS = 3_000;
/** Longer than a SIP transaction (Timer F, 32 s): normally the host's 408 comes first. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 40_000;

/** Refresh well before expiry: at 90 % of the granted time, and at least 5 s early when there is room for it. */
export function refreshDelayMs(grantedSeconds: number): number {
  const ms = grantedSeconds * 1000;
  return Math.max(500, Math.min(ms * 0.9, ms - 5000));
}

export class Registrations {
  private readonly timers: Timers;
  private readonly pending = new Map<Line, unknown>();
  private readonly dialogs = new Map<Line, { callId: string; cseq: number }>();
  private readonly lines: Set<Line>;
  private started = false;
  private stopped = false;
  private stopping: Promise<void> | undefined;
  private readonly expires: number;
  private readonly retryMs: number;
  private readonly unregisterTimeoutMs: number;
  private readonly requestTimeoutMs: number;

  constructor(
    lines: readonly Line[],
    private readonly opts: RegistrationOptions,
  ) {
    this.lines = new Set(lines);
    this.timers = opts.timers ?? realTimers;
    this.expires = opts.expiresSeconds ?? DEFAULT_EXPIRES_SECONDS;
    this.retryMs = opts.retryMs ?? DEFAULT_RETRY_MS;
    this.unregisterTimeoutMs = opts.unregisterTimeoutMs ?? DEFAULT_UNREGISTER_TIMEOUT_MS;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  }

  /** Schedule every line's first REGISTER (index within its pool × the pool's throttling rate). */
  start(): void {
    this.started = true;
    this.scheduleFirst([...this.lines]);
  }

  private scheduleFirst(lines: readonly Line[]): void {
    const indexInPool = new Map<string, number>();
    for (const line of lines) {
      const i = indexInPool.get(line.pool.name) ?? 0;
      indexInPool.set(line.pool.name, i + 1);
      this.schedule(line, i * (line.pool.config.registrationThrottlingRateMs ?? 0));
    }
  }

  /** Lines a loader added: registered once start() ran (spaced by their pool's throttling rate, as at start). */
  add(lines: readonly Line[]): void {
    const added = lines.filter((l) => !this.lines.has(l));
    for (const line of added) this.lines.add(line);
    if (this.started) this.scheduleFirst(added);
  }

  /** A line whose credentials or addresses changed registers again now (Flexisip: refreshRegister, account-pool.cc:315). */
  refresh(line: Line): void {
    if (!this.lines.has(line)) return this.add([line]);
    if (this.started) this.schedule(line, 0);
  }

  /** A line removed from its pool: no more REGISTERs; un-REGISTERed if it was registered (linphone's removeAccount does). */
  async remove(line: Line, registered: { uri: string; request: OutgoingRequest } | undefined = this.unregisterRequestOf(line)): Promise<void> {
    if (!this.lines.delete(line)) return;
    const handle = this.pending.get(line);
    if (handle !== undefined) this.timers.clearTimeout(handle);
    this.pending.delete(line);
    if (!registered || this.stopped) return;
    try {
      const res = await this.requestWithTimeout(registered.request);
      this.opts.log.debug({ account: registered.uri, status: res.status }, 'un-REGISTER of a removed account answered');
    } catch (e) {
      this.opts.log.warn({ account: registered.uri, err: e }, 'un-REGISTER of a removed account failed');
    }
    this.setState(line, 'unregistered');
  }

  /** Expires 0 for a registered line, built now (before the line is reconfigured or forgotten). */
  unregisterRequestOf(line: Line): { uri: string; request: OutgoingRequest } | undefined {
    return line.registration.state === 'registered' ? { uri: line.uri, request: this.registerRequest(line, 0) } : undefined;
  }

  /**
   * Cancel timers and un-REGISTER the registered lines whose pool asks for it. Resolves when every answer is in,
   * or after `unregisterTimeoutMs` (the host bounds shutdown hooks too: an unreachable registrar must not eat it all).
   */
  stop(): Promise<void> {
    this.stopping ??= this.unregisterAll();
    return this.stopping;
  }

  private async unregisterAll(): Promise<void> {
    this.stopped = true;
    for (const handle of this.pending.values()) this.timers.clearTimeout(handle);
    this.pending.clear();
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
        this.opts.log.warn({ accounts: late, timeoutMs: this.unregisterTimeoutMs }, 'un-REGISTER not answered in time');
        resolve();
      }, this.unregisterTimeoutMs);
    });
    await Promise.race([all, timeout]);
    this.timers.clearTimeout(timer);
  }

  private schedule(line: Line, delayMs: number): void {
    if (this.stopped) return;
    const previous = this.pending.get(line);
    if (previous !== undefined) this.timers.clearTimeout(previous);
    this.pending.set(
      line,
      this.timers.setTimeout(() => {
        this.pending.delete(line);
        void this.register(line);
      }, delayMs),
    );
  }

  private async register(line: Line): Promise<void> {
    if (this.stopped || !this.lines.has(line)) return;
    // A refresh keeps the line usable; only a first attempt or a retry shows "in progress".
    if (line.registration.state !== 'registered') this.setState(line, 'registering');
    let res: SipResponseView;
    try {
      res = await this.requestWithTimeout(this.registerRequest(line, this.expires));
    } catch (e) {
      if (this.stopped || !this.lines.has(line)) return;
      this.fail(line, errorReason(e));
      return;
    }
    if (this.stopped || !this.lines.has(line)) return;
    if (res.status >= 200 && res.status < 300) {
      const granted = grantedExpires(res, this.expires);
      this.setState(line, 'registered');
      this.schedule(line, refreshDelayMs(granted));
      return;
    }
    this.fail(line, `${res.status} ${res.reason}`.trim());
  }

  /** The host's transactions end in 408 on their own; this guard keeps a line from waiting for ever if one does not. */
  private requestWithTimeout(req: OutgoingRequest): Promise<SipResponseView> {
    let timer: unknown;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.timers.setTimeout(() => reject(noAnswerError(this.requestTimeoutMs)), this.requestTimeoutMs);
    });
    return Promise.race([this.opts.sip.request(req), timeout]).finally(() => this.timers.clearTimeout(timer));
  }

  private fail(line: Line, reason: string): void {
    this.opts.log.warn({ account: line.uri, reason, retryInMs: this.retryMs }, 'registration failed');
    this.setState(line, 'failed', reason);
    this.schedule(line, this.retryMs);
  }

  private setState(line: Line, state: Exclude<RegistrationState, 'none'>, reason?: string): void {
    const before = line.registration;
    line.registration = reason === undefined ? { state } : { state, reason };
    if (before.state === state && before.reason === reason) return;
    this.opts.onChange({ account: line.uri, state, ...(reason !== undefined ? { reason } : {}) });
  }

  registerRequest(line: Line, expires: number): OutgoingRequest {
    const identity = `<${line.uri}>`;
    const dialog = this.dialogOf(line);
    // Same Call-ID for every REGISTER of a line (RFC 3261 10.2.4); the host may use two more CSeqs for challenges.
    dialog.cseq += 3;
    const req: OutgoingRequest = {
      method: 'REGISTER',
      uri: line.registrar,
      headers: {
        From: identity, To: identity, Contact: contactFor(line, this.opts.sip.contact), Expires: String(expires),
        'Call-ID': dialog.callId, CSeq: `${dialog.cseq} REGISTER`,
      },
    };
    // Always through the account's outbound proxy, as liblinphone sends it on the account's route (account-pool.cc:154).
    if (line.outboundProxy !== line.registrar) req.outboundProxy = line.outboundProxy;
    const credentials = line.credentials;
    if (credentials) req.credentials = credentials;
    return req;
  }

  private dialogOf(line: Line): { callId: string; cseq: number } {
    let d = this.dialogs.get(line);
    if (!d) {
      d = { callId: `${randomBytes(12).toString('hex')}@sip-bridge`, cseq: 0 };
      this.dialogs.set(line, d);
    }
    return d;
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
