/**
 * One call's media inside a worker: its sockets (one per leg/stream, plus RTCP when not
 * muxed), its single pipeline (all streams, both legs), counters and silence detection.
 * A configure() that keeps the pipeline's shape only updates element properties (keys,
 * remote addresses, gates), so SRTP state (rollover counters, replay windows) survives
 * re-INVITEs that do not re-key.
 */
import net from 'node:net';
import { b2buaError } from '../../errors/index.js';
import { SRTP_KEY_SALT_BYTES, isSrtpSuite } from '../sdes.js';
import type { LegParams, MediaEvent, SessionStats, StreamParams, StreamStats } from '../types.js';
import type { LegId, MediaKind } from '../../vocabulary/index.js';
import { Pipeline, UdpSocket } from './gst.js';
import { describePipeline, elementNames, shapeKey, type StreamShape } from './pipeline-description.js';
import { REFUSED_SUITES, mkiRefusal } from './suites.js';

interface StreamSockets {
  readonly kind: MediaKind;
  readonly rtp: UdpSocket;
  readonly rtcp: UdpSocket;
}

type Counters = { -readonly [K in keyof Omit<StreamStats, 'index' | 'kind'>]: number };

const zero = (): Counters => ({ packetsIn: 0, bytesIn: 0, packetsOut: 0, bytesOut: 0, srtpAuthFailures: 0, srtpReplays: 0, rejectedSource: 0, lastPacketAt: 0 });

function add(x: Counters, y: Counters): Counters {
  return {
    packetsIn: x.packetsIn + y.packetsIn, bytesIn: x.bytesIn + y.bytesIn,
    packetsOut: x.packetsOut + y.packetsOut, bytesOut: x.bytesOut + y.bytesOut,
    srtpAuthFailures: x.srtpAuthFailures + y.srtpAuthFailures, srtpReplays: x.srtpReplays + y.srtpReplays,
    rejectedSource: x.rejectedSource + y.rejectedSource, lastPacketAt: Math.max(x.lastPacketAt, y.lastPacketAt),
  };
}

const RTCP_PORT_TRIES = 16;
const receivesFromPeer = (d: StreamParams['direction']) => d === 'sendrecv' || d === 'recvonly';
const sendsToPeer = (d: StreamParams['direction']) => d === 'sendrecv' || d === 'sendonly';

function srtpParams(stream: StreamParams, which: 'send' | 'recv'): string {
  if (stream.encryption !== 'sdes' || !stream.srtp) return '';
  const key = stream.srtp[which];
  return key.mki ? `${key.suite} ${key.keySalt} ${key.mki.value}:${key.mki.length}` : `${key.suite} ${key.keySalt}`;
}

export interface CallMediaOptions {
  readonly id: string;
  readonly callId: string;
  readonly noRtpTimeoutMs: number;
  readonly srtpSuites: readonly string[];
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
  private readonly latched = new Map<string, number>();
  private readonly silence: Record<LegId, { since: number; flagged: boolean }> = {
    a: { since: 0, flagged: false },
    b: { since: 0, flagged: false },
  };
  private family: 'ipv4' | 'ipv6' = 'ipv4';
  private failed = false;
  private closed = false;
  private finalStats: SessionStats | undefined;

  constructor(private readonly opts: CallMediaOptions) {}

  allocate(leg: LegId, index: number, kind: MediaKind, bindAddress: string, rtpPort: number): { rtpPort: number; rtcpPort: number } {
    const key = `${leg}:${index}`;
    const existing = this.sockets.get(key);
    if (existing) return { rtpPort: existing.rtp.port, rtcpPort: existing.rtcp.port };
    this.family = net.isIPv6(bindAddress) ? 'ipv6' : 'ipv4';
    const pair = rtpPort === 0 ? this.bindKernelPair(bindAddress) : this.bindPair(bindAddress, rtpPort);
    this.sockets.set(key, { kind, ...pair });
    this.apply();
    return { rtpPort: pair.rtp.port, rtcpPort: pair.rtcp.port };
  }

  private bindPair(address: string, port: number): { rtp: UdpSocket; rtcp: UdpSocket } {
    const rtp = bindOrInUse(address, port);
    try {
      return { rtp, rtcp: bindOrInUse(address, port + 1) };
    } catch (e) {
      rtp.close();
      throw e;
    }
  }

  /** Kernel-chosen RTP port with RTCP on the next one when free (else another kernel port). */
  private bindKernelPair(address: string): { rtp: UdpSocket; rtcp: UdpSocket } {
    for (let i = 0; i < RTCP_PORT_TRIES; i++) {
      const rtp = bindOrInUse(address, 0);
      if (rtp.port < 65535) {
        try {
          return { rtp, rtcp: UdpSocket.bind(address, rtp.port + 1) };
        } catch {
          /* next try */
        }
      }
      rtp.close();
    }
    const rtp = bindOrInUse(address, 0);
    return { rtp, rtcp: bindOrInUse(address, 0) };
  }

  configure(leg: LegId, params: LegParams): void {
    for (const s of params.streams) this.validate(leg, s);
    this.legs[leg] = params;
    this.latched.clear();
    this.apply();
  }

  private validate(leg: LegId, s: StreamParams): void {
    const where = `leg ${leg} stream ${s.index} (${s.kind})`;
    if (!s.enabled) return;
    if (s.encryption !== 'none' && s.encryption !== 'sdes') {
      throw b2buaError('B2BUA_GST_ENCRYPTION_UNAVAILABLE', { where, mode: s.encryption, available: 'none, sdes' });
    }
    if (s.encryption === 'sdes') {
      if (!s.srtp) throw b2buaError('B2BUA_SRTP_KEY_INVALID', { where, problem: 'encryption sdes without srtp keys' });
      for (const which of ['send', 'recv'] as const) {
        const k = s.srtp[which];
        const refused = isSrtpSuite(k.suite) ? REFUSED_SUITES[k.suite] : undefined;
        if (refused) throw b2buaError('B2BUA_SRTP_SUITE_REFUSED', { where, suite: k.suite, why: refused });
        if (!isSrtpSuite(k.suite) || !this.opts.srtpSuites.includes(k.suite)) {
          throw b2buaError('B2BUA_SRTP_SUITE_UNSUPPORTED', { where, suite: k.suite, suites: this.opts.srtpSuites.join(', ') });
        }
        const mkiRefused = k.mki ? mkiRefusal(k.suite) : undefined;
        if (mkiRefused) throw b2buaError('B2BUA_SRTP_MKI_REFUSED', { where, which, why: mkiRefused });
        if (k.mki && !(Number.isSafeInteger(k.mki.value) && k.mki.value >= 0 && Number.isInteger(k.mki.length) && k.mki.length >= 1 && k.mki.length <= 128 && (k.mki.length >= 7 || k.mki.value < 256 ** k.mki.length))) {
          throw b2buaError('B2BUA_SRTP_KEY_INVALID', { where, problem: `${which} key MKI ${k.mki.value}:${k.mki.length} is not a value that fits its length (1..128 bytes)` });
        }
        const len = Buffer.from(k.keySalt, 'base64').length;
        if (len !== SRTP_KEY_SALT_BYTES[k.suite]) {
          throw b2buaError('B2BUA_SRTP_KEY_INVALID', { where, problem: `${which} key for ${k.suite} has ${len} bytes of key||salt, expected ${SRTP_KEY_SALT_BYTES[k.suite]}` });
        }
      }
    }
    if (s.remote && net.isIP(s.remote.address) === 0) {
      throw b2buaError('B2BUA_MEDIA_ADDRESS_INVALID', { where, address: s.remote.address });
    }
  }

  private stream(leg: LegId, index: number): StreamParams | undefined {
    return this.legs[leg]?.streams.find((s) => s.index === index);
  }

  private computeShape(): StreamShape[] {
    const indices = [...new Set([...this.sockets.keys()].map((k) => Number(k.split(':')[1])))].sort((x, y) => x - y);
    return indices.map((index) => {
      const legShape = (leg: LegId) => {
        const s = this.stream(leg, index);
        return s?.enabled && this.sockets.has(`${leg}:${index}`) ? { rtcpMux: s.rtcpMux } : undefined;
      };
      return { index, a: legShape('a'), b: legShape('b') };
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
      for (const { leg, index } of this.activeLegStreams()) {
        const k = `${leg}:${index}`;
        this.base.set(k, add(this.base.get(k) ?? zero(), this.live(leg, index)));
      }
      this.pipeline.stop();
      this.pipeline = undefined;
    }
    this.propCache.clear();
    this.latched.clear();
    this.shape = key;
    this.active = shapes.filter((s) => s.a || s.b);
    if (this.active.length === 0) return;
    const pipeline = Pipeline.parse(describePipeline(this.active, this.family));
    for (const { leg, index, rtcpMux } of this.activeLegStreams()) {
      const socks = this.sockets.get(`${leg}:${index}`)!;
      const n = elementNames(leg, index);
      pipeline.element(n.rtpSrc).set('socket', socks.rtp);
      pipeline.element(n.rtpSink).set('socket', socks.rtp);
      pipeline.element(n.rtcpSink).set('socket', rtcpMux ? socks.rtp : socks.rtcp);
      if (!rtcpMux) pipeline.element(n.rtcpSrc).set('socket', socks.rtcp);
    }
    this.pipeline = pipeline;
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
      const recv = srtpParams(s, 'recv');
      this.setProp(n.rtpDecrypt, 'srtp-params', recv);
      this.setProp(n.rtcpDecrypt, 'srtp-params', recv);
      const send = srtpParams(s, 'send');
      this.setProp(n.rtpEncrypt, 'srtp-params', send);
      this.setProp(n.rtcpEncrypt, 'srtp-params', send);
      if (s.remote) {
        // Symmetric RTP: answer to the port the peer's packets come from once latched.
        const rtpPort = this.latchedPort(n.rtpIngress) || s.remote.rtpPort;
        const rtcpPort = rtcpMux ? rtpPort : this.latchedPort(n.rtcpIngress) || s.remote.rtcpPort;
        this.setProp(n.rtpSink, 'host', s.remote.address);
        this.setProp(n.rtpSink, 'port', rtpPort);
        this.setProp(n.rtcpSink, 'host', s.remote.address);
        this.setProp(n.rtcpSink, 'port', rtcpPort);
      }
      this.setProp(n.rtpGate, 'drop', !(s.remote && sendsToPeer(s.direction)));
      this.setProp(n.rtcpGate, 'drop', !s.remote);
    }
  }

  /** Latched source port of an ingress; read from the element only until it latched (it resets on a new remote). */
  private latchedPort(ingress: string): number {
    const known = this.latched.get(ingress);
    if (known) return known;
    const port = this.pipeline!.element(ingress).number('latched-port');
    if (port) this.latched.set(ingress, port);
    return port;
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
      lastPacketAt: Math.floor(p.element(n.rtpIngress).number('last-rtp-time') / 1000),
    };
  }

  stats(): SessionStats {
    const forLeg = (leg: LegId): StreamStats[] =>
      [...this.sockets.entries()]
        .filter(([k]) => k.startsWith(`${leg}:`))
        .map(([k, socks]) => {
          const index = Number(k.split(':')[1]);
          return { index, kind: socks.kind, ...add(this.base.get(k) ?? zero(), this.live(leg, index)) };
        })
        .sort((x, y) => x.index - y.index);
    return { a: forLeg('a'), b: forLeg('b') };
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
    this.updateProperties();
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
    const final = this.stats();
    this.closed = true;
    this.pipeline?.stop();
    this.pipeline = undefined;
    for (const s of this.sockets.values()) {
      s.rtp.close();
      s.rtcp.close();
    }
    this.finalStats = final;
    return final;
  }
}

function bindOrInUse(address: string, port: number): UdpSocket {
  try {
    return UdpSocket.bind(address, port);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (/in use/i.test(msg)) throw b2buaError('B2BUA_MEDIA_PORT_IN_USE', { address, port });
    throw b2buaError('B2BUA_MEDIA_PORT_BIND_FAILED', { address, port, why: msg });
  }
}
