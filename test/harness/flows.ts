/**
 * Per-flow media analysis of captured packets: what each (src:port > dst:port) flow carried
 * (RTP/RTCP/STUN/other counts, payload types, sizes) and, for plain G.711, how many seconds
 * of each test tone decode from it.
 */
import type { IpPacket } from './pcap.js';
import { classify, parseRtp, type PacketClass } from './rtp.js';
import { decodeG711 } from './g711.js';
import { toneSeconds } from './goertzel.js';

export interface FlowSummary {
  readonly key: string;
  readonly src: string;
  readonly srcPort: number;
  readonly dst: string;
  readonly dstPort: number;
  readonly protocol: 'udp' | 'tcp';
  readonly classes: Record<PacketClass, number>;
  readonly payloadTypes: Record<number, number>;
  readonly sizes: Record<number, number>;
  readonly firstTime: number;
  readonly lastTime: number;
  /** Seconds of each requested tone decoded from PCMU (pt 0) / PCMA (pt 8) payloads. */
  readonly toneSeconds: Record<number, number>;
}

export const flowKey = (p: { src: string; srcPort: number; dst: string; dstPort: number }): string =>
  `${p.src}:${p.srcPort}>${p.dst}:${p.dstPort}`;

/** Linear audio of a flow's G.711 RTP packets, in sequence order (duplicates dropped). */
export function g711Audio(packets: readonly IpPacket[]): Int16Array {
  const rtp = packets.map((p) => parseRtp(p.payload)).filter((r) => r && (r.payloadType === 0 || r.payloadType === 8));
  const seen = new Set<string>();
  const chunks: Int16Array[] = [];
  for (const r of rtp) {
    const id = `${r!.ssrc}/${r!.sequence}`;
    if (seen.has(id)) continue;
    seen.add(id);
    chunks.push(decodeG711(r!.payload, r!.payloadType === 0 ? 'ulaw' : 'alaw'));
  }
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const out = new Int16Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

export function summarizeFlows(packets: readonly IpPacket[], tones: readonly number[] = []): FlowSummary[] {
  const groups = new Map<string, IpPacket[]>();
  for (const p of packets) {
    const k = flowKey(p);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = []));
    g.push(p);
  }
  const out: FlowSummary[] = [];
  for (const [key, ps] of groups) {
    const classes: Record<PacketClass, number> = { RTP: 0, RTCP: 0, STUN: 0, DTLS: 0, ZRTP: 0, other: 0 };
    const payloadTypes: Record<number, number> = {};
    const sizes: Record<number, number> = {};
    for (const p of ps) {
      const c = p.protocol === 'udp' ? classify(p.payload) : 'other';
      classes[c]++;
      if (c === 'RTP') {
        const pt = p.payload[1]! & 0x7f;
        payloadTypes[pt] = (payloadTypes[pt] ?? 0) + 1;
        sizes[p.payload.length] = (sizes[p.payload.length] ?? 0) + 1;
      }
    }
    const audio = tones.length && classes.RTP ? g711Audio(ps) : new Int16Array(0);
    const toneSecs: Record<number, number> = {};
    for (const f of tones) toneSecs[f] = toneSeconds(audio, 8000, f);
    const first = ps[0]!;
    out.push({
      key,
      src: first.src,
      srcPort: first.srcPort,
      dst: first.dst,
      dstPort: first.dstPort,
      protocol: first.protocol,
      classes,
      payloadTypes,
      sizes,
      firstTime: first.time,
      lastTime: ps[ps.length - 1]!.time,
      toneSeconds: toneSecs,
    });
  }
  return out;
}

/** Human-readable one line per flow (for failure messages). */
export function describeFlows(flows: readonly FlowSummary[]): string {
  return flows
    .map((f) => `${f.protocol} ${f.key} ${JSON.stringify(f.classes)} pt=${JSON.stringify(f.payloadTypes)} tones=${JSON.stringify(f.toneSeconds)}`)
    .join('\n');
}

/** Merge-free view of everything that arrived at one port (e.g. a peer's media port), whatever the sender. */
export function packetsTo(packets: readonly IpPacket[], port: number, protocol: 'udp' | 'tcp' = 'udp'): IpPacket[] {
  return packets.filter((p) => p.dstPort === port && p.protocol === protocol);
}

export function packetsFrom(packets: readonly IpPacket[], port: number, protocol: 'udp' | 'tcp' = 'udp'): IpPacket[] {
  return packets.filter((p) => p.srcPort === port && p.protocol === protocol);
}

/** Seconds of `frequency` decodable from the G.711 RTP among `packets`. */
export function toneSecondsIn(packets: readonly IpPacket[], frequency: number): number {
  return toneSeconds(g711Audio(packets), 8000, frequency);
}
