/** The UDP sockets of one stream of a call: RTP and RTCP, on adjacent ports when they can be. */
import { UdpSocket } from './gst.js';
import { b2buaError } from '../../errors/index.js';

const RTCP_PORT_TRIES = 16;

/** Port 0: kernel-chosen RTP port with RTCP on the next one when free; else `port` and `port + 1`. */
export function bindRtpPair(address: string, port: number): { rtp: UdpSocket; rtcp: UdpSocket } {
  return port === 0 ? bindKernelPair(address) : bindPair(address, port);
}

function bindPair(address: string, port: number): { rtp: UdpSocket; rtcp: UdpSocket } {
  const rtp = bindOrInUse(address, port);
  try {
    return { rtp, rtcp: bindOrInUse(address, port + 1) };
  } catch (e) {
    rtp.close();
    throw e;
  }
}

/** Kernel-chosen RTP port with RTCP on the next one when free (else another kernel port). */
function bindKernelPair(address: string): { rtp: UdpSocket; rtcp: UdpSocket } {
  for (let i = 0; i < RTCP_PORT_TRIES; i++) {
    const rtp = bindOrInUse(address, 0);
    if (rtp.port < 65535) {
      try {
        return { rtp, rtcp: UdpSocket.bind(address, rtp.port + 1) };
      } catch {
        /* next try */
      }
    }
    rtp.close();
  }
  const rtp = bindOrInUse(address, 0);
  return { rtp, rtcp: bindOrInUse(address, 0) };
}

function bindOrInUse(address: string, port: number): UdpSocket {
  try {
    return UdpSocket.bind(address, port);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (/in use/i.test(msg)) throw b2buaError('B2BUA_MEDIA_PORT_IN_USE', { address, port });
    throw b2buaError('B2BUA_MEDIA_PORT_BIND_FAILED', { address, port, why: msg });
  }
}
