/**
 * Which media protocol a port speaks on the wire, from the packets it sent (or received):
 *   plain  PCMU RTP, 172-byte UDP payloads (12 + 160), the test tone decodable from the payload;
 *   sdes   SRTP only: RTP-shaped packets of 182 (`_80` tag) or 176 (`_32`) bytes (188 AEAD), tone not decodable;
 *   dtls   DTLS records (RFC 7983 first byte 20..63, version 0xfe..) first, then SRTP;
 *   zrtp   ZRTP packets (first byte 0x10, magic 'ZRTP' at offset 4) first, then SRTP.
 * Anything else is `unknown`, with the reason. Audio streams only for the sizes (20 ms G.711 packets);
 * `videoVerdict` for a video port (no size rule, VP8 payload descriptor check instead).
 */
import type { IpPacket } from './pcap.js';
import { classify, parseRtp, type PacketClass } from './rtp.js';
import { toneSecondsIn } from './flows.js';

export type WireProtocol = 'plain' | 'sdes' | 'dtls' | 'zrtp';

export interface WireVerdict {
  readonly protocol: WireProtocol | 'unknown';
  readonly counts: Record<PacketClass, number>;
  /** UDP payload sizes of the RTP-shaped packets (RTP and SRTP share the header). */
  readonly rtpSizes: Record<number, number>;
  /** Seconds of the tone decodable from the RTP payloads as G.711 (0 when encrypted). */
  readonly toneSeconds: number;
  /** One line for assertion messages. */
  readonly why: string;
}

export const PLAIN_PCMU_SIZE = 12 + 160;
/** SRTP PCMU 20 ms: + 10 (HMAC-SHA1-80), + 4 (HMAC-SHA1-32), + 16 (AEAD GCM tag). */
export const SRTP_PCMU_SIZES: readonly number[] = [PLAIN_PCMU_SIZE + 10, PLAIN_PCMU_SIZE + 4, PLAIN_PCMU_SIZE + 16];

export interface WireOptions {
  /** The tone the sender plays (decodable iff plain). */
  readonly frequency: number;
  /** Fewer RTP-shaped packets than this: `unknown` (default 50 = 1 s of 20 ms packets). */
  readonly minRtp?: number;
  /** Plain needs at least this many seconds of tone (default 2). */
  readonly minToneSeconds?: number;
}

function countClasses(packets: readonly IpPacket[]): Record<PacketClass, number> {
  const counts: Record<PacketClass, number> = { RTP: 0, RTCP: 0, STUN: 0, DTLS: 0, ZRTP: 0, other: 0 };
  for (const p of packets) counts[classify(p.payload)]++;
  return counts;
}

const firstTime = (packets: readonly IpPacket[], c: PacketClass): number => packets.find((p) => classify(p.payload) === c)?.time ?? Infinity;

/** The verdict for an audio port's packets (one direction: what a port sent, or what was sent to it). */
export function wireVerdict(packets: readonly IpPacket[], o: WireOptions): WireVerdict {
  const udp = packets.filter((p) => p.protocol === 'udp');
  const counts = countClasses(udp);
  const rtpSizes: Record<number, number> = {};
  for (const p of udp) if (classify(p.payload) === 'RTP') rtpSizes[p.payload.length] = (rtpSizes[p.payload.length] ?? 0) + 1;
  const tone = toneSecondsIn(udp, o.frequency);
  const base = { counts, rtpSizes, toneSeconds: tone };
  const describe = (s: string): string => `${s} (classes ${JSON.stringify(counts)}, RTP sizes ${JSON.stringify(rtpSizes)}, ${tone} s of ${o.frequency} Hz decodable)`;
  const unknown = (reason: string): WireVerdict => ({ ...base, protocol: 'unknown', why: describe(`unknown: ${reason}`) });

  const minRtp = o.minRtp ?? 50;
  if (counts.RTP < minRtp) return unknown(`${counts.RTP} RTP-shaped packets < ${minRtp}`);
  const [mainSize, mainCount] = Object.entries(rtpSizes).map(([s, n]) => [Number(s), n] as const).sort((x, y) => y[1] - x[1])[0]!;
  if (mainCount < 0.9 * counts.RTP) return unknown('mixed RTP sizes');
  if (counts.ZRTP && counts.DTLS) return unknown('both ZRTP and DTLS packets');

  if (mainSize === PLAIN_PCMU_SIZE) {
    if (counts.ZRTP || counts.DTLS) return unknown('plain-sized RTP next to a key-exchange protocol');
    if (tone < (o.minToneSeconds ?? 2)) return unknown('172-byte RTP but the tone does not decode');
    return { ...base, protocol: 'plain', why: describe('plain RTP') };
  }
  if (!SRTP_PCMU_SIZES.includes(mainSize)) return unknown(`RTP size ${mainSize} is neither plain PCMU nor SRTP PCMU`);
  if (tone >= 0.2) return unknown('SRTP-sized packets, yet the tone decodes');
  // a plain packet among SRTP ones would be a leak: allow none that decodes (checked via the tone above)
  const firstRtp = firstTime(udp, 'RTP');
  if (counts.ZRTP) {
    if (firstTime(udp, 'ZRTP') > firstRtp) return unknown('SRTP before any ZRTP packet');
    return { ...base, protocol: 'zrtp', why: describe(`ZRTP then SRTP ${mainSize} B`) };
  }
  if (counts.DTLS) {
    if (firstTime(udp, 'DTLS') > firstRtp) return unknown('SRTP before any DTLS record');
    return { ...base, protocol: 'dtls', why: describe(`DTLS then SRTP ${mainSize} B`) };
  }
  return { ...base, protocol: 'sdes', why: describe(`SRTP ${mainSize} B, no key exchange on the media path (SDES)`) };
}

export interface VideoVerdict {
  /** plain: readable VP8, no key exchange; sdes / dtls / zrtp: unreadable payloads, with that key exchange on the port. */
  readonly protocol: WireProtocol | 'unknown';
  readonly rtp: number;
  /** RTP packets whose first payload byte is a valid VP8 payload descriptor (reserved bits 0x48 clear). */
  readonly vp8DescriptorShare: number;
  readonly counts: Record<PacketClass, number>;
  readonly why: string;
}

/**
 * A video port's packets (VP8): plain VP8 has a valid payload descriptor in every packet, an encrypted payload in
 * about 1 of 4; the key exchange seen on the port names the encryption. `unknown` under `minRtp` packets (default 5:
 * liblinphone's static picture goes at a few frames per second).
 */
export function videoVerdict(packets: readonly IpPacket[], minRtp = 5): VideoVerdict {
  const udp = packets.filter((p) => p.protocol === 'udp');
  const counts = countClasses(udp);
  const rtp = udp.map((p) => parseRtp(p.payload)).filter((r) => r && r.payload.length > 0);
  const valid = rtp.filter((r) => (r!.payload[0]! & 0x48) === 0).length;
  const share = rtp.length ? valid / rtp.length : 0;
  const encrypted = share < 0.8;
  let protocol: WireProtocol | 'unknown';
  if (rtp.length < minRtp || (counts.ZRTP && counts.DTLS)) protocol = 'unknown';
  else if (!encrypted) protocol = counts.ZRTP || counts.DTLS ? 'unknown' : 'plain';
  else protocol = counts.ZRTP ? 'zrtp' : counts.DTLS ? 'dtls' : 'sdes';
  return {
    protocol, rtp: rtp.length, vp8DescriptorShare: Math.round(share * 100) / 100, counts,
    why: `video ${protocol}: ${rtp.length} RTP, VP8 descriptor valid in ${Math.round(share * 100)} % (${encrypted ? 'unreadable' : 'readable'}), classes ${JSON.stringify(counts)}`,
  };
}
