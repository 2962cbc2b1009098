/**
 * The media worker processes: N of them, sessions placed on the least loaded one. A worker
 * that exits fails its sessions (the framework ends those calls with BYE on both legs) and
 * is respawned, with a growing delay if it keeps dying.
 */
import { errorReason } from '../../errors/index.js';
import type { Logger } from '../../vocabulary/index.js';
import type { MediaHealth } from '../types.js';
import { WorkerChannel } from '../worker/channel.js';
import type { EventMessage, WorkerRequests, WorkerSecurity } from '../worker/protocol.js';

export interface WorkerSlot {
  readonly index: number;
  channel: WorkerChannel;
  /** Resolves once the worker answered `init`. */
  ready: Promise<WorkerRequests['init']['result']>;
  readonly sessions: Set<string>;
}

export interface WorkerPoolOptions {
  readonly count: number;
  readonly pluginDir: string;
  /** Given to every worker at start (and restart). */
  readonly security: WorkerSecurity;
  readonly log: Logger;
  readonly onEvent: (slot: WorkerSlot, e: EventMessage) => void;
  /** The worker of `slot` died: its sessions (ids) are lost. */
  readonly onDeath: (slot: WorkerSlot, sessionIds: string[], reason: string) => void;
}

const RESPAWN_MIN_MS = 100;
const RESPAWN_MAX_MS = 5_000;
const STABLE_AFTER_MS = 10_000;

export class WorkerPool {
  readonly slots: WorkerSlot[] = [];
  /** Workers respawned after dying, since start. */
  restarts = 0;
  private closing = false;
  private readonly respawnTimers = new Set<NodeJS.Timeout>();

  constructor(private readonly opts: WorkerPoolOptions) {
    for (let i = 0; i < opts.count; i++) this.slots.push(this.start(i, RESPAWN_MIN_MS));
  }

  private start(index: number, nextDelay: number, existing?: WorkerSlot): WorkerSlot {
    const channel = WorkerChannel.spawn({ pluginDir: this.opts.pluginDir });
    const slot: WorkerSlot = existing ?? { index, channel, ready: Promise.resolve({ srtpSuites: [], gstVersion: '', handshakes: [], srtpCrypto: '' }), sessions: new Set() };
    slot.channel = channel;
    slot.ready = channel.request('init', this.opts.security);
    slot.ready.catch(() => undefined); // reported through the exit / the engine's start-up check
    const startedAt = Date.now();
    channel.onEvent((e) => this.opts.onEvent(slot, e));
    channel.onExit((reason) => {
      const lost = [...slot.sessions];
      slot.sessions.clear();
      if (this.closing) return;
      this.opts.log.error({ worker: index, pid: channel.pid, sessions: lost.length, reason }, 'media worker died; its calls end; respawning');
      this.opts.onDeath(slot, lost, reason);
      const delay = Date.now() - startedAt > STABLE_AFTER_MS ? RESPAWN_MIN_MS : nextDelay;
      const timer = setTimeout(() => {
        this.respawnTimers.delete(timer);
        if (this.closing) return;
        this.restarts++;
        this.start(index, Math.min(delay * 2, RESPAWN_MAX_MS), slot);
      }, delay);
      this.respawnTimers.add(timer);
    });
    this.opts.log.info({ worker: index, pid: channel.pid }, 'media worker started');
    return slot;
  }

  /** The live worker with the fewest sessions. */
  pick(): WorkerSlot | undefined {
    let best: WorkerSlot | undefined;
    for (const s of this.slots) {
      if (!s.channel.alive) continue;
      if (!best || s.sessions.size < best.sessions.size) best = s;
    }
    return best;
  }

  /** Every worker asked to answer a ping within `timeoutMs`: one that is dead, respawning or stuck is not ok. */
  async health(timeoutMs: number): Promise<MediaHealth> {
    const workers = await Promise.all(this.slots.map(async (s) => {
      const pid = s.channel.pid;
      if (!s.channel.alive) return { index: s.index, pid, ok: false, problem: 'exited; being respawned' };
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs); });
      try {
        const { sessions } = await Promise.race([s.ready.then(() => s.channel.request('ping', {})), late]);
        return { index: s.index, pid, ok: true, sessions };
      } catch (e) {
        return { index: s.index, pid, ok: false, problem: errorReason(e) };
      } finally {
        clearTimeout(timer);
      }
    }));
    return { ok: workers.length > 0 && workers.every((w) => w.ok), workers };
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const t of this.respawnTimers) clearTimeout(t);
    this.respawnTimers.clear();
    await Promise.all(this.slots.map((s) => s.channel.kill()));
  }
}
