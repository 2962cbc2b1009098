/**
 * A small, independent SRTP/SRTCP implementation (RFC 3711 AES-CM + HMAC-SHA1, RFC 6188
 * AES-192/256, RFC 7714 AES-GCM) on node:crypto, for the test endpoints only: it checks the
 * engine's libsrtp-based elements against a second implementation. One context per
 * direction and SSRC set; tracks the rollover counter from sequence numbers.
 */
import { createCipheriv, createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto';

export type Suite =
  | 'AES_CM_128_HMAC_SHA1_80' | 'AES_CM_128_HMAC_SHA1_32'
  | 'AES_192_CM_HMAC_SHA1_80' | 'AES_192_CM_HMAC_SHA1_32'
  | 'AES_256_CM_HMAC_SHA1_80' | 'AES_256_CM_HMAC_SHA1_32'
  | 'AEAD_AES_128_GCM' | 'AEAD_AES_256_GCM';

interface SuiteInfo { keyLen: number; saltLen: number; tagLen: number; gcm: boolean }

function info(suite: Suite): SuiteInfo {
  const keyLen = suite.includes('256') ? 32 : suite.includes('192') ? 24 : 16;
  const gcm = suite.startsWith('AEAD');
  return { keyLen, saltLen: gcm ? 12 : 14, gcm, tagLen: gcm ? 16 : suite.endsWith('_32') ? 4 : 10 };
}

/** RFC 3711 section 4.3 key derivation (kdr = 0), AES-CM PRF with the master key. */
function derive(masterKey: Buffer, masterSalt: Buffer, label: number, length: number): Buffer {
  const x = Buffer.alloc(16);
  masterSalt.copy(x, 0);
  x[7]! ^= label;
  const c = createCipheriv(`aes-${masterKey.length * 8}-ctr`, masterKey, x);
  return c.update(Buffer.alloc(length));
}

interface SessionKeys { enc: Buffer; auth: Buffer; salt: Buffer }

function sessionKeys(suite: Suite, keySaltB64: string, rtcp: boolean): SessionKeys {
  const i = info(suite);
  const ks = Buffer.from(keySaltB64, 'base64');
  if (ks.length !== i.keyLen + i.saltLen) throw new Error(`${suite}: key||salt must be ${i.keyLen + i.saltLen} bytes`);
  const key = ks.subarray(0, i.keyLen);
  const salt = ks.subarray(i.keyLen);
  const base = rtcp ? 3 : 0;
  return { enc: derive(key, salt, base, i.keyLen), auth: derive(key, salt, base + 1, 20), salt: derive(key, salt, base + 2, i.saltLen) };
}

function rtpHeaderLength(p: Buffer): number {
  let off = 12 + 4 * (p[0]! & 0x0f);
  if (p[0]! & 0x10) off += 4 + 4 * p.readUInt16BE(off + 2);
  return off;
}

function ctrIv(salt: Buffer, ssrc: number, index: bigint): Buffer {
  const iv = Buffer.alloc(16);
  salt.copy(iv, 0);
  iv.writeUInt32BE((iv.readUInt32BE(4) ^ ssrc) >>> 0, 4);
  const idx = Buffer.alloc(8);
  idx.writeBigUInt64BE(index);
  for (let k = 0; k < 8; k++) iv[6 + k]! ^= idx[k]!;
  iv[14] = 0;
  iv[15] = 0;
  return iv;
}

function gcmIv(salt: Buffer, ssrc: number, index: bigint): Buffer {
  const iv = Buffer.alloc(12);
  iv.writeUInt32BE(ssrc >>> 0, 2);
  iv.writeUInt16BE(Number((index >> 32n) & 0xffffn), 6);
  iv.writeUInt32BE(Number(index & 0xffffffffn), 8);
  for (let k = 0; k < 12; k++) iv[k]! ^= salt[k]!;
  return iv;
}

export interface SrtpContextOptions {
  /**
   * SRTCP authentication tag bytes for the AES-CM suites: 10 (RFC 4568, the default) or 4, the
   * 32-bit tag liblinphone puts on SRTCP with the _32 suites (libsrtp's _32 policy for RTCP too).
   */
  readonly srtcpTagLength?: 4 | 10;
}

export class SrtpContext {
  private readonly i: SuiteInfo;
  private readonly rtp: SessionKeys;
  private readonly rtcp: SessionKeys;
  private readonly roc = new Map<number, { roc: number; lastSeq: number }>();
  private srtcpIndex = 0;
  /** MKI bytes carried between the authenticated portion and the tag (RFC 3711 section 3.1). */
  private readonly mki: Buffer;
  private readonly srtcpTagLen: number;

  constructor(readonly suite: Suite, keySaltB64: string, mki?: { value: number; length: number }, options: SrtpContextOptions = {}) {
    this.i = info(suite);
    if (options.srtcpTagLength !== undefined && this.i.gcm) throw new Error('srtp-peer: srtcpTagLength applies to the AES-CM suites only');
    this.srtcpTagLen = this.i.gcm ? 16 : options.srtcpTagLength ?? 10;
    if (mki && this.i.gcm) throw new Error('srtp-peer: MKI with AEAD suites is not implemented in this test peer');
    this.mki = Buffer.alloc(mki?.length ?? 0);
    if (mki) this.mki.writeUIntBE(mki.value, Math.max(0, mki.length - 6), Math.min(6, mki.length));
    this.rtp = sessionKeys(suite, keySaltB64, false);
    this.rtcp = sessionKeys(suite, keySaltB64, true);
  }

  private cipherAlg(): string {
    return `aes-${this.i.keyLen * 8}-${this.i.gcm ? 'gcm' : 'ctr'}`;
  }

  /** Sender side: ROC advances when the sequence wraps. */
  private senderIndex(ssrc: number, seq: number): bigint {
    const st = this.roc.get(ssrc) ?? { roc: 0, lastSeq: seq };
    if (seq < st.lastSeq && st.lastSeq - seq > 0x8000) st.roc++;
    st.lastSeq = seq;
    this.roc.set(ssrc, st);
    return (BigInt(st.roc) << 16n) | BigInt(seq);
  }

  protectRtp(packet: Buffer): Buffer {
    const h = rtpHeaderLength(packet);
    const ssrc = packet.readUInt32BE(8);
    const index = this.senderIndex(ssrc, packet.readUInt16BE(2));
    const header = packet.subarray(0, h);
    if (this.i.gcm) {
      const c = createCipheriv(this.cipherAlg() as 'aes-128-gcm', this.rtp.enc, gcmIv(this.rtp.salt, ssrc, index));
      c.setAAD(header);
      const body = Buffer.concat([c.update(packet.subarray(h)), c.final()]);
      return Buffer.concat([header, body, c.getAuthTag()]);
    }
    const c = createCipheriv(this.cipherAlg(), this.rtp.enc, ctrIv(this.rtp.salt, ssrc, index));
    const out = Buffer.concat([header, c.update(packet.subarray(h))]);
    const roc = Buffer.alloc(4);
    roc.writeUInt32BE(Number(index >> 16n));
    const tag = createHmac('sha1', this.rtp.auth).update(out).update(roc).digest().subarray(0, this.i.tagLen);
    return Buffer.concat([out, this.mki, tag]);
  }

  /** Receiver side; throws 'auth' on authentication failure. ROC guessed from the last seq. */
  unprotectRtp(packet: Buffer): Buffer {
    const h = rtpHeaderLength(packet);
    const ssrc = packet.readUInt32BE(8);
    const index = this.senderIndex(ssrc, packet.readUInt16BE(2));
    const header = packet.subarray(0, h);
    const body = packet.subarray(h, packet.length - this.i.tagLen - this.mki.length);
    const tag = packet.subarray(packet.length - this.i.tagLen);
    if (this.i.gcm) {
      const d = createDecipheriv(this.cipherAlg() as 'aes-128-gcm', this.rtp.enc, gcmIv(this.rtp.salt, ssrc, index));
      d.setAAD(header);
      d.setAuthTag(tag);
      try {
        return Buffer.concat([header, d.update(body), d.final()]);
      } catch {
        throw new Error('auth');
      }
    }
    const roc = Buffer.alloc(4);
    roc.writeUInt32BE(Number(index >> 16n));
    const expect = createHmac('sha1', this.rtp.auth).update(packet.subarray(0, packet.length - this.i.tagLen - this.mki.length)).update(roc).digest().subarray(0, this.i.tagLen);
    if (!timingSafeEqual(expect, tag)) throw new Error('auth');
    const d = createDecipheriv(this.cipherAlg(), this.rtp.enc, ctrIv(this.rtp.salt, ssrc, index));
    return Buffer.concat([header, d.update(body)]);
  }

  /** SRTCP (encrypted, E=1). AES-CM suites use the 80-bit tag for SRTCP unless `srtcpTagLength` says otherwise. */
  protectRtcp(packet: Buffer): Buffer {
    const ssrc = packet.readUInt32BE(4);
    const index = this.srtcpIndex++ & 0x7fffffff;
    const eIndex = Buffer.alloc(4);
    eIndex.writeUInt32BE((0x80000000 | index) >>> 0);
    const header = packet.subarray(0, 8);
    if (this.i.gcm) {
      const c = createCipheriv(this.cipherAlg() as 'aes-128-gcm', this.rtcp.enc, gcmIv(this.rtcp.salt, ssrc, BigInt(index)));
      c.setAAD(Buffer.concat([header, eIndex]));
      const body = Buffer.concat([c.update(packet.subarray(8)), c.final()]);
      return Buffer.concat([header, body, c.getAuthTag(), eIndex]);
    }
    const c = createCipheriv(this.cipherAlg(), this.rtcp.enc, ctrIv(this.rtcp.salt, ssrc, BigInt(index)));
    const out = Buffer.concat([header, c.update(packet.subarray(8)), eIndex]);
    const tag = createHmac('sha1', this.rtcp.auth).update(out).digest().subarray(0, this.srtcpTagLen);
    return Buffer.concat([out, this.mki, tag]);
  }

  unprotectRtcp(packet: Buffer): Buffer {
    const ssrc = packet.readUInt32BE(4);
    const tagLen = this.srtcpTagLen;
    if (this.i.gcm) {
      const eIndex = packet.subarray(packet.length - 4);
      const index = eIndex.readUInt32BE(0) & 0x7fffffff;
      const tag = packet.subarray(packet.length - 4 - tagLen, packet.length - 4);
      const d = createDecipheriv(this.cipherAlg() as 'aes-128-gcm', this.rtcp.enc, gcmIv(this.rtcp.salt, ssrc, BigInt(index)));
      d.setAAD(Buffer.concat([packet.subarray(0, 8), eIndex]));
      d.setAuthTag(tag);
      try {
        return Buffer.concat([packet.subarray(0, 8), d.update(packet.subarray(8, packet.length - 4 - tagLen)), d.final()]);
      } catch {
        throw new Error('auth');
      }
    }
    const authed = packet.subarray(0, packet.length - tagLen - this.mki.length);
    const tag = packet.subarray(packet.length - tagLen);
    const expect = createHmac('sha1', this.rtcp.auth).update(authed).digest().subarray(0, tagLen);
    if (!timingSafeEqual(expect, tag)) throw new Error('auth');
    const index = authed.readUInt32BE(authed.length - 4) & 0x7fffffff;
    const d = createDecipheriv(this.cipherAlg(), this.rtcp.enc, ctrIv(this.rtcp.salt, ssrc, BigInt(index)));
    return Buffer.concat([packet.subarray(0, 8), d.update(authed.subarray(8, authed.length - 4))]);
  }
}
