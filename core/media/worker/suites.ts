/**
 * SDES suites the GStreamer engine refuses even though libsrtp accepts a key for them, and
 * why (also in the README). Refused suites are left out of the engine's capabilities and a
 * configure() naming one fails with B2BUA_MEDIA_UNSUPPORTED and this reason.
 */
import type { SrtpSuite } from '../../vocabulary/index.js';

const AES_192_REASON =
  "GStreamer 1.22's srtp elements have no AES-192, and Debian's libsrtp2 2.5 derives AES-192 session keys with an AES-256 key derivation over key||salt instead of RFC 6188's, so it would not interoperate with other implementations";

export const REFUSED_SUITES: Readonly<Partial<Record<SrtpSuite, string>>> = {
  AES_192_CM_HMAC_SHA1_80: AES_192_REASON,
  AES_192_CM_HMAC_SHA1_32: AES_192_REASON,
};

/**
 * Why an MKI (RFC 3711 master key identifier) cannot be used with a suite here, or undefined if it can.
 * libsrtp2 2.5 finds the MKI of an SRTCP packet with the RTP tag length (4 bytes for _32 suites,
 * where SRTCP's tag is 10), and puts the MKI after the tag for AEAD suites.
 */
export function mkiRefusal(suite: SrtpSuite): string | undefined {
  if (suite.endsWith('_32')) return `MKI with ${suite} is refused: libsrtp2 2.5 looks for the SRTCP MKI using the 4-byte RTP tag length, so SRTCP would fail`;
  if (suite.startsWith('AEAD_')) return `MKI with ${suite} is refused: libsrtp2 2.5 places it after the GCM tag, not verified against RFC 7714 peers`;
  return undefined;
}
