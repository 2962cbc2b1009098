/**
 * SDES suites the GStreamer engine refuses even though libsrtp accepts a key for them, and
 * why (also in the README). Refused suites are left out of the engine's capabilities and a
 * configure() naming one fails with B2BUA_MEDIA_UNSUPPORTED and this reason.
 */
import type { SrtpSuite } from '../../plugin-api/index.js';

const AES_192_REASON =
  "GStreamer 1.22's srtp elements have no AES-192, and Debian's libsrtp2 2.5 derives AES-192 session keys with an AES-256 key derivation over key||salt instead of RFC 6188's, so it would not interoperate with other implementations";

export const REFUSED_SUITES: Readonly<Partial<Record<SrtpSuite, string>>> = {
  AES_192_CM_HMAC_SHA1_80: AES_192_REASON,
  AES_192_CM_HMAC_SHA1_32: AES_192_REASON,
};
