/** A small reader for classic libpcap files (as written by `dumpcap -P`), down to IPv4 UDP/TCP and IPv6 UDP payloads. */

export interface IpPacket {
  /** Capture time, seconds since the epoch. */
  readonly time: number;
  readonly protocol: 'udp' | 'tcp';
  readonly src: string;
  readonly srcPort: number;
  readonly dst: string;
  readonly dstPort: number;
  readonly payload: Buffer;
}

const LINKTYPE_NULL = 0;
const LINKTYPE_ETHERNET = 1;
const LINKTYPE_RAW = 101;
const LINKTYPE_LINUX_SLL = 113;
const LINKTYPE_LINUX_SLL2 = 276;

/** Offset of the IPv4 header inside a link-layer frame, or -1 when the frame is not IPv4. */
function ipv4Offset(linkType: number, frame: Buffer): number {
  switch (linkType) {
    case LINKTYPE_ETHERNET:
      return frame.length >= 14 && (frame.readUInt16BE(12) === 0x0800 || frame.readUInt16BE(12) === 0x86dd) ? 14 : -1;
    case LINKTYPE_NULL:
      return frame.length >= 4 && (frame.readUInt32LE(0) === 2 || frame.readUInt32BE(0) === 2) ? 4 : -1;
    case LINKTYPE_RAW:
      return 0;
    case LINKTYPE_LINUX_SLL:
      return frame.length >= 16 && frame.readUInt16BE(14) === 0x0800 ? 16 : -1;
    case LINKTYPE_LINUX_SLL2:
      return frame.length >= 20 && frame.readUInt16BE(0) === 0x0800 ? 20 : -1;
    default:
      throw new Error(`pcap: unsupported link type ${linkType}`);
  }
}

const ip = (b: Buffer, o: number): string => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;

/** IPv6 UDP without extension headers (what loopback media is); addresses as 8 uncompressed hex groups. */
function decodeIpv6(frame: Buffer, off: number, time: number): IpPacket | undefined {
  if (frame.length < off + 48 || frame[off + 6] !== 17) return undefined;
  const ip6 = (o: number): string => Array.from({ length: 8 }, (_, i) => frame.readUInt16BE(o + 2 * i).toString(16)).join(':');
  const end = Math.min(frame.length, off + 40 + frame.readUInt16BE(off + 4));
  const l4 = off + 40;
  return { time, protocol: 'udp', src: ip6(off + 8), dst: ip6(off + 24), srcPort: frame.readUInt16BE(l4), dstPort: frame.readUInt16BE(l4 + 2), payload: frame.subarray(l4 + 8, end) };
}

function decodeIpv4(frame: Buffer, off: number, time: number): IpPacket | undefined {
  if (off >= 0 && frame.length > off && frame[off]! >> 4 === 6) return decodeIpv6(frame, off, time);
  if (off < 0 || frame.length < off + 20 || frame[off]! >> 4 !== 4) return undefined;
  const ihl = (frame[off]! & 0x0f) * 4;
  const totalLength = frame.readUInt16BE(off + 2);
  const fragment = frame.readUInt16BE(off + 6) & 0x1fff;
  if (fragment !== 0) return undefined;
  const proto = frame[off + 9];
  const end = Math.min(frame.length, off + totalLength);
  const l4 = off + ihl;
  const src = ip(frame, off + 12);
  const dst = ip(frame, off + 16);
  if (proto === 17 && end >= l4 + 8) {
    return { time, protocol: 'udp', src, dst, srcPort: frame.readUInt16BE(l4), dstPort: frame.readUInt16BE(l4 + 2), payload: frame.subarray(l4 + 8, end) };
  }
  if (proto === 6 && end >= l4 + 20) {
    const dataOff = (frame[l4 + 12]! >> 4) * 4;
    return { time, protocol: 'tcp', src, dst, srcPort: frame.readUInt16BE(l4), dstPort: frame.readUInt16BE(l4 + 2), payload: frame.subarray(l4 + dataOff, end) };
  }
  return undefined;
}

/** All IPv4 UDP/TCP packets of a classic pcap file (µs or ns timestamps, either byte order). */
export function parsePcap(buf: Buffer): IpPacket[] {
  if (buf.length < 24) return [];
  const magic = buf.readUInt32LE(0);
  let le: boolean;
  let nano: boolean;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) {
    le = true;
    nano = magic === 0xa1b23c4d;
  } else if (buf.readUInt32BE(0) === 0xa1b2c3d4 || buf.readUInt32BE(0) === 0xa1b23c4d) {
    le = false;
    nano = buf.readUInt32BE(0) === 0xa1b23c4d;
  } else {
    throw new Error('not a classic pcap file (pcapng? capture with dumpcap -P)');
  }
  const u32 = (o: number): number => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const linkType = u32(20) & 0x0fffffff;
  const out: IpPacket[] = [];
  for (let off = 24; off + 16 <= buf.length; ) {
    const time = u32(off) + u32(off + 4) / (nano ? 1e9 : 1e6);
    const capLen = u32(off + 8);
    const start = off + 16;
    if (start + capLen > buf.length) break; // truncated last record (capture stopped mid-write)
    const frame = buf.subarray(start, start + capLen);
    const p = decodeIpv4(frame, ipv4Offset(linkType, frame), time);
    if (p) out.push(p);
    off = start + capLen;
  }
  return out;
}

/** Build a classic pcap (Ethernet link type) from UDP datagrams: used by the analysis unit tests. */
export function buildPcap(packets: readonly { time: number; src: string; srcPort: number; dst: string; dstPort: number; payload: Buffer }[]): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(262144, 16);
  header.writeUInt32LE(LINKTYPE_ETHERNET, 20);
  const parts: Buffer[] = [header];
  const addr = (s: string): number[] => s.split('.').map(Number);
  for (const p of packets) {
    const frame = Buffer.alloc(14 + 20 + 8 + p.payload.length);
    frame.writeUInt16BE(0x0800, 12);
    frame[14] = 0x45;
    frame.writeUInt16BE(20 + 8 + p.payload.length, 16);
    frame[14 + 8] = 64;
    frame[14 + 9] = 17;
    Buffer.from(addr(p.src)).copy(frame, 14 + 12);
    Buffer.from(addr(p.dst)).copy(frame, 14 + 16);
    frame.writeUInt16BE(p.srcPort, 34);
    frame.writeUInt16BE(p.dstPort, 36);
    frame.writeUInt16BE(8 + p.payload.length, 38);
    p.payload.copy(frame, 42);
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(Math.floor(p.time), 0);
    rec.writeUInt32LE(Math.round((p.time % 1) * 1e6), 4);
    rec.writeUInt32LE(frame.length, 8);
    rec.writeUInt32LE(frame.length, 12);
    parts.push(rec, frame);
  }
  return Buffer.concat(parts);
}
