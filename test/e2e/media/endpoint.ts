/**
 * A test RTP endpoint on loopback: sends a G.711 µ-law tone (optionally SRTP-protected with
 * our independent TypeScript SRTP) and records what it receives (decrypting if keyed).
 */
import dgram from 'node:dgram';
import { decodeG711, encodeG711 } from '../../harness/g711.js';
import { toneSeconds } from '../../harness/goertzel.js';
import { buildRtp, parseRtp, type RtpPacket } from '../../harness/rtp.js';
import { sine } from '../../harness/tones.js';
import { SrtpContext, type Suite } from './srtp-peer.js';

export const SAMPLES_PER_PACKET = 160;

export interface PeerKey {
  readonly suite: Suite;
  readonly keySalt: string;
  readonly mki?: { readonly value: number; readonly length: number } | undefined;
  /** SRTCP tag bytes (AES-CM suites): 10 = RFC 4568 (default), 4 = what liblinphone sends with the _32 suites. */
  readonly srtcpTagLength?: 4 | 10 | undefined;
}

export interface SendToneOptions {
  readonly to: number;
  readonly count: number;
  readonly ssrc: number;
  readonly seqStart?: number;
  readonly frequency?: number;
  /** Pause every 10 packets (ms) so loopback socket buffers never overflow. */
  readonly pauseMs?: number;
}

export class TestEndpoint {
  readonly rtp: RtpPacket[] = [];
  readonly rtcp: Buffer[] = [];
  authFailures = 0;
  private sendCtx: SrtpContext | undefined;
  private recvCtx: SrtpContext | undefined;

  private constructor(private readonly socket: dgram.Socket, readonly address: string) {
    socket.on('message', (msg) => this.receive(msg));
  }

  static async open(address = '127.0.0.1', port = 0): Promise<TestEndpoint> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, address, () => resolve());
    });
    return new TestEndpoint(socket, address);
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** `undefined` = plain RTP. */
  keys(send?: PeerKey, recv?: PeerKey): void {
    const ctx = (k: PeerKey) => new SrtpContext(k.suite, k.keySalt, k.mki, k.srtcpTagLength === undefined ? {} : { srtcpTagLength: k.srtcpTagLength });
    this.sendCtx = send ? ctx(send) : undefined;
    this.recvCtx = recv ? ctx(recv) : undefined;
  }

  private receive(msg: Buffer): void {
    const isRtcp = msg.length >= 8 && msg[1]! >= 192 && msg[1]! <= 223;
    try {
      if (isRtcp) this.rtcp.push(this.recvCtx ? this.recvCtx.unprotectRtcp(msg) : msg);
      else {
        const p = parseRtp(this.recvCtx ? this.recvCtx.unprotectRtp(msg) : msg);
        if (p) this.rtp.push(p);
      }
    } catch {
      this.authFailures++;
    }
  }

  /** The packet as it would go on the wire (SRTP-protected if keyed). */
  protect(packet: Buffer): Buffer {
    const isRtcp = packet[1]! >= 192 && packet[1]! <= 223;
    return this.sendCtx ? (isRtcp ? this.sendCtx.protectRtcp(packet) : this.sendCtx.protectRtp(packet)) : packet;
  }

  /** Protect (if keyed) and send one raw packet; returns the bytes sent. */
  async sendPacket(packet: Buffer, to: number, host = '127.0.0.1'): Promise<Buffer> {
    const wire = this.protect(packet);
    await this.sendWire(wire, to, host);
    return wire;
  }

  sendWire(wire: Buffer, to: number, host = '127.0.0.1'): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(wire, to, host, (e) => (e ? reject(e) : resolve())));
  }

  async sendTone(o: SendToneOptions): Promise<void> {
    const pcm = encodeG711(sine(o.frequency ?? 1000, (o.count * SAMPLES_PER_PACKET) / 8000), 'ulaw');
    const seq0 = o.seqStart ?? 1000;
    for (let i = 0; i < o.count; i++) {
      const payload = pcm.subarray(i * SAMPLES_PER_PACKET, (i + 1) * SAMPLES_PER_PACKET);
      await this.sendPacket(buildRtp({ payloadType: 0, sequence: seq0 + i, timestamp: (seq0 + i) * SAMPLES_PER_PACKET, ssrc: o.ssrc, payload }), o.to);
      if (i % 10 === 9) await new Promise((r) => setTimeout(r, o.pauseMs ?? 2));
    }
  }

  /** RTCP receiver report (RC=0) from `ssrc`. */
  static rtcpReceiverReport(ssrc: number): Buffer {
    const b = Buffer.alloc(8);
    b[0] = 0x80;
    b[1] = 201;
    b.writeUInt16BE(1, 2);
    b.writeUInt32BE(ssrc >>> 0, 4);
    return b;
  }

  /** Seconds of `frequency` in the received audio of `ssrc` (ordered by sequence number). */
  toneSeconds(ssrc: number, frequency = 1000): number {
    const packets = this.rtp.filter((p) => p.ssrc === ssrc).sort((x, y) => x.sequence - y.sequence);
    const pcm = decodeG711(Buffer.concat(packets.map((p) => p.payload)), 'ulaw');
    return toneSeconds(pcm, 8000, frequency);
  }

  count(ssrc?: number): number {
    return ssrc === undefined ? this.rtp.length : this.rtp.filter((p) => p.ssrc === ssrc).length;
  }

  reset(): void {
    this.rtp.length = 0;
    this.rtcp.length = 0;
    this.authFailures = 0;
  }

  close(): void {
    this.socket.close();
  }
}
