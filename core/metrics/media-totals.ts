/**
 * Media traffic totals for /metrics: packets, bytes, losses, SRTP authentication failures and replays, summed over
 * the sessions in progress (their latest statistics) and those closed (their final statistics, kept here), so that a
 * total never goes down when a call ends. Sessions are observed by wrapping the engine's createSession in place (the
 * engine object keeps its identity and its other methods).
 */
import { ENCRYPTION_MODES, type EncryptionMode, type LegId } from '../vocabulary/index.js';
import type { LegParams, MediaEngine, MediaSession, SessionStats, StreamStats } from '../media/types.js';

export interface MediaTraffic {
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
  packetsLost: number;
  srtpAuthFailures: Record<EncryptionMode, number>;
  srtpReplays: Record<EncryptionMode, number>;
}

const byMode = (): Record<EncryptionMode, number> => Object.fromEntries(ENCRYPTION_MODES.map((m) => [m, 0])) as Record<EncryptionMode, number>;
export const zeroTraffic = (): MediaTraffic => ({ packetsIn: 0, packetsOut: 0, bytesIn: 0, bytesOut: 0, packetsLost: 0, srtpAuthFailures: byMode(), srtpReplays: byMode() });

/** Field-wise a + b (combine = sum) or max(a, b) (combine = max), into a. */
function fold(into: MediaTraffic, other: MediaTraffic, combine: (x: number, y: number) => number): MediaTraffic {
  for (const k of ['packetsIn', 'packetsOut', 'bytesIn', 'bytesOut', 'packetsLost'] as const) into[k] = combine(into[k], other[k]);
  for (const m of ENCRYPTION_MODES) {
    into.srtpAuthFailures[m] = combine(into.srtpAuthFailures[m], other.srtpAuthFailures[m]);
    into.srtpReplays[m] = combine(into.srtpReplays[m], other.srtpReplays[m]);
  }
  return into;
}
const sum = (x: number, y: number): number => x + y;

/** One session's statistics as traffic; `modeOf` names the encryption of a stream (SRTP counters are by mode). */
export function trafficOf(stats: SessionStats, modeOf: (leg: LegId, s: StreamStats) => EncryptionMode): MediaTraffic {
  const t = zeroTraffic();
  for (const leg of ['a', 'b'] as const) {
    for (const s of stats[leg]) {
      t.packetsIn += s.packetsIn;
      t.packetsOut += s.packetsOut;
      t.bytesIn += s.bytesIn;
      t.bytesOut += s.bytesOut;
      t.packetsLost += s.packetsLost ?? 0;
      const mode = modeOf(leg, s);
      t.srtpAuthFailures[mode] += s.srtpAuthFailures;
      t.srtpReplays[mode] += s.srtpReplays;
    }
  }
  return t;
}

/** The mode label of a session: its legs' mode ("sdes"), or "a/b" when they differ ("sdes/dtls-srtp"). */
export function sessionModeLabel(a: EncryptionMode | undefined, b: EncryptionMode | undefined): string {
  const first = a ?? b ?? 'none';
  const second = b ?? first;
  return first === second ? first : `${first}/${second}`;
}

interface Tracked {
  readonly session: MediaSession;
  readonly modes: Map<string, EncryptionMode>;
  legMode: Partial<Record<LegId, EncryptionMode>>;
  seen: MediaTraffic;
}

const STATS_TIMEOUT_MS = 1000;

export class MediaTotals {
  private readonly closed = zeroTraffic();
  private readonly live = new Set<Tracked>();

  /** Observe every session `engine` creates from now on. */
  track(engine: MediaEngine): void {
    const create = engine.createSession.bind(engine);
    engine.createSession = async (options) => this.observe(await create(options));
  }

  observe(session: MediaSession): MediaSession {
    const t: Tracked = { session, modes: new Map(), legMode: {}, seen: zeroTraffic() };
    this.live.add(t);
    const configure = session.configure.bind(session);
    session.configure = (leg: LegId, params: LegParams) => {
      for (const s of params.streams) t.modes.set(`${leg}:${s.index}`, s.encryption);
      const first = params.streams.find((s) => s.enabled) ?? params.streams[0];
      if (first) t.legMode[leg] = first.encryption;
      return configure(leg, params);
    };
    const close = session.close.bind(session);
    session.close = async () => {
      let final: SessionStats | undefined;
      try {
        final = await close();
        return final;
      } finally {
        // a close that rejects must not keep the session here for ever: what a scrape last saw is its final count
        if (this.live.delete(t)) fold(this.closed, final ? fold(this.trafficOf(t, final), t.seen, Math.max) : t.seen, sum);
      }
    };
    return session;
  }

  private trafficOf(t: Tracked, stats: SessionStats): MediaTraffic {
    return trafficOf(stats, (leg, s) => t.modes.get(`${leg}:${s.index}`) ?? s.security?.mode ?? 'none');
  }

  /** Sessions in progress by worker ("main" for in-process engines) and mode. */
  sessions(): { worker: string; mode: string; count: number }[] {
    const counts = new Map<string, { worker: string; mode: string; count: number }>();
    for (const t of this.live) {
      const worker = t.session.worker === undefined ? 'main' : String(t.session.worker);
      const mode = sessionModeLabel(t.legMode.a, t.legMode.b);
      const key = `${worker}|${mode}`;
      const c = counts.get(key) ?? { worker, mode, count: 0 };
      c.count++;
      counts.set(key, c);
    }
    return [...counts.values()];
  }

  /** Totals now: closed sessions plus the latest statistics of those in progress (asked for, at most 1 s each). */
  async totals(): Promise<MediaTraffic> {
    await Promise.all([...this.live].map(async (t) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), STATS_TIMEOUT_MS); });
      try {
        const stats = await Promise.race([t.session.stats(), late]);
        if (stats) t.seen = fold(this.trafficOf(t, stats), t.seen, Math.max);
      } catch {
        // a session failing (its worker died) keeps what was seen
      } finally {
        clearTimeout(timer);
      }
    }));
    const total = fold(zeroTraffic(), this.closed, sum);
    for (const t of this.live) fold(total, t.seen, sum);
    return total;
  }
}
