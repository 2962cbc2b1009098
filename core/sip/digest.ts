/**
 * HTTP Digest client for SIP (RFC 2617 / RFC 7616 / RFC 8760): MD5 and SHA-256, qop=auth or
 * no qop, from a cleartext password or a precomputed HA1. npm `sip`'s digest is MD5-only.
 */
import { createHash, randomBytes } from 'node:crypto';
import { splitOutsideQuotes } from './uri.js';

export type DigestAlgorithm = 'MD5' | 'SHA-256';

export interface Challenge {
  readonly scheme: string;
  readonly realm: string;
  readonly nonce: string;
  readonly opaque?: string | undefined;
  readonly algorithm: string;
  readonly qop: readonly string[];
  readonly stale: boolean;
}

export interface DigestCredentials {
  readonly username: string;
  readonly realm?: string | undefined;
  readonly password?: string | undefined;
  /** Precomputed H(username:realm:password) with the challenge's algorithm. */
  readonly ha1?: string | undefined;
  /** Which algorithm the HA1 was computed with; a challenge with another algorithm cannot be answered. */
  readonly algorithm?: DigestAlgorithm | undefined;
}

/** Parse a WWW-Authenticate / Proxy-Authenticate value. Never throws. */
export function parseChallenge(value: string): Challenge | undefined {
  const m = /^\s*(\S+)\s+(.*)$/s.exec(value);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  for (const part of splitOutsideQuotes(m[2]!, ',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    let v = part.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    params[part.slice(0, eq).trim().toLowerCase()] = v;
  }
  if (m[1]!.toLowerCase() !== 'digest' || params['nonce'] === undefined || params['realm'] === undefined) return undefined;
  return {
    scheme: 'Digest',
    realm: params['realm'],
    nonce: params['nonce'],
    opaque: params['opaque'],
    algorithm: params['algorithm'] ?? 'MD5',
    qop: (params['qop'] ?? '').split(',').map((q) => q.trim()).filter((q) => q !== ''),
    stale: (params['stale'] ?? '').toLowerCase() === 'true',
  };
}

function hashFor(algorithm: string): ((s: string) => string) | undefined {
  const base = algorithm.toUpperCase().replace(/-SESS$/, '');
  const name = base === 'MD5' ? 'md5' : base === 'SHA-256' ? 'sha256' : undefined;
  return name ? (s: string) => createHash(name).update(s, 'utf8').digest('hex') : undefined;
}

export function computeHa1(algorithm: DigestAlgorithm, username: string, realm: string, password: string): string {
  return hashFor(algorithm)!(`${username}:${realm}:${password}`);
}

export interface DigestInput {
  readonly challenge: Challenge;
  readonly credentials: DigestCredentials;
  readonly method: string;
  readonly uri: string;
  readonly body?: string;
  /** Fixed values for test vectors; random otherwise. */
  readonly cnonce?: string;
  readonly nc?: number;
}

export type DigestResult = { ok: true; header: string; response: string } | { ok: false; error: string };

/** The Authorization / Proxy-Authorization value answering a challenge. */
export function digestAuthorization(input: DigestInput): DigestResult {
  const { challenge: ch, credentials: cr } = input;
  const H = hashFor(ch.algorithm);
  if (!H) return { ok: false, error: `unsupported digest algorithm "${ch.algorithm}"` };
  if (cr.realm !== undefined && cr.realm !== ch.realm) return { ok: false, error: `challenge realm "${ch.realm}" is not the account's realm "${cr.realm}"` };
  const alg = ch.algorithm.toUpperCase().replace(/-SESS$/, '') as DigestAlgorithm;
  let ha1: string;
  if (cr.password !== undefined) ha1 = H(`${cr.username}:${ch.realm}:${cr.password}`);
  else if (cr.ha1 !== undefined) {
    if (cr.algorithm !== undefined && cr.algorithm !== alg) return { ok: false, error: `the account's HA1 is ${cr.algorithm} but the server asks for ${ch.algorithm}` };
    ha1 = cr.ha1.toLowerCase();
  } else return { ok: false, error: 'no password or HA1 for this account' };
  const qop = ch.qop.includes('auth') ? 'auth' : undefined;
  if (ch.qop.length > 0 && !qop) return { ok: false, error: `unsupported qop "${ch.qop.join(',')}" (only auth)` };
  const cnonce = input.cnonce ?? randomBytes(8).toString('hex');
  const nc = (input.nc ?? 1).toString(16).padStart(8, '0');
  if (ch.algorithm.toUpperCase().endsWith('-SESS')) ha1 = H(`${ha1}:${ch.nonce}:${cnonce}`);
  const ha2 = H(`${input.method}:${input.uri}`);
  const response = qop ? H(`${ha1}:${ch.nonce}:${nc}:${cnonce}:${qop}:${ha2}`) : H(`${ha1}:${ch.nonce}:${ha2}`);
  const parts = [
    `username="${cr.username}"`, `realm="${ch.realm}"`, `nonce="${ch.nonce}"`, `uri="${input.uri}"`, `response="${response}"`,
    `algorithm=${ch.algorithm}`,
  ];
  if (ch.opaque !== undefined) parts.push(`opaque="${ch.opaque}"`);
  if (qop) parts.push(`qop=${qop}`, `nc=${nc}`, `cnonce="${cnonce}"`);
  return { ok: true, header: `Digest ${parts.join(', ')}`, response };
}
