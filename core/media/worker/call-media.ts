/**
 * One call's media inside a worker: its sockets (one per leg/stream, plus RTCP when not
 * muxed), its single pipeline (all streams, both legs), counters and silence detection.
 * A configure() that keeps the pipeline's shape only updates element properties (keys,
 * remote addresses, gates), so SRTP state (rollover counters, replay windows) survives
 * re-INVITEs that do not re-key.
 */
import type { LegParams, MediaEvent, SessionStats, StreamParams, StreamStats } from '../types.js';
import type { EncryptionMode, LegId, MediaKind } from '../../vocabulary/index.js';
import { add, zero, type Counters } from './counters.js';
import { Pipeline, type UdpSocket } from './gst.js';
import { Handshakes, type Component, type HandshakeKeys, type HandshakeShape } from './handshakes.js';
import { describePipeline, elementNames, shapeKey, type StreamShape } from './pipeline-description.js';
import type { WorkerSecurity } from './protocol.js';
import { bindRtpPair } from './sockets.js';
import { srtpParams, validateStream } from './stream-params.js';

interface StreamSockets {
  readonly kind: MediaKind;
  readonly rtp: UdpSocket;
  readonly rtcp: UdpSocket;
}

const receivesFromPeer = (d: StreamParams['direction']) => d === 'sendrecv' || d === 'recvonly';
const sendsToPeer = (d: StreamParams['direction']) => d === 'sendrecv' || d === 'sendonly';

export interface CallMediaOptions {
  readonly id: string;
  readonly callId: string;
  readonly noRtpTimeoutMs: number;
  readonly srtpSuites: readonly string[];
  readonly security: WorkerSecurity;
  readonly emit: (event: MediaEvent) => void;
  readonly log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

export class CallMedia {
  private readonly sockets = new Map<string, StreamSockets>();
  private readonly legs: Partial<Record<LegId, LegParams>> = {};
  private pipeline: Pipeline | undefined;
  private shape = '';
  private active: StreamShape[] = [];
  private readonly base = new Map<string, Counters>();
  private readonly propCache = new Map<string, unknown>();
  /** ICE: the nominated remote address:port per ingress element, '' = none (for the log and the stats). */
  private readonly nominations = new Map<string, string>();
  private readonly silence: Record<LegId, { since: number; flagged: boolean }> = {
    a: { since: 0, flagged: false },
    b: { since: 0, flagged: false },
  };
  private failed = false;
  private closed = false;
  private finalStats: SessionStats | undefined;
  private readonly handshakes: Handshakes;
  private readonly handshakeShapes = new Map<string, HandshakeShape>();
  /** Per b2bdtmf element of the current pipeline: the events already reported (its `dtmf-events` total). */
  private readonly dtmfSeen = new Map<string, number>();

  constructor(private readonly opts: CallMediaOptions) {
    this.handshakes = new Handshakes(opts.id, opts.security);
  }

  allocate(leg: LegId, index: number, kind: MediaKind, bindAddress: string, rtpPort: number, encryption?: EncryptionMode): { rtpPort: number; rtcpPort: number; zrtpHash?: string } {
    const key = `${leg}:${index}`;
    const zrtp = () => (encryption === 'zrtp' ? { zrtpHash: this.handshakes.zrtpHelloHash(leg, index) } : {});
    const existing = this.sockets.get(key);
    if (existing) return { rtpPort: existing.rtp.port, rtcpPort: existing.rtcp.port, ...zrtp() };
    const pair = bindRtpPair(bindAddress, rtpPort);
    this.sockets.set(key, { kind, ...pair });
    this.apply();
    return { rtpPort: pair.rtp.port, rtcpPort: pair.rtcp.port, ...zrtp() };
  }

  configure(leg: LegId, params: LegParams): void {
    for (const s of params.streams) validateStream(leg, s, this.opts.srtpSuites, this.opts.security);
    this.legs[leg] = params;
    for (const s of params.streams) {
      const shape = this.handshakes.configure(leg, s);
      if (shape) this.handshakeShapes.set(`${leg}:${s.index}`, shape);
      else this.handshakeShapes.delete(`${leg}:${s.index}`);
    }
    this.apply();
  }

  private stream(leg: LegId, index: number): StreamParams | undefined {
    return this.legs[leg]?.streams.find((s) => s.index === index);
  }

  private computeShape(): StreamShape[] {
    const indices = [...new Set([...this.sockets.keys()].map((k) => Number(k.split(':')[1])))].sort((x, y) => x - y);
    return indices.map((index) => {
      const legShape = (leg: LegId) => {
        const s = this.stream(leg, index);
        return s?.enabled && this.sockets.has(`${leg}:${index}`) ? { rtcpMux: s.rtcpMux, handshake: this.handshakeShapes.get(`${leg}:${index}`) } : undefined;
      };
      const a = legShape('a');
      const b = legShape('b');
      // DTMF conversion (RFC 4733 <-> SIP INFO, core/b2bua/dtmf-conversion.ts): only one leg negotiated telephone-event.
      const dtmf = a !== undefined && b !== undefined && !this.stream('a', index)?.telephoneEvent !== !this.stream('b', index)?.telephoneEvent;
      return { index, a, b, ...(dtmf ? { dtmf } : {}) };
    });
  }

  private apply(): void {
    if (this.closed) return;
    const shapes = this.computeShape();
    const key = shapeKey(shapes);
    if (key !== this.shape) this.rebuild(shapes, key);
    this.updateProperties();
  }

  private rebuild(shapes: StreamShape[], key: string): void {
    if (this.pipeline) {
      this.pollDtmf();
      for (const { leg, index } of this.activeLegStreams()) {
        const k = `${leg}:${index}`;
        this.base.set(k, add(this.base.get(k) ?? zero(), this.live(leg, index)));
      }
      this.detachHandshakes();
      this.pipeline.dispose();
      this.pipeline = undefined;
    }
    this.propCache.clear();
    this.dtmfSeen.clear();
    this.shape = key;
    this.active = shapes.filter((s) => s.a || s.b);
    if (this.active.length === 0) return;
    const pipeline = Pipeline.parse(describePipeline(this.active));
    for (const { leg, index, rtcpMux } of this.activeLegStreams()) {
      const socks = this.sockets.get(`${leg}:${index}`)!;
      const n = elementNames(leg, index);
      pipeline.element(n.rtpSrc).set('socket', socks.rtp);
      pipeline.element(n.rtpIngress).set('socket', socks.rtp); // ICE: STUN answers leave through the same socket
      pipeline.element(n.rtpSink).set('socket', socks.rtp);
      pipeline.element(n.rtcpSink).set('socket', rtcpMux ? socks.rtp : socks.rtcp);
      if (!rtcpMux) {
        pipeline.element(n.rtcpSrc).set('socket', socks.rtcp);
        pipeline.element(n.rtcpIngress).set('socket', socks.rtcp);
      }
    }
    this.pipeline = pipeline;
    // Destinations before the first buffer: a handshake element may send at once (a sink without them drops it).
    this.updateProperties();
    pipeline.play();
  }

  private activeLegStreams(): { leg: LegId; index: number; rtcpMux: boolean }[] {
    const out: { leg: LegId; index: number; rtcpMux: boolean }[] = [];
    for (const s of this.active) {
      for (const leg of ['a', 'b'] as const) {
        const shape = s[leg];
        if (shape) out.push({ leg, index: s.index, rtcpMux: shape.rtcpMux });
      }
    }
    return out;
  }

  private setProp(element: string, prop: string, value: string | number | boolean): void {
    const key = `${element}.${prop}`;
    if (this.propCache.get(key) === value) return;
    this.pipeline!.element(element).set(prop, value);
    this.propCache.set(key, value);
  }

  /** Push the current parameters (and latched peer ports) into the elements. */
  private updateProperties(): void {
    if (!this.pipeline) return;
    for (const { leg, index, rtcpMux } of this.activeLegStreams()) {
      const s = this.stream(leg, index)!;
      const n = elementNames(leg, index);
      this.setProp(n.rtpIngress, 'remote-address', s.remote?.address ?? '');
      this.setProp(n.rtpIngress, 'remote-port', s.remote?.rtpPort ?? 0);
      if (!rtcpMux) {
        this.setProp(n.rtcpIngress, 'remote-address', s.remote?.address ?? '');
        this.setProp(n.rtcpIngress, 'remote-port', s.remote?.rtcpPort ?? 0);
      }
      for (const ingress of rtcpMux ? [n.rtpIngress] : [n.rtpIngress, n.rtcpIngress]) {
        // SRTP: only a packet that authenticates moves the latch (core/media/README.md, "Media latching").
        this.setProp(ingress, 'latch-authenticated', s.encryption !== 'none');
        this.setProp(ingress, 'ice-addresses', s.ice?.remoteAddresses.join(' ') ?? '');
        this.setProp(ingress, 'ice-remote-ufrag', s.ice?.remoteUfrag ?? '');
        this.setProp(ingress, 'ice-pwd', s.ice?.localPwd ?? '');
        this.setProp(ingress, 'ice-ufrag', s.ice?.localUfrag ?? '');
      }
      const rtpKeys = this.keysOf(leg, s, 'rtp');
      const rtcpKeys = this.keysOf(leg, s, 'rtcp');
      this.setProp(n.rtpDecrypt, 'srtp-params', rtpKeys.recv);
      this.setProp(n.rtcpDecrypt, 'srtp-params', rtcpKeys.recv);
      this.setProp(n.rtpEncrypt, 'srtp-params', rtpKeys.send);
      this.setProp(n.rtcpEncrypt, 'srtp-params', rtcpKeys.send);
      if (s.remote) {
        // ICE: the pair the peer nominated; else symmetric RTP: answer to the port the peer's packets come from once latched.
        const rtpTo = (s.ice && this.nominated(leg, index, n.rtpIngress)) || { address: s.remote.address, port: this.latchedPort(n.rtpIngress) || s.remote.rtpPort };
        const rtcpTo = rtcpMux ? rtpTo
          : (s.ice && this.nominated(leg, index, n.rtcpIngress)) || { address: s.remote.address, port: this.latchedPort(n.rtcpIngress) || s.remote.rtcpPort };
        this.setProp(n.rtpSink, 'host', rtpTo.address);
        this.setProp(n.rtpSink, 'port', rtpTo.port);
        this.setProp(n.rtcpSink, 'host', rtcpTo.address);
        this.setProp(n.rtcpSink, 'port', rtcpTo.port);
      }
      if (this.active.find((st) => st.index === index)?.dtmf) {
        // On the path from `leg` to the other: detect (and drop) the events of a leg whose peer cannot take them, insert
        // events towards the other leg when only it negotiated telephone-event (sendDtmf).
        const te = s.telephoneEvent;
        const otherTe = this.stream(leg === 'a' ? 'b' : 'a', index)?.telephoneEvent;
        this.setProp(n.rtpDtmf, 'detect-pt', te && !otherTe ? te.pt : -1);
        this.setProp(n.rtpDtmf, 'detect-clock-rate', te?.clockRate ?? 8000);
        this.setProp(n.rtpDtmf, 'send-pt', otherTe && !te ? otherTe.pt : -1);
        this.setProp(n.rtpDtmf, 'send-clock-rate', otherTe?.clockRate ?? 8000);
      }
      this.setProp(n.rtpGate, 'drop', !(s.remote && sendsToPeer(s.direction)));
      this.setProp(n.rtcpGate, 'drop', !s.remote);
    }
  }

  /** The b2bsrtp parameters of a leg's stream: SDES keys, a handshake's keys once it has them ("hold" until then), or plain. */
  private keysOf(leg: LegId, s: StreamParams, component: Component): HandshakeKeys {
    if (s.encryption === 'dtls-srtp' || s.encryption === 'zrtp') return this.handshakes.keys(leg, s, component) ?? { send: 'hold', recv: 'hold' };
    return { send: srtpParams(s, 'send'), recv: srtpParams(s, 'recv') };
  }

  /** The pipeline's handshake elements let go of their connections (the holders keep them): before a rebuild or the end. */
  private detachHandshakes(): void {
    if (!this.pipeline) return;
    for (const { leg, index } of this.activeLegStreams()) {
      const h = this.active.find((s) => s.index === index)?.[leg]?.handshake;
      if (!h) continue;
      const n = elementNames(leg, index);
      this.pipeline.element(n.rtpHandshake).set('connection-id', '');
      if (h.rtcpId) this.pipeline.element(n.rtcpHandshake).set('connection-id', '');
    }
  }

  /** The address:port the peer nominated through an ingress (ICE USE-CANDIDATE), logged when it changes. */
  private nominated(leg: LegId, index: number, ingress: string): { address: string; port: number } | undefined {
    const el = this.pipeline!.element(ingress);
    const address = el.string('nominated-address');
    const port = el.number('nominated-port');
    const text = address && port ? `${address.includes(':') ? `[${address}]` : address}:${port}` : '';
    if ((this.nominations.get(ingress) ?? '') !== text) {
      this.nominations.set(ingress, text);
      if (text) this.opts.log('info', 'ICE pair nominated', { session: this.opts.id, call: this.opts.callId, leg, stream: index, component: ingress === elementNames(leg, index).rtpIngress ? 'rtp' : 'rtcp', remote: text });
    }
    return text ? { address, port } : undefined;
  }

  /** Latched source port of an ingress (0 = none): read at every poll, the latch may move (re-latching). */
  private latchedPort(ingress: string): number {
    return this.pipeline!.element(ingress).number('latched-port');
  }

  private live(leg: LegId, index: number): Counters {
    const shape = this.active.find((s) => s.index === index)?.[leg];
    if (!this.pipeline || !shape) return zero();
    const p = this.pipeline;
    const n = elementNames(leg, index);
    const ins = shape.rtcpMux ? [p.element(n.rtpIngress)] : [p.element(n.rtpIngress), p.element(n.rtcpIngress)];
    const decs = [p.element(n.rtpDecrypt), p.element(n.rtcpDecrypt)];
    const encs = [p.element(n.rtpEncrypt), p.element(n.rtcpEncrypt)];
    const sum = (els: typeof ins, prop: string) => els.reduce((t, e) => t + e.number(prop), 0);
    return {
      packetsIn: sum(ins, 'packets-in') + sum(ins, 'rtcp-packets-in'),
      bytesIn: sum(ins, 'bytes-in'),
      packetsOut: sum(encs, 'packets'),
      bytesOut: sum(encs, 'bytes'),
      srtpAuthFailures: sum(decs, 'auth-failures'),
      srtpReplays: sum(decs, 'replays'),
      rejectedSource: sum(ins, 'rejected'),
      rejectedWrongAddress: sum(ins, 'rejected-wrong-address'),
      rejectedWrongPort: sum(ins, 'rejected-wrong-port'),
      rejectedUnauthenticated: sum(ins, 'rejected-unauthenticated'),
      relatches: sum(ins, 'relatches'),
      packetsLost: p.element(n.rtpIngress).number('packets-lost'),
      iceChecksAnswered: sum(ins, 'stun-answered'),
      iceChecksRefused: sum(ins, 'stun-refused'),
      lastPacketAt: Math.floor(p.element(n.rtpIngress).number('last-rtp-time') / 1000),
    };
  }

  stats(): SessionStats {
    const forLeg = (leg: LegId): StreamStats[] =>
      [...this.sockets.entries()]
        .filter(([k]) => k.startsWith(`${leg}:`))
        .map(([k, socks]) => {
          const index = Number(k.split(':')[1]);
          const security = this.handshakes.report(leg, this.stream(leg, index), this.held(leg, index));
          const nominated = this.nominations.get(elementNames(leg, index).rtpIngress);
          return { index, kind: socks.kind, ...add(this.base.get(k) ?? zero(), this.live(leg, index)), ...(nominated ? { iceNominated: nominated } : {}), ...(security ? { security } : {}) };
        })
        .sort((x, y) => x.index - y.index);
    return { a: forLeg('a'), b: forLeg('b') };
  }

  /** Packets the decrypting elements of a stream dropped while waiting for handshake keys (since the last pipeline change). */
  private held(leg: LegId, index: number): number {
    if (!this.pipeline || !this.active.some((s) => s.index === index && s[leg])) return 0;
    const n = elementNames(leg, index);
    return this.pipeline.element(n.rtpDecrypt).number('held') + this.pipeline.element(n.rtcpDecrypt).number('held');
  }

  /** A DTLS / ZRTP handshake is under way: the worker polls this call faster until it ends. */
  get handshaking(): boolean {
    return !this.closed && !this.failed && this.handshakes.pending;
  }

  /** Handshake results: keys into the SRTP elements, events (a failure ends the call). */
  pollHandshakes(): void {
    if (this.closed || this.failed) return;
    for (const event of this.handshakes.poll()) {
      if (event.type === 'failed') {
        this.failed = true;
        this.opts.log('error', 'media handshake failed', { session: this.opts.id, call: this.opts.callId, handshake: event.handshake, reason: event.reason });
      } else {
        this.opts.log('info', event.type === 'dtls-connected' ? 'DTLS-SRTP connected' : 'ZRTP secured', { session: this.opts.id, call: this.opts.callId, leg: event.leg, detail: event.detail });
      }
      this.opts.emit(event);
    }
    this.updateProperties();
  }

  /** The b2bdtmf elements' new events (`dtmf-events`: "<total> <digit>:<ms> ...", the last 32): one `dtmf` event each. */
  private pollDtmf(): void {
    if (!this.pipeline) return;
    for (const s of this.active) {
      if (!s.dtmf) continue;
      for (const leg of ['a', 'b'] as const) {
        const name = elementNames(leg, s.index).rtpDtmf;
        const [totalText, ...ring] = this.pipeline.element(name).string('dtmf-events').split(' ');
        const total = Number(totalText);
        const seen = this.dtmfSeen.get(name) ?? 0;
        if (!(total > seen)) continue;
        this.dtmfSeen.set(name, total);
        for (const entry of ring.slice(-Math.min(ring.length, total - seen))) {
          const [digit, ms] = entry.split(':');
          this.opts.emit({ type: 'dtmf', leg, digit: digit!, durationMs: Number(ms) });
        }
      }
    }
  }

  /**
   * RFC 4733 events for `digit` on `leg`'s stream `index` (only that leg negotiated telephone-event), inserted by the
   * b2bdtmf on the other leg's path into `leg`; false when there is none or it refused (nothing forwarded to `leg` yet).
   */
  sendDtmf(leg: LegId, index: number, digit: string, durationMs: number): boolean {
    if (this.closed || !this.pipeline || !this.active.find((s) => s.index === index)?.dtmf) return false;
    const el = this.pipeline.element(elementNames(leg === 'a' ? 'b' : 'a', index).rtpDtmf);
    const refused = el.number('dtmf-send-refused');
    el.set('send-dtmf', `${digit} ${Math.max(1, Math.round(durationMs))}`);
    return el.number('dtmf-send-refused') === refused;
  }

  /** Called periodically by the worker: bus errors, latching, silence. */
  poll(now: number): void {
    if (this.closed || !this.pipeline) return;
    const error = this.pipeline.popError();
    if (error && !this.failed) {
      this.failed = true;
      this.opts.log('error', 'pipeline error', { session: this.opts.id, call: this.opts.callId, error });
      this.opts.emit({ type: 'failed', reason: `GStreamer: ${error}` });
      return;
    }
    this.pollHandshakes();
    this.pollDtmf();
    if (this.opts.noRtpTimeoutMs > 0) this.checkSilence(now);
  }

  /** Last RTP packet time of a leg (ms), reading one property per stream. */
  private lastRtpAt(leg: LegId): number {
    let last = 0;
    for (const [k, c] of this.base) if (k.startsWith(`${leg}:`)) last = Math.max(last, c.lastPacketAt);
    for (const { leg: l, index } of this.activeLegStreams()) {
      if (l === leg) last = Math.max(last, Math.floor(this.pipeline!.element(elementNames(leg, index).rtpIngress).number('last-rtp-time') / 1000));
    }
    return last;
  }

  private checkSilence(now: number): void {
    for (const leg of ['a', 'b'] as const) {
      const tracker = this.silence[leg];
      const expecting = this.activeLegStreams().some(({ leg: l, index }) => {
        const s = l === leg ? this.stream(leg, index) : undefined;
        return s?.remote !== undefined && receivesFromPeer(s.direction);
      });
      if (!expecting) {
        tracker.since = 0;
        tracker.flagged = false;
        continue;
      }
      if (tracker.since === 0) tracker.since = now;
      const last = Math.max(tracker.since, this.lastRtpAt(leg));
      const silentFor = now - last;
      if (silentFor < this.opts.noRtpTimeoutMs) tracker.flagged = false;
      else if (!tracker.flagged) {
        tracker.flagged = true;
        this.opts.emit({ type: 'leg-silent', leg, silentForMs: silentFor });
      }
    }
  }

  close(): SessionStats {
    if (this.finalStats) return this.finalStats;
    if (this.pipeline) this.pollDtmf();
    const final = this.stats();
    this.closed = true;
    this.detachHandshakes();
    this.handshakes.close();
    this.pipeline?.dispose();
    this.pipeline = undefined;
    for (const s of this.sockets.values()) {
      s.rtp.close();
      s.rtcp.close();
    }
    this.finalStats = final;
    return final;
  }
}

