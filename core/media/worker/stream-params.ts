/** A leg's stream parameters as the gstreamer engine takes them: checked before use, SRTP keys as element properties. */
import net from 'node:net';
import { b2buaError } from '../../errors/index.js';
import { SRTP_KEY_SALT_BYTES, isSrtpSuite } from '../sdes.js';
import type { StreamParams } from '../types.js';
import type { WorkerSecurity } from './protocol.js';
import type { LegId } from '../../vocabulary/index.js';
import { REFUSED_SUITES, mkiRefusal } from './suites.js';

export function validateStream(leg: LegId, s: StreamParams, srtpSuites: readonly string[], security: WorkerSecurity): void {
  const where = `leg ${leg} stream ${s.index} (${s.kind})`;
  if (!s.enabled) return;
  if (s.encryption === 'dtls-srtp' && !security.dtlsPem) {
    throw b2buaError('B2BUA_GST_ENCRYPTION_UNAVAILABLE', { where, mode: s.encryption, available: 'none, sdes, zrtp (this worker has no DTLS certificate)' });
  }
  if (s.encryption === 'dtls-srtp' && s.dtls && !/^sha-(1|224|256|384|512) [0-9a-f]{2}(:[0-9a-f]{2})+$/i.test(s.dtls.remoteFingerprint)) {
    throw b2buaError('B2BUA_SDP_INVALID', { why: `${where}: a=fingerprint "${s.dtls.remoteFingerprint.slice(0, 120)}" is not a hash name and colon-separated hex bytes (RFC 8122)` });
  }
  if (s.encryption === 'zrtp' && s.zrtp?.peerHelloHash && !/^\d\.\d{1,2} [0-9a-f]{64}$/i.test(s.zrtp.peerHelloHash)) {
    throw b2buaError('B2BUA_SDP_INVALID', { why: `${where}: a=zrtp-hash "${s.zrtp.peerHelloHash.slice(0, 120)}" is not "<version> <64 hex digits>" (RFC 6189 section 8)` });
  }
  if (s.encryption === 'sdes') {
    if (!s.srtp) throw b2buaError('B2BUA_SRTP_KEY_INVALID', { where, problem: 'encryption sdes without srtp keys' });
    for (const which of ['send', 'recv'] as const) {
      const k = s.srtp[which];
      const refused = isSrtpSuite(k.suite) ? REFUSED_SUITES[k.suite] : undefined;
      if (refused) throw b2buaError('B2BUA_SRTP_SUITE_REFUSED', { where, suite: k.suite, why: refused });
      if (!isSrtpSuite(k.suite) || !srtpSuites.includes(k.suite)) {
        throw b2buaError('B2BUA_SRTP_SUITE_UNSUPPORTED', { where, suite: k.suite, suites: srtpSuites.join(', ') });
      }
      const mkiRefused = k.mki ? mkiRefusal(k.suite) : undefined;
      if (mkiRefused) throw b2buaError('B2BUA_SRTP_MKI_REFUSED', { where, which, why: mkiRefused });
      if (k.mki && !mkiFits(k.mki)) {
        throw b2buaError('B2BUA_SRTP_KEY_INVALID', { where, problem: `${which} key MKI ${k.mki.value}:${k.mki.length} is not a value that fits its length (1..128 bytes)` });
      }
      const len = Buffer.from(k.keySalt, 'base64').length;
      if (len !== SRTP_KEY_SALT_BYTES[k.suite]) {
        throw b2buaError('B2BUA_SRTP_KEY_INVALID', { where, problem: `${which} key for ${k.suite} has ${len} bytes of key||salt, expected ${SRTP_KEY_SALT_BYTES[k.suite]}` });
      }
    }
  }
  if (s.remote && net.isIP(s.remote.address) === 0) {
    throw b2buaError('B2BUA_MEDIA_ADDRESS_INVALID', { where, address: s.remote.address });
  }
}

/** An MKI value that fits its length (1..128 bytes; lengths of 7 bytes and more hold any safe integer). */
function mkiFits(m: { readonly value: number; readonly length: number }): boolean {
  return Number.isSafeInteger(m.value) && m.value >= 0 && Number.isInteger(m.length) && m.length >= 1 && m.length <= 128 && (m.length >= 7 || m.value < 256 ** m.length);
}

export function srtpParams(stream: StreamParams, which: 'send' | 'recv'): string {
  if (stream.encryption !== 'sdes' || !stream.srtp) return '';
  const key = stream.srtp[which];
  return key.mki ? `${key.suite} ${key.keySalt} ${key.mki.value}:${key.mki.length}` : `${key.suite} ${key.keySalt}`;
}
