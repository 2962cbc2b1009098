/** One call's relay: streams of leg A and leg B bridged index by index. */
import type dgram from 'node:dgram';
import { b2buaError } from '../../errors/index.js';
import type { Logger, LegId, MediaKind } from '../../vocabulary/index.js';
import type { LegParams, LocalEndpoint, MediaEvent, MediaSession, MediaSessionOptions, SessionStats, StreamParams, StreamStats } from '../types.js';
import type { BoundPair, PortRangeBinder } from './sockets.js';
import { DtmfDetector, eventPackets, rtpPayloadType } from '../dtmf.js';

/** RFC 4733 events sent 50 ms apart (RFC 4733 section 2.5.1.2). */
const DTMF_PACKET_SPACING_MS = 50;

interface Peer { address: string; port: number }

/** Plain re-latch: consecutive packets with the latched SSRC a new port must send (core/media/README.md, "Media latching"). */
export const RELATCH_PACKETS = 5;

/** One socket's latch: the port, the SSRC last seen from it, a new port's consecutive packets. */
export interface Latch { port: number; ssrc: number | undefined; candidatePort: number; candidateCount: number }

export const newLatch = (): Latch => ({ port: 0, ssrc: undefined, candidatePort: 0, candidateCount: 0 });

/**
 * The plain-RTP rule (as b2bingress): the first packet latches its port, the SDP port always takes the latch back,
 * another port only after RELATCH_PACKETS consecutive packets with the latched SSRC. 'relatched' = the latch moved.
 */
export function latchPacket(l: Latch, port: number, sdpPort: number, ssrc: number | undefined): 'accept' | 'relatched' | 'wrong-port' {
  if (l.port === port) {
    l.candidateCount = 0;
    if (ssrc !== undefined) l.ssrc = ssrc;
    return 'accept';
  }
  const moveTo = (): 'accept' | 'relatched' => {
    const moved = l.port !== 0;
    Object.assign(l, { port, candidatePort: 0, candidateCount: 0 });
    if (ssrc !== undefined) l.ssrc = ssrc;
    return moved ? 'relatched' : 'accept';
  };
  if (l.port === 0 || port === sdpPort) return moveTo();
  if (ssrc !== undefined && ssrc === l.ssrc) {
    if (l.candidatePort === port) l.candidateCount++;
    else Object.assign(l, { candidatePort: port, candidateCount: 1 });
    if (l.candidateCount >= RELATCH_PACKETS) return moveTo();
  } else {
    Object.assign(l, { candidatePort: 0, candidateCount: 0 });
  }
  return 'wrong-port';
}

interface Stream {
  readonly leg: LegId;
  readonly index: number;
  readonly kind: MediaKind;
  readonly pair: BoundPair;
  readonly endpoint: LocalEndpoint;
  params: StreamParams | undefined;
  /** Latched source of the SDP address (RTP and RTCP sockets), by latchPacket(). */
  latchedRtp: Peer | undefined;
  latchedRtcp: Peer | undefined;
  latch: { rtp: Latch; rtcp: Latch };
  /** Telephone-events received on this stream that the other leg cannot take (created on the first one). */
  dtmf: DtmfDetector | undefined;
  /** What we last sent on this stream, and how many packets we inserted (DTMF) so far: forwarded sequence numbers are shifted by it. */
  out: { ssrc: number; seq: number; timestamp: number; at: number; seqOffset: number } | undefined;
  stats: {
    packetsIn: number; bytesIn: number; packetsOut: number; bytesOut: number; rejectedSource: number; lastPacketAt: number;
    rejectedWrongAddress: number; rejectedWrongPort: number; relatches: number;
  };
}

function isRtcp(packet: Buffer): boolean {
  // RFC 5761 §4: RTCP packet types 192-223 in the second byte.
  return packet.length >= 2 && packet[1]! >= 192 && packet[1]! <= 223;
}

function sendsTo(d: StreamParams['direction']): boolean {
  return d === 'sendrecv' || d === 'sendonly';
}

function receivesFrom(d: StreamParams['direction']): boolean {
  return d === 'sendrecv' || d === 'recvonly';
}

/** The sockets and announced address of one IP family. */
export interface RelayBinders {
  readonly audio: PortRangeBinder;
  readonly video: PortRangeBinder;
  readonly advertised: string;
}

export class RelaySession implements MediaSession {
  private readonly streams = new Map<string, Stream>();
  private readonly pending = new Map<string, Promise<Stream>>();
  private readonly listeners: ((e: MediaEvent) => void)[] = [];
  private silenceTimer: NodeJS.Timeout | undefined;
  /** Per leg: when silence started being measured (configure or last packet) and whether it was reported. */
  private readonly silence = { a: { since: 0, reported: false }, b: { since: 0, reported: false } };
  private closed: SessionStats | undefined;

  constructor(
    readonly id: string,
    private readonly options: MediaSessionOptions,
    private readonly binders: (family: 4 | 6 | undefined) => RelayBinders,
    private readonly log: Logger,
    private readonly onClosed: () => void,
  ) {
    if (options.noRtpTimeoutMs > 0) {
      const every = Math.max(20, Math.min(1000, Math.floor(options.noRtpTimeoutMs / 4)));
      this.silenceTimer = setInterval(() => this.checkSilence(), every);
      this.silenceTimer.unref();
    }
  }

  get portsInUse(): number {
    return this.closed ? 0 : this.streams.size * 2;
  }

  allocate(leg: LegId, index: number, kind: MediaKind, _encryption?: unknown, family?: 4 | 6): Promise<LocalEndpoint> {
    if (this.closed) return Promise.reject(b2buaError('B2BUA_MEDIA_SESSION_CLOSED', {}));
    const key = `${leg}${index}`;
    const existing = this.pending.get(key);
    if (existing) return existing.then((s) => s.endpoint);
    const binders = this.binders(family);
    const p = binders[kind].bindPair().then((pair) => {
      const stream: Stream = {
        leg, index, kind, pair,
        endpoint: { address: binders.advertised, rtpPort: pair.rtpPort, rtcpPort: pair.rtcpPort },
        params: undefined, latchedRtp: undefined, latchedRtcp: undefined, latch: { rtp: newLatch(), rtcp: newLatch() }, dtmf: undefined, out: undefined,
        stats: { packetsIn: 0, bytesIn: 0, packetsOut: 0, bytesOut: 0, rejectedSource: 0, lastPacketAt: 0, rejectedWrongAddress: 0, rejectedWrongPort: 0, relatches: 0 },
      };
      if (this.closed) { pair.rtp.close(); pair.rtcp.close(); throw b2buaError('B2BUA_MEDIA_SESSION_CLOSED', {}); }
      this.streams.set(key, stream);
      pair.rtp.on('message', (m, r) => this.receive(stream, m, r, false));
      pair.rtcp.on('message', (m, r) => this.receive(stream, m, r, true));
      pair.rtp.on('error', (e) => this.log.warn({ err: e.message }, 'RTP socket error'));
      pair.rtcp.on('error', (e) => this.log.warn({ err: e.message }, 'RTCP socket error'));
      return stream;
    });
    this.pending.set(key, p);
    p.catch(() => this.pending.delete(key));
    return p.then((s) => s.endpoint);
  }

  async configure(leg: LegId, params: LegParams): Promise<void> {
    if (this.closed) return;
    for (const sp of params.streams) {
      const s = this.streams.get(`${leg}${sp.index}`);
      if (!s) continue;
      const before = s.params?.remote;
      if (!sp.remote || !before || before.address !== sp.remote.address || before.rtpPort !== sp.remote.rtpPort) {
        s.latchedRtp = undefined;
        s.latchedRtcp = undefined;
        s.latch = { rtp: newLatch(), rtcp: newLatch() };
      }
      s.params = sp;
    }
    if (this.silence[leg].since === 0 || this.silence[leg].reported) this.silence[leg] = { since: Date.now(), reported: false };
  }

  private receive(s: Stream, packet: Buffer, from: dgram.RemoteInfo, onRtcpSocket: boolean): void {
    const remote = s.params?.remote;
    if (!remote || !s.params?.enabled || from.address !== remote.address) { s.stats.rejectedSource++; s.stats.rejectedWrongAddress++; return; }
    const rtcp = onRtcpSocket || isRtcp(packet);
    const ssrc = rtcp ? (packet.length >= 8 ? packet.readUInt32BE(4) : undefined) : packet.length >= 12 ? packet.readUInt32BE(8) : undefined;
    const verdict = latchPacket(onRtcpSocket ? s.latch.rtcp : s.latch.rtp, from.port, onRtcpSocket ? remote.rtcpPort : remote.rtpPort, ssrc);
    if (verdict === 'wrong-port') { s.stats.rejectedSource++; s.stats.rejectedWrongPort++; return; }
    if (verdict === 'relatched') s.stats.relatches++;
    s[onRtcpSocket ? 'latchedRtcp' : 'latchedRtp'] = { address: from.address, port: from.port };
    s.stats.packetsIn++;
    s.stats.bytesIn += packet.length;
    if (!rtcp) {
      s.stats.lastPacketAt = Date.now();
      if (this.silence[s.leg].reported) this.log.info({ leg: s.leg }, 'RTP back after silence');
      this.silence[s.leg] = { since: s.stats.lastPacketAt, reported: false };
    }
    const other = this.streams.get(`${s.leg === 'a' ? 'b' : 'a'}${s.index}`);
    const te = s.params.telephoneEvent;
    if (!rtcp && te && !other?.params?.telephoneEvent && packet.length >= 12 && rtpPayloadType(packet) === te.pt) {
      this.detectDtmf(s, te.clockRate, packet);
      return;
    }
    if (!other?.params?.enabled || !other.params.remote) return;
    if (!rtcp && !sendsTo(other.params.direction)) return;
    this.forward(other, packet, rtcp);
  }

  /** Send from the other leg's own socket (symmetric RTP), to where its peer sends from, else its SDP address. */
  private forward(to: Stream, packet: Buffer, rtcp: boolean): void {
    const p = to.params!;
    const remote = p.remote!;
    const viaMux = rtcp && p.rtcpMux;
    const socket = rtcp && !viaMux ? to.pair.rtcp : to.pair.rtp;
    const dest = rtcp && !viaMux
      ? to.latchedRtcp ?? { address: remote.address, port: remote.rtcpPort }
      : to.latchedRtp ?? { address: remote.address, port: remote.rtpPort };
    if (!rtcp && packet.length >= 12) {
      const offset = to.out?.seqOffset ?? 0;
      if (offset !== 0) packet.writeUInt16BE((packet.readUInt16BE(2) + offset) & 0xffff, 2);
      to.out = { ssrc: packet.readUInt32BE(8), seq: packet.readUInt16BE(2), timestamp: packet.readUInt32BE(4), at: Date.now(), seqOffset: offset };
    }
    to.stats.packetsOut++;
    to.stats.bytesOut += packet.length;
    socket.send(packet, dest.port, dest.address);
  }

  private detectDtmf(s: Stream, clockRate: number, packet: Buffer): void {
    s.dtmf ??= new DtmfDetector(clockRate);
    const before = s.dtmf.dropped;
    const d = s.dtmf.push(packet);
    if (s.dtmf.dropped !== before) this.log.debug({ leg: s.leg, dropped: s.dtmf.dropped }, 'DTMF event over the rate bound dropped');
    if (d) this.emit({ type: 'dtmf', leg: s.leg, digit: d.digit, durationMs: d.durationMs });
  }

  /** RFC 4733 packets on the stream's SSRC, sequence numbers continuing it (later forwarded packets shifted), 50 ms apart. */
  sendDtmf(leg: LegId, index: number, digit: string, durationMs: number): boolean {
    const to = this.streams.get(`${leg}${index}`);
    const te = to?.params?.telephoneEvent;
    if (!to || !te || !to.params?.enabled || !to.params.remote || !to.out || this.closed) return false;
    const out = to.out;
    const timestamp = (out.timestamp + Math.round(((Date.now() - out.at) * te.clockRate) / 1000)) >>> 0;
    const packets = eventPackets(digit, durationMs, te.pt, te.clockRate, { ssrc: out.ssrc, seq: 0, timestamp });
    if (packets.length === 0) return false;
    packets.forEach((p, i) => {
      const timer = setTimeout(() => {
        if (this.closed || !to.out || !to.params?.remote) return;
        to.out.seqOffset++;
        to.out.seq = (to.out.seq + 1) & 0xffff;
        p.writeUInt16BE(to.out.seq, 2);
        p.writeUInt32BE(to.out.ssrc, 8);
        const dest = to.latchedRtp ?? { address: to.params.remote.address, port: to.params.remote.rtpPort };
        to.stats.packetsOut++;
        to.stats.bytesOut += p.length;
        to.pair.rtp.send(p, dest.port, dest.address);
      }, i * DTMF_PACKET_SPACING_MS);
      timer.unref();
    });
    return true;
  }

  private checkSilence(): void {
    const now = Date.now();
    for (const leg of ['a', 'b'] as const) {
      const expecting = [...this.streams.values()].some((s) => s.leg === leg && s.params?.enabled && s.params.remote && receivesFrom(s.params.direction));
      const st = this.silence[leg];
      if (!expecting) { st.since = now; continue; }
      if (st.reported || st.since === 0) continue;
      const silentFor = now - st.since;
      if (silentFor >= this.options.noRtpTimeoutMs) {
        st.reported = true;
        this.emit({ type: 'leg-silent', leg, silentForMs: silentFor });
      }
    }
  }

  private emit(e: MediaEvent): void {
    for (const l of this.listeners) {
      try { l(e); } catch (err) { this.log.error({ err: (err as Error).stack }, 'media event listener threw'); }
    }
  }

  onEvent(listener: (event: MediaEvent) => void): void {
    this.listeners.push(listener);
  }

  async stats(): Promise<SessionStats> {
    if (this.closed) return this.closed;
    const of = (leg: LegId): StreamStats[] => [...this.streams.values()].filter((s) => s.leg === leg).sort((x, y) => x.index - y.index)
      .map((s) => ({ index: s.index, kind: s.kind, ...s.stats, srtpAuthFailures: 0, srtpReplays: 0 }));
    return { a: of('a'), b: of('b') };
  }

  async close(): Promise<SessionStats> {
    if (this.closed) return this.closed;
    await Promise.allSettled([...this.pending.values()]);
    const final = await this.stats();
    this.closed = final;
    if (this.silenceTimer) clearInterval(this.silenceTimer);
    for (const s of this.streams.values()) {
      try { s.pair.rtp.close(); } catch { /* already closed */ }
      try { s.pair.rtcp.close(); } catch { /* already closed */ }
    }
    this.streams.clear();
    this.pending.clear();
    this.onClosed();
    return final;
  }
}
