/**
 * SDES (RFC 4568) key material: generation from a CSPRNG and `a=crypto` parsing/formatting.
 * sdp-transform exposes `a=crypto` as { id, suite, config, sessionConfig? }; `config` is
 * `inline:<base64 key||salt>[|<lifetime>][|<MKI>:<length>]`.
 */
import { randomBytes } from 'node:crypto';
import { SRTP_SUITES, type SrtpSuite } from '../vocabulary/index.js';
import type { SrtpKey } from './types.js';

/** Master key + salt length in bytes, per suite. */
export const SRTP_KEY_SALT_BYTES: Readonly<Record<SrtpSuite, number>> = {
  AES_CM_128_HMAC_SHA1_80: 30,
  AES_CM_128_HMAC_SHA1_32: 30,
  AES_192_CM_HMAC_SHA1_80: 38,
  AES_192_CM_HMAC_SHA1_32: 38,
  AES_256_CM_HMAC_SHA1_80: 46,
  AES_256_CM_HMAC_SHA1_32: 46,
  AEAD_AES_128_GCM: 28,
  AEAD_AES_256_GCM: 44,
};

export function isSrtpSuite(s: string): s is SrtpSuite {
  return (SRTP_SUITES as readonly string[]).includes(s);
}

export function generateSrtpKey(suite: SrtpSuite): SrtpKey {
  return { suite, keySalt: randomBytes(SRTP_KEY_SALT_BYTES[suite]).toString('base64') };
}

export interface CryptoLine {
  readonly tag: number;
  readonly suite: string;
  readonly keySalt: string;
  /** Lifetime as given (`2^31` or a number), if any. */
  readonly lifetime?: string;
  /** MKI value and length, if any. */
  readonly mki?: { readonly value: number; readonly length: number };
  readonly sessionParams?: string;
}

export type CryptoParseResult = { ok: true; line: CryptoLine } | { ok: false; error: string };

/** Parse one `a=crypto` value as given by sdp-transform (never throws). */
export function parseCrypto(attr: { id: number | string; suite: string; config: string; sessionConfig?: string }): CryptoParseResult {
  const tag = Number(attr.id);
  if (!Number.isInteger(tag) || tag < 0 || tag > 999999999) return { ok: false, error: `bad crypto tag "${attr.id}"` };
  // Only the first key-param is used; several inline keys (key lists) are rare and refused.
  const keyParams = attr.config.split(';');
  const first = keyParams[0] ?? '';
  const m = /^inline:([A-Za-z0-9+/=]+)(?:\|([^|]+))?(?:\|(\d+):(\d+))?$/.exec(first);
  if (!m) return { ok: false, error: `bad crypto key-params "${first}"` };
  const keySalt = m[1]!;
  let lifetime: string | undefined;
  let mki: { value: number; length: number } | undefined;
  if (m[2] !== undefined) {
    if (/^\d+:\d+$/.test(m[2])) {
      const [v, l] = m[2].split(':').map(Number);
      mki = { value: v!, length: l! };
    } else if (/^(2\^\d+|\d+)$/.test(m[2])) lifetime = m[2];
    else return { ok: false, error: `bad crypto lifetime "${m[2]}"` };
  }
  if (m[3] !== undefined) mki = { value: Number(m[3]), length: Number(m[4]) };
  const mkiProblem = mki && badMki(m[3] ?? m[2]!.split(':')[0]!, mki.length);
  if (mkiProblem) return { ok: false, error: mkiProblem };
  if (lifetime !== undefined && !lifetimeInRange(lifetime)) return { ok: false, error: `crypto lifetime "${lifetime}" is not 1..2^48 packets (RFC 3711 section 9.2)` };
  // Buffer.from() skips what is not base64; a key that does not survive a round trip is not base64 (padding may be left out).
  if (Buffer.from(keySalt, 'base64').toString('base64').replace(/=+$/, '') !== keySalt.replace(/=+$/, '')) {
    return { ok: false, error: `crypto key "${keySalt.slice(0, 64)}" is not base64` };
  }
  if (isSrtpSuite(attr.suite)) {
    const expected = SRTP_KEY_SALT_BYTES[attr.suite];
    const got = Buffer.from(keySalt, 'base64').length;
    if (got !== expected) return { ok: false, error: `${attr.suite} needs ${expected} bytes of key||salt, got ${got}` };
  }
  return {
    ok: true,
    line: { tag, suite: attr.suite, keySalt, ...(lifetime ? { lifetime } : {}), ...(mki ? { mki } : {}), ...(attr.sessionConfig ? { sessionParams: attr.sessionConfig } : {}) },
  };
}

/** RFC 4568 section 6.1: MKI length 1..128 bytes, and the value must fit in it (we also keep it a safe JS integer). */
function badMki(value: string, length: number): string | undefined {
  if (!Number.isInteger(length) || length < 1 || length > 128) return `crypto MKI length ${length} is not 1..128 bytes`;
  if (value.length > 15 || !Number.isSafeInteger(Number(value))) return `crypto MKI value ${value.slice(0, 24)} is too large`;
  if (BigInt(value) >= 2n ** (8n * BigInt(length))) return `crypto MKI value ${value} does not fit in ${length} bytes`;
  return undefined;
}

/** SRTP master key lifetime: at most 2^48 packets (RFC 3711 section 9.2), at least one. */
function lifetimeInRange(lifetime: string): boolean {
  const power = /^2\^(\d+)$/.exec(lifetime);
  if (power) return Number(power[1]) <= 48;
  return lifetime.length <= 15 && Number(lifetime) >= 1 && Number(lifetime) <= 2 ** 48;
}

/** sdp-transform `crypto` entry for one of our keys (no lifetime, no MKI). */
export function formatCrypto(tag: number, key: SrtpKey): { id: number; suite: string; config: string } {
  return { id: tag, suite: key.suite, config: `inline:${key.keySalt}` };
}
