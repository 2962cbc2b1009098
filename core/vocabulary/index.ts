/**
 * The words every layer shares (SIP, SDP, media, config, the call state machine, plugins).
 * It imports nothing from the rest of core, so any module may import it without a cycle;
 * `core/plugin-api` re-exports the part plugins see.
 */

/** The two sides of a call: 'a' = the caller's leg (the INVITE we answer), 'b' = the leg we place. */
export type LegId = 'a' | 'b';

export const OTHER_LEG: Readonly<Record<LegId, LegId>> = { a: 'b', b: 'a' };

/** Media kinds the engines relay (other m= types are kept in SDP but refused). */
export type MediaKind = 'audio' | 'video';

/** m= types an offer may carry, as plugins see them. */
export type OfferedKind = 'audio' | 'video' | 'text' | 'application';

/** SDP stream direction (RFC 3264). */
export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

export const ENCRYPTION_MODES = ['none', 'sdes', 'dtls-srtp', 'zrtp'] as const;
export type EncryptionMode = (typeof ENCRYPTION_MODES)[number];

export const SRTP_SUITES = [
  'AES_CM_128_HMAC_SHA1_80',
  'AES_CM_128_HMAC_SHA1_32',
  'AES_192_CM_HMAC_SHA1_80',
  'AES_192_CM_HMAC_SHA1_32',
  'AES_256_CM_HMAC_SHA1_80',
  'AES_256_CM_HMAC_SHA1_32',
  'AEAD_AES_128_GCM',
  'AEAD_AES_256_GCM',
] as const;
export type SrtpSuite = (typeof SRTP_SUITES)[number];

/** `audio-port` / `video-port`: 0 = kernel picks, or an inclusive range (min == max for a single port). */
export interface PortRange {
  readonly min: number;
  readonly max: number;
}

/** Structured logger (pino's shape): an object of fields first, then the message. */
export interface Logger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

/** A SIP name-addr, e.g. `"Alice" <sip:alice@example.org>;tag=1`. */
export interface NameAddr {
  readonly displayName?: string | undefined;
  readonly uri: string;
  readonly params: Readonly<Record<string, string | null>>;
}

/**
 * Code of configuration warnings: what is accepted but likely not meant (a prefix of --check-config's warning lines,
 * `code` of the start-up log lines). Not an error: nothing is refused, so it is not in the error catalog.
 */
export const CONFIG_WARNING = 'B2BUA_CONFIG_WARNING';
