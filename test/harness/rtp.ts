/** RTP/RTCP recognition and parsing (RFC 3550), enough to classify flows and extract audio payloads. */

export interface RtpPacket {
  readonly payloadType: number;
  readonly marker: boolean;
  readonly sequence: number;
  readonly timestamp: number;
  readonly ssrc: number;
  readonly payload: Buffer;
}

export type PacketClass = 'RTP' | 'RTCP' | 'STUN' | 'DTLS' | 'ZRTP' | 'other';

/** The RFC 7983 demultiplexing of one UDP payload on a media port (first byte, then each protocol's own marks). */
export function classify(b: Buffer): PacketClass {
  if (b.length >= 20 && b[0]! < 2 && b.readUInt32BE(4) === 0x2112a442) return 'STUN';
  // ZRTP (RFC 6189 §5): first byte 0x10 (version 0b0001, flags 0), magic cookie 'ZRTP' at offset 4
  if (b.length >= 12 && b[0] === 0x10 && b.readUInt32BE(4) === 0x5a525450) return 'ZRTP';
  // DTLS record (RFC 7983 §7): content type 20..63, then a DTLS version (0xfeff 1.0, 0xfefd 1.2: first byte 0xfe)
  if (b.length >= 13 && b[0]! >= 20 && b[0]! <= 63 && b[1] === 0xfe) return 'DTLS';
  if (b.length < 8 || b[0]! >> 6 !== 2) return 'other';
  const second = b[1]!;
  if (second >= 200 && second <= 206) return 'RTCP';
  return b.length >= 12 ? 'RTP' : 'other';
}

/** Parse an RTP packet, or undefined if `b` is not one (or is malformed). */
export function parseRtp(b: Buffer): RtpPacket | undefined {
  if (classify(b) !== 'RTP') return undefined;
  const csrcCount = b[0]! & 0x0f;
  const hasExtension = (b[0]! & 0x10) !== 0;
  const hasPadding = (b[0]! & 0x20) !== 0;
  let off = 12 + 4 * csrcCount;
  if (hasExtension) {
    if (b.length < off + 4) return undefined;
    off += 4 + 4 * b.readUInt16BE(off + 2);
  }
  let end = b.length;
  if (hasPadding) end -= b[b.length - 1]!;
  if (off > end) return undefined;
  return {
    payloadType: b[1]! & 0x7f,
    marker: (b[1]! & 0x80) !== 0,
    sequence: b.readUInt16BE(2),
    timestamp: b.readUInt32BE(4),
    ssrc: b.readUInt32BE(8),
    payload: b.subarray(off, end),
  };
}

/** Build an RTP packet (unit tests and synthetic traffic). */
export function buildRtp(p: { payloadType: number; sequence: number; timestamp: number; ssrc: number; payload: Uint8Array; marker?: boolean }): Buffer {
  const h = Buffer.alloc(12);
  h[0] = 0x80;
  h[1] = (p.marker ? 0x80 : 0) | (p.payloadType & 0x7f);
  h.writeUInt16BE(p.sequence & 0xffff, 2);
  h.writeUInt32BE(p.timestamp >>> 0, 4);
  h.writeUInt32BE(p.ssrc >>> 0, 8);
  return Buffer.concat([h, Buffer.from(p.payload)]);
}
