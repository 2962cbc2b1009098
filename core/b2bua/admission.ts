/**
 * Admission control: a new INVITE is refused 503 with Retry-After, before any call state or leg B exists, while the media
 * plane cannot keep up: every live media worker has too many requests waiting, answers too slowly, or is at its session cap.
 * One worker under every bound is enough to admit (sessions go to the least loaded one).
 */
import { b2buaError, type B2buaError } from '../errors/index.js';
import type { MediaEngine, MediaLoad } from '../media/types.js';
import type { Logger } from '../vocabulary/index.js';

/** Seconds a refused caller is asked to wait: a worker's queue drains in seconds. */
export const OVERLOAD_RETRY_AFTER_S = 2;
const LOG_EVERY_MS = 1_000;

/** 0 = no bound. */
export interface AdmissionBounds {
  readonly maxPendingSetups: number;
  readonly maxSetupLatencyMs: number;
  readonly maxSessionsPerWorker: number;
}

/** Why every live worker is over a bound (the first bound each one exceeds), or undefined when one can take a call. */
export function overload(load: MediaLoad, b: AdmissionBounds): string | undefined {
  const live = load.workers.filter((w) => w.alive);
  if (live.length === 0) return undefined; // respawning: the call fails (or waits) as before, not an overload
  const why: string[] = [];
  for (const w of live) {
    if (b.maxPendingSetups > 0 && w.pending >= b.maxPendingSetups) why.push(`${w.pending} requests waiting (media-max-pending-setups=${b.maxPendingSetups})`);
    else if (b.maxSetupLatencyMs > 0 && w.latencyMs >= b.maxSetupLatencyMs) why.push(`answers in ${w.latencyMs} ms (media-max-setup-latency=${b.maxSetupLatencyMs})`);
    else if (b.maxSessionsPerWorker > 0 && w.sessions >= b.maxSessionsPerWorker) why.push(`${w.sessions} sessions (media-max-sessions-per-worker=${b.maxSessionsPerWorker})`);
    else return undefined;
  }
  return why.map((w, i) => `worker ${i}: ${w}`).join('; ');
}

export class Admission {
  /** INVITEs refused since start. */
  refused = 0;
  private lastLogAt = -Infinity;
  private refusedSinceLog = 0;

  constructor(private readonly media: MediaEngine, private readonly bounds: AdmissionBounds, private readonly log: Logger, private readonly now = Date.now) {}

  /** The error to answer a new INVITE with, or undefined to admit it. Logs at most once per second. */
  check(): B2buaError | undefined {
    if (!this.media.load) return undefined;
    const why = overload(this.media.load(), this.bounds);
    if (why === undefined) return undefined;
    this.refused++;
    this.refusedSinceLog++;
    const t = this.now();
    if (t - this.lastLogAt >= LOG_EVERY_MS) {
      this.log.warn({ code: 'B2BUA_MEDIA_OVERLOADED', refused: this.refusedSinceLog, refusedTotal: this.refused, problem: why }, 'media workers overloaded: new calls refused 503');
      this.lastLogAt = t;
      this.refusedSinceLog = 0;
    }
    return b2buaError('B2BUA_MEDIA_OVERLOADED', { why });
  }
}
