/** Packets and keys shared by the tests of the b2bsrtp element (distinct content per index, so decryption is checked). */
import { randomBytes } from 'node:crypto';
import { SRTP_KEY_SALT_BYTES } from '../../../core/media/sdes.js';
import type { Suite } from '../../e2e/media/srtp-peer.js';

/** PCMU RTP packet (12 + 160 bytes), payload distinct per `seq`. */
export function rtpPacket(ssrc: number, seq: number): Buffer {
  const b = Buffer.alloc(12 + 160);
  b[0] = 0x80;
  b[1] = 0; // PCMU
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE((seq * 160) >>> 0, 4);
  b.writeUInt32BE(ssrc >>> 0, 8);
  for (let i = 12; i < b.length; i++) b[i] = (i * 3 + seq) & 0xff;
  return b;
}

/** RTCP sender report with one report block (52 bytes), distinct per `n`. */
export function senderReport(ssrc: number, n: number): Buffer {
  const b = Buffer.alloc(52);
  b[0] = 0x81;
  b[1] = 200;
  b.writeUInt16BE(52 / 4 - 1, 2);
  b.writeUInt32BE(ssrc >>> 0, 4);
  for (let i = 8; i < 52; i++) b[i] = (i * 7 + n) & 0xff;
  return b;
}

/** A random master key||salt for `suite`, base64 as in `a=crypto inline:`. */
export const masterKey = (suite: Suite): string => randomBytes(SRTP_KEY_SALT_BYTES[suite]).toString('base64');
