/**
 * The media side of the test SIP endpoints: an audio SDP (plain RTP/AVP or SDES RTP/SAVP) and a
 * G.711 µ-law tone stream at real time (50 packets/s) on one symmetric UDP socket, SRTP-protected with the
 * independent TypeScript SRTP of test/e2e/media/srtp-peer.ts. Counts what is sent and what is received and
 * authenticated, per SSRC; SSRC change and re-key mid-stream are first-class operations.
 */
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { SrtpContext, type Suite } from '../e2e/media/srtp-peer.js';
import { buildRtp, parseRtp, type RtpPacket } from './rtp.js';
import { decodeG711, linearToUlaw } from './g711.js';
import { toneSeconds } from './goertzel.js';

export type { Suite };

export const PACKET_MS = 20;
export const SAMPLES_PER_PACKET = 160;

export interface CryptoLine {
  readonly tag: number;
  readonly suite: Suite;
  /** base64 key||salt */
  readonly keySalt: string;
}

export interface AudioSdp {
  readonly address: string;
  readonly port: number;
  readonly proto: string;
  readonly crypto: readonly CryptoLine[];
  readonly payloadTypes: readonly number[];
  readonly direction: string;
}

export function keySaltLength(suite: Suite): number {
  const key = suite.includes('256') ? 32 : suite.includes('192') ? 24 : 16;
  return key + (suite.startsWith('AEAD') ? 12 : 14);
}

export function newCrypto(tag: number, suite: Suite): CryptoLine {
  return { tag, suite, keySalt: randomBytes(keySaltLength(suite)).toString('base64') };
}

/** UDP payload size of one 20 ms PCMU packet under `suite` (undefined = plain RTP). */
export function pcmuWireSize(suite: Suite | undefined): number {
  if (!suite) return 12 + SAMPLES_PER_PACKET;
  return 12 + SAMPLES_PER_PACKET + (suite.startsWith('AEAD') ? 16 : suite.endsWith('_32') ? 4 : 10);
}

let sessionId = 1000;

/** One audio m-line, PCMU (and telephone-event on PT `telephoneEvent` when given). `crypto` given = RTP/SAVP with those a=crypto lines. */
export function buildAudioSdp(o: { port: number; crypto?: readonly CryptoLine[]; version?: number; direction?: string; telephoneEvent?: number }): string {
  const te = o.telephoneEvent;
  const secure = (o.crypto?.length ?? 0) > 0;
  return [
    'v=0',
    `o=e2e ${sessionId++} ${o.version ?? 1} IN IP4 127.0.0.1`,
    's=e2e',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio ${o.port} RTP/${secure ? 'SAVP' : 'AVP'} 0${te !== undefined ? ` ${te}` : ''}`,
    'a=rtpmap:0 PCMU/8000',
    ...(te !== undefined ? [`a=rtpmap:${te} telephone-event/8000`, `a=fmtp:${te} 0-15`] : []),
    ...(o.crypto ?? []).map((c) => `a=crypto:${c.tag} ${c.suite} inline:${c.keySalt}`),
    `a=${o.direction ?? 'sendrecv'}`,
    '',
  ].join('\r\n');
}

export function parseAudioSdp(body: string): AudioSdp {
  const lines = body.split(/\r?\n/);
  let address = /^c=IN IP4 (\S+)/m.exec(body)?.[1] ?? '';
  const m = lines.findIndex((l) => l.startsWith('m=audio '));
  if (m < 0) throw new Error(`no m=audio line in SDP:\n${body}`);
  const [, port, proto, ...pts] = lines[m]!.split(' ');
  const media = lines.slice(m + 1);
  const end = media.findIndex((l) => l.startsWith('m='));
  const attrs = end < 0 ? media : media.slice(0, end);
  address = attrs.map((l) => /^c=IN IP4 (\S+)/.exec(l)?.[1]).find(Boolean) ?? address;
  const crypto = attrs.flatMap((l) => {
    const c = /^a=crypto:(\d+) (\S+) inline:([^|\s]+)/.exec(l);
    return c ? [{ tag: Number(c[1]), suite: c[2] as Suite, keySalt: c[3]! }] : [];
  });
  const direction = attrs.map((l) => /^a=(sendrecv|sendonly|recvonly|inactive)$/.exec(l)?.[1]).find(Boolean) ?? 'sendrecv';
  return { address, port: Number(port), proto: proto ?? '', crypto, payloadTypes: pts.map(Number), direction };
}

/** The crypto line we answer with: the first offered suite we accept, a fresh key, same tag. */
export function answerCrypto(offer: AudioSdp, accept: readonly Suite[]): CryptoLine | undefined {
  const chosen = offer.crypto.find((c) => accept.includes(c.suite));
  return chosen ? newCrypto(chosen.tag, chosen.suite) : undefined;
}

interface Received {
  count: number;
  payloads: Buffer[];
}

/** Sends on a shared 20 ms clock, so that many streams cost one timer. */
const clock = {
  streams: new Set<MediaStream>(),
  timer: undefined as NodeJS.Timeout | undefined,
  add(s: MediaStream): void {
    this.streams.add(s);
    if (!this.timer) this.timer = setInterval(() => { for (const x of this.streams) x.tick(); }, 5);
  },
  remove(s: MediaStream): void {
    this.streams.delete(s);
    if (this.streams.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  },
};

export class MediaStream {
  ssrc = randomBytes(4).readUInt32BE(0);
  private seq = randomBytes(2).readUInt16BE(0) & 0x3fff;
  private sample = 0;
  private sendCtx: SrtpContext | undefined;
  /** Current and previous receive keys: packets sent before a re-key may still be in flight. */
  private recvCtxs: SrtpContext[] = [];
  private remote: { host: string; port: number } | undefined;
  private startedAt = 0;
  private sentSinceStart = 0;
  private maxPackets = Infinity;
  /** RTP packets sent per SSRC. */
  readonly sent = new Map<number, number>();
  /** RTP packets received and authenticated (or plain) per SSRC. */
  readonly received = new Map<number, Received>();
  authFailures = 0;
  /** UDP payload sizes of what we received (first 50), to check the wire format the far side got. */
  readonly receivedSizes: number[] = [];
  /** RTP packets received (authenticated or plain) whose payload type is not PCMU's 0, e.g. RFC 4733 events, in arrival order. */
  readonly otherPayloads: RtpPacket[] = [];
  /** Gaps: longest time without an accepted packet once the first arrived (ms). */
  longestGapMs = 0;
  private lastAcceptedAt = 0;
  /** SRTP expected but no key yet (our offer is out, the answer not back): packets wait here. */
  private awaitingKey = false;
  private readonly pending: Buffer[] = [];

  private constructor(private readonly socket: dgram.Socket, readonly frequency: number, private readonly keepAudio: boolean) {
    socket.on('message', (msg) => this.receive(msg));
  }

  static async open(o: { frequency: number; keepAudio?: boolean }): Promise<MediaStream> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => resolve());
    });
    socket.on('error', () => undefined);
    return new MediaStream(socket, o.frequency, o.keepAudio ?? true);
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** Where to send (from the peer's SDP). */
  target(sdp: AudioSdp): void {
    this.remote = { host: sdp.address, port: sdp.port };
  }

  sendKey(c: CryptoLine | undefined): void {
    this.sendCtx = c ? new SrtpContext(c.suite, c.keySalt) : undefined;
  }

  /** A new receive key; the previous one stays accepted for packets in flight. */
  recvKey(c: CryptoLine | undefined): void {
    this.recvCtxs = c ? [new SrtpContext(c.suite, c.keySalt), ...this.recvCtxs.slice(0, 1)] : [];
    if (this.awaitingKey) {
      this.awaitingKey = false;
      for (const msg of this.pending.splice(0)) this.receive(msg);
    }
  }

  /**
   * SRTP will come but its key is not known yet (the far side may send before its answer reaches us):
   * hold received packets (at most 500) until recvKey().
   */
  expectKey(): void {
    this.awaitingKey = true;
  }

  /** Switch to a new random SSRC (the sequence continues from a new random start, as a restarted sender would). */
  changeSsrc(): number {
    this.ssrc = randomBytes(4).readUInt32BE(0);
    this.seq = randomBytes(2).readUInt16BE(0) & 0x3fff;
    return this.ssrc;
  }

  /** Start sending at 50 packets/s; at most `maxPackets` in all. */
  start(maxPackets = Infinity): void {
    this.startedAt = Date.now();
    this.sentSinceStart = 0;
    this.maxPackets = maxPackets;
    clock.add(this);
  }

  stop(): void {
    clock.remove(this);
  }

  /** Send the packets due since start (catches up after a late timer, never runs ahead). */
  tick(): void {
    if (!this.remote) return;
    const due = Math.min(this.maxPackets, Math.floor((Date.now() - this.startedAt) / PACKET_MS) + 1);
    while (this.sentSinceStart < due) {
      this.sendOne();
      this.sentSinceStart++;
    }
    if (this.sentSinceStart >= this.maxPackets) this.stop();
  }

  /**
   * One RFC 4733 digit (section 2.5.1) on this stream's SSRC, timestamp and sequence numbers (written here, not with the
   * b2bua's code): a start packet with the marker, updates every 50 ms, then the end packet 3 times.
   */
  sendDtmf(digit: string, durationMs: number, pt: number): void {
    const event = '0123456789*#ABCD'.indexOf(digit);
    if (event < 0 || !this.remote) throw new Error(`sendDtmf: digit ${digit} or no target`);
    const timestamp = this.sample;
    const total = Math.round(durationMs * 8);
    const durations = [];
    for (let d = 400; d < total; d += 400) durations.push({ d, end: false });
    for (let k = 0; k < 3; k++) durations.push({ d: total, end: true });
    durations.forEach(({ d, end }, i) => setTimeout(() => {
      if (this.closed || !this.remote) return;
      const payload = Buffer.from([event, (end ? 0x80 : 0) | 10, (d >> 8) & 0xff, d & 0xff]);
      const packet = buildRtp({ payloadType: pt, sequence: this.seq, timestamp, ssrc: this.ssrc, payload, marker: i === 0 });
      this.seq = (this.seq + 1) & 0xffff;
      this.socket.send(this.sendCtx ? this.sendCtx.protectRtp(packet) : packet, this.remote.port, this.remote.host);
    }, i * 50));
  }

  private sendOne(): void {
    const payload = Buffer.alloc(SAMPLES_PER_PACKET);
    for (let i = 0; i < SAMPLES_PER_PACKET; i++) {
      const t = (this.sample + i) / 8000;
      payload[i] = linearToUlaw(Math.round(8000 * Math.sin(2 * Math.PI * this.frequency * t)));
    }
    const packet = buildRtp({ payloadType: 0, sequence: this.seq, timestamp: this.sample, ssrc: this.ssrc, payload });
    this.seq = (this.seq + 1) & 0xffff;
    this.sample += SAMPLES_PER_PACKET;
    const wire = this.sendCtx ? this.sendCtx.protectRtp(packet) : packet;
    this.socket.send(wire, this.remote!.port, this.remote!.host);
    this.sent.set(this.ssrc, (this.sent.get(this.ssrc) ?? 0) + 1);
  }

  private receive(msg: Buffer): void {
    if (msg.length < 12 || (msg[0]! & 0xc0) !== 0x80) return;
    if (msg[1]! >= 192 && msg[1]! <= 223) return; // RTCP: not counted
    if (this.awaitingKey) {
      if (this.pending.length < 500) this.pending.push(msg);
      return;
    }
    if (this.receivedSizes.length < 50) this.receivedSizes.push(msg.length);
    let plain: Buffer | undefined;
    if (this.recvCtxs.length === 0) plain = msg;
    for (const ctx of this.recvCtxs) {
      try {
        plain = ctx.unprotectRtp(msg);
        break;
      } catch {
        /* try the previous key */
      }
    }
    const p = plain ? parseRtp(plain) : undefined;
    if (!p) {
      this.authFailures++;
      return;
    }
    const now = Date.now();
    if (this.lastAcceptedAt) this.longestGapMs = Math.max(this.longestGapMs, now - this.lastAcceptedAt);
    this.lastAcceptedAt = now;
    if (p.payloadType !== 0) {
      this.otherPayloads.push({ ...p, payload: Buffer.from(p.payload) });
      return;
    }
    const r = this.received.get(p.ssrc) ?? { count: 0, payloads: [] };
    r.count++;
    if (this.keepAudio) r.payloads.push(Buffer.from(p.payload));
    this.received.set(p.ssrc, r);
  }

  totalSent(): number {
    return [...this.sent.values()].reduce((a, b) => a + b, 0);
  }

  totalReceived(): number {
    return [...this.received.values()].reduce((a, b) => a + b.count, 0);
  }

  /** Seconds of `frequency` in everything received (all SSRCs, arrival order). */
  toneSeconds(frequency: number): number {
    const pcm = decodeG711(Buffer.concat([...this.received.values()].flatMap((r) => r.payloads)), 'ulaw');
    return toneSeconds(pcm, 8000, frequency);
  }

  private closed = false;

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stop();
    this.socket.close();
  }
}
