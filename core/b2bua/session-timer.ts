/**
 * Session timers (RFC 4028) on one leg: the refresher side re-INVITEs (or UPDATEs) at half the
 * interval; the other side expects a refresh before the interval ends, else the call ends.
 */
import type { LegId } from '../vocabulary/index.js';
import type { B2buaServerConfig } from '../config/server-config.js';
import type { SipMessage, SipRequest, SipResponse } from '../sip/message.js';
import type { TimerHandle } from '../sip/timers.js';

/** RFC 4028 minimum; a smaller configured `session-expires` (tests) lowers our Min-SE with it. */
export const MIN_SE = 90;

interface Refreshable {
  readonly ended: boolean;
  refresh(leg: LegId, useUpdate: boolean): Promise<void>;
  end(reason: string): Promise<void>;
  readonly timersApi: { after(ms: number, fn: () => void): TimerHandle };
}

function parseSessionExpires(msg: SipMessage): { interval: number; refresher?: 'uac' | 'uas' } | undefined {
  const v = msg.get('session-expires');
  const m = v ? /^\s*(\d+)\s*(?:;.*?refresher\s*=\s*(uac|uas))?/i.exec(v) : null;
  if (!m) return undefined;
  const r = m[2]?.toLowerCase() as 'uac' | 'uas' | undefined;
  return { interval: Number(m[1]), ...(r ? { refresher: r } : {}) };
}

function supportsTimer(msg: SipMessage): boolean {
  return [...msg.getAll('supported'), ...msg.getAll('require')].some((t) => t.toLowerCase() === 'timer');
}

function allowsUpdate(msg: SipMessage): boolean {
  return msg.getAll('allow').some((m) => m.toUpperCase() === 'UPDATE');
}

/** Leg B INVITE: ask for session timers with our interval. */
export function sessionTimerOffer(req: SipRequest, config: B2buaServerConfig): void {
  const interval = config.sessionExpires;
  if (interval <= 0) return;
  req.set('session-expires', String(interval));
  req.set('min-se', String(Math.min(MIN_SE, interval)));
}

export class SessionTimer {
  private timer: TimerHandle | undefined;

  constructor(
    private readonly call: Refreshable,
    readonly leg: LegId,
    public interval: number,
    readonly weRefresh: boolean,
    private readonly useUpdate: boolean,
  ) {}

  /** Leg B's 2xx: refresher=uac means us. */
  static fromAnswer(call: Refreshable, leg: LegId, res: SipResponse, config: B2buaServerConfig): SessionTimer | undefined {
    if (config.sessionExpires <= 0) return undefined;
    const se = parseSessionExpires(res);
    if (!se) return undefined;
    return new SessionTimer(call, leg, Math.max(se.interval, 1), (se.refresher ?? 'uac') === 'uac', allowsUpdate(res));
  }

  start(): void {
    this.stop();
    if (this.call.ended) return;
    if (this.weRefresh) {
      this.timer = this.call.timersApi.after((this.interval * 1000) / 2, () => {
        void this.call.refresh(this.leg, this.useUpdate).finally(() => this.start());
      });
    } else {
      const grace = Math.min(32, this.interval / 3);
      this.timer = this.call.timersApi.after((this.interval - grace) * 1000, () => void this.call.end('session-expired'));
    }
  }

  /** A re-INVITE / UPDATE from this leg refreshes the session. */
  refreshed(req: SipRequest): void {
    const se = parseSessionExpires(req);
    if (se) this.interval = Math.max(se.interval, 1);
    if (this.timer) this.start();
  }

  /** Our 2xx to the peer's refresh. */
  decorate(res: SipResponse): void {
    res.set('session-expires', `${this.interval};refresher=${this.weRefresh ? 'uas' : 'uac'}`);
    res.set('require', 'timer');
  }

  /** Our refresh request. */
  decorateRequest(req: SipRequest): void {
    req.set('session-expires', `${this.interval};refresher=uac`);
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }
}

/** Our 200 to leg A: honour the caller's Session-Expires, or ask for ours if it supports timers. */
export function sessionTimerAnswer(call: Refreshable, invite: SipRequest, ok: SipResponse, config: B2buaServerConfig): SessionTimer | undefined {
  const configured = config.sessionExpires;
  if (configured <= 0) return undefined;
  const se = parseSessionExpires(invite);
  const supported = supportsTimer(invite);
  if (!se && !supported) return undefined;
  const interval = Math.max(se?.interval ?? configured, 1);
  const refresher = se?.refresher ?? (supported ? 'uac' : 'uas');
  ok.set('session-expires', `${interval};refresher=${refresher}`);
  if (supported) ok.set('require', 'timer');
  return new SessionTimer(call, 'a', interval, refresher === 'uas', allowsUpdate(invite));
}
