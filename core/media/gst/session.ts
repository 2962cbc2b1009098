/**
 * Parent-side MediaSession of the GStreamer engine: forwards to the session's worker,
 * reserves ports in the shared pools, turns worker errors into B2buaError, and logs the
 * per-call media report at close.
 */
import { B2buaError, b2buaError, entryOf, errorReason, isB2buaError } from '../../errors/index.js';
import type { EncryptionMode, Logger, LegId, MediaKind } from '../../vocabulary/index.js';
import type { LegParams, LocalEndpoint, MediaEvent, MediaSession, SessionStats } from '../types.js';
import type { FamilyAddresses, MediaAddresses } from '../addresses.js';
import type { WorkerChannel } from '../worker/channel.js';
import type { PortPool } from './port-pool.js';
import type { WorkerSlot } from './worker-pool.js';

const PORT_ATTEMPTS = 32;

/** A media worker's error (its catalog entry has a category) is reported under that category with `what` as context. */
export function toB2buaError(e: unknown, what: string): B2buaError {
  const category = isB2buaError(e) ? entryOf(e.code).category : 'B2BUA_MEDIA_FAILED';
  if (!category) return e as B2buaError;
  return b2buaError(category, { problem: `${what}: ${errorReason(e)}` }, { cause: e });
}

export interface GstSessionDeps {
  readonly slot: WorkerSlot;
  readonly pools: Readonly<Record<MediaKind, PortPool>>;
  /** Where a leg's sockets bind and what its SDP announces, by the IP family of its peer. */
  readonly addresses: FamilyAddresses['forFamily'];
  /** The server's DTLS-SRTP certificate fingerprint (one for every call). */
  readonly dtlsFingerprint?: string | undefined;
  readonly log: Logger;
  readonly onClosed: (id: string) => void;
}

export class GstMediaSession implements MediaSession {
  private readonly listeners: ((e: MediaEvent) => void)[] = [];
  private readonly endpoints = new Map<string, Promise<LocalEndpoint>>();
  private readonly ports: { kind: MediaKind; ports: number[] }[] = [];
  private lastStats: SessionStats = { a: [], b: [] };
  private dead: string | undefined;
  private closing: Promise<SessionStats> | undefined;
  private readonly startedAt = Date.now();
  private workerGone = false;
  /** The worker that holds this session (a respawned slot gets a new channel). */
  private readonly channel: WorkerChannel;

  constructor(readonly id: string, private readonly callId: string, private readonly deps: GstSessionDeps) {
    this.channel = deps.slot.channel;
  }

  get worker(): number { return this.deps.slot.index; }

  allocate(leg: LegId, index: number, kind: MediaKind, encryption?: EncryptionMode, family?: 4 | 6): Promise<LocalEndpoint> {
    const key = `${leg}:${index}`;
    let p = this.endpoints.get(key);
    if (!p) {
      p = this.bind(leg, index, kind, encryption, this.deps.addresses(family));
      this.endpoints.set(key, p);
      p.catch(() => this.endpoints.delete(key));
    }
    return p;
  }

  private async bind(leg: LegId, index: number, kind: MediaKind, encryption: EncryptionMode | undefined, addresses: MediaAddresses): Promise<LocalEndpoint> {
    this.assertUsable('allocate');
    const pool = this.deps.pools[kind];
    const where = `media session ${this.id} leg ${leg} stream ${index} (${kind})`;
    for (const port of pool.candidates(PORT_ATTEMPTS)) {
      // Reserve before asking, so concurrent sessions do not try the same pair.
      if (port !== 0) pool.take(port, port + 1);
      try {
        const r = await this.channel.request('allocate', { sessionId: this.id, leg, index, kind, bindAddress: addresses.bind, rtpPort: port, ...(encryption ? { encryption } : {}) });
        if (port === 0) pool.take(r.rtpPort, r.rtcpPort);
        this.ports.push({ kind, ports: [r.rtpPort, r.rtcpPort] });
        return {
          address: addresses.advertised, rtpPort: r.rtpPort, rtcpPort: r.rtcpPort,
          ...(encryption === 'dtls-srtp' && this.deps.dtlsFingerprint ? { fingerprint: this.deps.dtlsFingerprint } : {}),
          ...(r.zrtpHash ? { zrtpHash: r.zrtpHash } : {}),
        };
      } catch (e) {
        if (port !== 0) pool.release(port, port + 1);
        if (isB2buaError(e, 'B2BUA_MEDIA_PORT_IN_USE')) continue;
        throw toB2buaError(e, where);
      }
    }
    const { min, max } = pool.range;
    throw b2buaError('B2BUA_MEDIA_PORTS_EXHAUSTED', { key: `${kind}-port`, min, max, address: addresses.bind });
  }

  async configure(leg: LegId, params: LegParams): Promise<void> {
    this.assertUsable('configure');
    try {
      await this.channel.request('configure', { sessionId: this.id, leg, legParams: params });
    } catch (e) {
      throw toB2buaError(e, `media session ${this.id} (call ${this.callId}) configure leg ${leg}`);
    }
  }

  /** RFC 4733 events inserted by the worker's b2bdtmf (core/native/b2bdtmf.c); false: the worker could not (nothing sent on that stream yet). */
  async sendDtmf(leg: LegId, index: number, digit: string, durationMs: number): Promise<boolean> {
    if (this.dead || this.closing) return false;
    try {
      return await this.channel.request('sendDtmf', { sessionId: this.id, leg, index, digit, durationMs });
    } catch (e) {
      this.deps.log.warn({ session: this.id, call: this.callId, error: (e as Error).message }, 'media worker could not send DTMF');
      return false;
    }
  }

  async stats(): Promise<SessionStats> {
    if (this.dead || this.closing) return this.lastStats;
    try {
      this.lastStats = await this.channel.request('stats', { sessionId: this.id });
    } catch (e) {
      if (!this.dead) throw toB2buaError(e, `media session ${this.id} stats`);
    }
    return this.lastStats;
  }

  onEvent(listener: (event: MediaEvent) => void): void {
    this.listeners.push(listener);
  }

  close(): Promise<SessionStats> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<SessionStats> {
    if (!this.workerGone) {
      try {
        this.lastStats = await this.channel.request('close', { sessionId: this.id });
      } catch (e) {
        this.deps.log.warn({ session: this.id, call: this.callId, error: (e as Error).message }, 'media worker could not close the session; final statistics are the last known ones');
      }
    }
    this.releasePorts();
    this.deps.slot.sessions.delete(this.id);
    this.deps.onClosed(this.id);
    this.deps.log.info({ call: this.callId, session: this.id, durationMs: Date.now() - this.startedAt, media: this.lastStats, ...(this.dead ? { failed: this.dead } : {}) }, 'media report');
    return this.lastStats;
  }

  /** The worker died or the pipeline failed: tell the framework, which ends the call. */
  workerDied(reason: string): void {
    this.workerGone = true;
    if (this.dead) return;
    this.dead = reason;
    this.emit({ type: 'failed', reason });
  }

  emit(event: MediaEvent): void {
    if (event.type === 'failed') this.dead ??= event.reason;
    for (const l of this.listeners) {
      try {
        l(event);
      } catch (e) {
        this.deps.log.error({ session: this.id, error: (e as Error).message }, 'media event listener threw');
      }
    }
  }

  private assertUsable(what: string): void {
    const problem = this.dead ?? (this.closing ? 'it is closed' : undefined);
    if (problem) throw b2buaError('B2BUA_MEDIA_FAILED', { problem: `media session ${this.id} (call ${this.callId}) cannot ${what}: ${problem}` });
  }

  private releasePorts(): void {
    for (const { kind, ports } of this.ports) this.deps.pools[kind].release(...ports);
    this.ports.length = 0;
  }
}
