/**
 * RFC 4733 telephone-events (DTMF): payload parsing, one report per event (the end packet is sent 3 times with the
 * same timestamp), a per-call rate bound, and the packets a sender writes for one digit.
 */

const DIGITS = '0123456789*#ABCD';

/** RFC 4733 section 3.2: events 0-9, * (10), # (11), A-D (12-15). */
export function eventDigit(event: number): string | undefined {
  return DIGITS[event];
}

export function digitEvent(digit: string): number | undefined {
  const i = DIGITS.indexOf(digit.toUpperCase());
  return i < 0 || digit.length !== 1 ? undefined : i;
}

export interface TelephoneEvent {
  readonly event: number;
  readonly end: boolean;
  readonly volume: number;
  /** In RTP clock units. */
  readonly duration: number;
}

/** The 4-byte event payload (RFC 4733 section 2.3); undefined when too short. */
export function parseEventPayload(payload: Buffer): TelephoneEvent | undefined {
  if (payload.length < 4) return undefined;
  return { event: payload[0]!, end: (payload[1]! & 0x80) !== 0, volume: payload[1]! & 0x3f, duration: payload.readUInt16BE(2) };
}

/** RTP header length (RFC 3550 section 5.1: CSRCs, extension); undefined when the packet is malformed. */
export function rtpHeaderLength(packet: Buffer): number | undefined {
  if (packet.length < 12 || (packet[0]! >> 6) !== 2) return undefined;
  let len = 12 + (packet[0]! & 0x0f) * 4;
  if (packet[0]! & 0x10) {
    if (packet.length < len + 4) return undefined;
    len += 4 + packet.readUInt16BE(len + 2) * 4;
  }
  return packet.length < len ? undefined : len;
}

export const rtpPayloadType = (packet: Buffer): number => packet[1]! & 0x7f;

export interface DetectedDtmf { readonly digit: string; readonly durationMs: number }

/**
 * One stream's detector: feed it the RTP packets of the telephone-event PT; it reports each event once, at its first
 * end packet (RFC 4733 section 2.5.1.4: retransmitted end packets keep the timestamp), within `maxPerSecond`.
 */
export class DtmfDetector {
  private lastEnded: { ssrc: number; timestamp: number } | undefined;
  private window = { start: 0, count: 0 };
  dropped = 0;

  constructor(private readonly clockRate: number, private readonly maxPerSecond = 20, private readonly now: () => number = Date.now) {}

  push(packet: Buffer): DetectedDtmf | undefined {
    const header = rtpHeaderLength(packet);
    if (header === undefined) return undefined;
    const ev = parseEventPayload(packet.subarray(header));
    if (!ev?.end) return undefined;
    const ssrc = packet.readUInt32BE(8);
    const timestamp = packet.readUInt32BE(4);
    if (this.lastEnded?.ssrc === ssrc && this.lastEnded.timestamp === timestamp) return undefined;
    this.lastEnded = { ssrc, timestamp };
    const digit = eventDigit(ev.event);
    if (digit === undefined) return undefined;
    const t = this.now();
    if (t - this.window.start >= 1000) this.window = { start: t, count: 0 };
    if (this.window.count >= this.maxPerSecond) { this.dropped++; return undefined; }
    this.window.count++;
    return { digit, durationMs: Math.round((ev.duration * 1000) / this.clockRate) };
  }
}

/** Where an outgoing stream is: its SSRC, next sequence number, and the RTP timestamp of "now" on its clock. */
export interface OutgoingStreamState { readonly ssrc: number; readonly seq: number; readonly timestamp: number }

/** RFC 4733 section 2.5.1: packets every 50 ms for one digit: a start (marker), updates, then the end packet 3 times. */
export function eventPackets(digit: string, durationMs: number, pt: number, clockRate: number, at: OutgoingStreamState): Buffer[] {
  const event = digitEvent(digit);
  if (event === undefined) return [];
  const step = (clockRate * 50) / 1000;
  const total = Math.max(step, Math.min(0xffff, Math.round((clockRate * durationMs) / 1000)));
  const durations: number[] = [];
  for (let d = step; d < total; d += step) durations.push(d);
  const packets: Buffer[] = [];
  const one = (i: number, duration: number, end: boolean): Buffer => {
    const b = Buffer.alloc(16);
    b[0] = 0x80;
    b[1] = (i === 0 ? 0x80 : 0) | (pt & 0x7f);
    b.writeUInt16BE((at.seq + i) & 0xffff, 2);
    b.writeUInt32BE(at.timestamp >>> 0, 4);
    b.writeUInt32BE(at.ssrc >>> 0, 8);
    b[12] = event;
    b[13] = (end ? 0x80 : 0) | 10;
    b.writeUInt16BE(duration, 14);
    return b;
  };
  durations.forEach((d, i) => packets.push(one(i, d, false)));
  for (let k = 0; k < 3; k++) packets.push(one(durations.length + k, total, true));
  return packets;
}
