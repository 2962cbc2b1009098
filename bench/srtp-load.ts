/**
 * The in-process SRTP load generator of bench/media.ts and bench/side-by-side/media.ts: pairs of loopback UDP
 * endpoints (leg A, leg B of one call) that each send 50 PCMU packets/s to the relay under test, encrypted before
 * the measured window, and count (and, 1 packet in 25, decrypt) what the relay delivers to them.
 *
 * Added latency: each endpoint records when it sent sequence number k (performance.now(), this process's clock);
 * the far endpoint looks the RTP sequence number of what it receives up in its peer's table (RTP headers are not
 * encrypted, and neither relay changes sequence numbers when it re-encrypts).
 */
import dgram from 'node:dgram';
import { SrtpContext, type Suite } from '../test/e2e/media/srtp-peer.js';

export const PPS = 50;

export function rtpPacket(seq: number, ssrc: number): Buffer {
  const b = Buffer.alloc(172, 0xd5);
  b[0] = 0x80;
  b[1] = 0;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(seq * 160, 4);
  b.writeUInt32BE(ssrc, 8);
  return b;
}

export async function udp(): Promise<dgram.Socket> {
  const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 20, sendBufferSize: 1 << 20 });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return s;
}

/** One leg's endpoint: sends to `relayPort`, receives what the relay sends it (from its `peer`). */
export class LoadSide {
  relayPort = 0;
  peer: LoadSide | undefined;
  wire: Buffer[] = [];
  sentAt = new Float64Array(0);
  received = 0;
  checked = 0;
  authFailures = 0;
  /** Added latency samples (ms), sent by the peer -> received here. */
  readonly latencies: number[] = [];
  private check: SrtpContext | undefined;

  constructor(readonly socket: dgram.Socket) {
    socket.on('message', (m) => {
      const now = performance.now();
      const seq = m.readUInt16BE(2);
      const sent = this.peer?.sentAt[seq];
      if (sent) this.latencies.push(now - sent);
      if (this.received++ % 25 !== 0 || !this.check) return;
      this.checked++;
      try {
        this.check.unprotectRtp(m);
      } catch {
        this.authFailures++;
      }
    });
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** `send`: the key||salt this side encrypts with (what the relay decrypts on this leg); `recv`: what the relay encrypts with towards it. */
  prepare(packets: number, ssrc: number, send: { suite: Suite; keySalt: string }, recv: { suite: Suite; keySalt: string }): void {
    const enc = new SrtpContext(send.suite, send.keySalt);
    this.check = new SrtpContext(recv.suite, recv.keySalt);
    this.wire = Array.from({ length: packets }, (_, k) => enc.protectRtp(rtpPacket(k, ssrc)));
    this.sentAt = new Float64Array(packets);
  }

  close(): void {
    this.socket.close();
  }
}

/** Two endpoints of one call, each other's peer. */
export async function sidePair(): Promise<[LoadSide, LoadSide]> {
  const a = new LoadSide(await udp());
  const b = new LoadSide(await udp());
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/** Sends every side's packets at PPS (the same tick for all), then waits 300 ms for the last ones; returns the seconds elapsed. */
export async function stream(sides: readonly LoadSide[], packets: number): Promise<number> {
  const t0 = performance.now();
  const start = Date.now();
  for (let k = 0; k < packets; k++) {
    const wait = start + (k * 1000) / PPS - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    for (const s of sides) {
      s.sentAt[k] = performance.now();
      s.socket.send(s.wire[k]!, s.relayPort, '127.0.0.1');
    }
  }
  await new Promise((r) => setTimeout(r, 300));
  return (performance.now() - t0) / 1000;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export interface LoadResult {
  sent: number;
  delivered: number;
  deliveredPct: number;
  latencyMs: { p50: number; p99: number };
  farEndChecked: number;
  farEndAuthFailures: number;
}

export function loadResult(sides: readonly LoadSide[], packets: number): LoadResult {
  const sent = sides.length * packets;
  const delivered = sides.reduce((t, s) => t + s.received, 0);
  const lat = sides.flatMap((s) => s.latencies).sort((x, y) => x - y);
  const round = (x: number): number => Number(x.toFixed(3));
  return {
    sent,
    delivered,
    deliveredPct: Number(((100 * delivered) / sent).toFixed(3)),
    latencyMs: { p50: round(percentile(lat, 50)), p99: round(percentile(lat, 99)) },
    farEndChecked: sides.reduce((t, s) => t + s.checked, 0),
    farEndAuthFailures: sides.reduce((t, s) => t + s.authFailures, 0),
  };
}
