/** UDP sockets for RTP/RTCP, bound in an `audio-port` / `video-port` range (0 = kernel picks). */
import dgram from 'node:dgram';
import net from 'node:net';
import { b2buaError } from '../../errors/index.js';
import type { PortRange } from '../../vocabulary/index.js';

export interface BoundPair {
  readonly rtp: dgram.Socket;
  readonly rtcp: dgram.Socket;
  readonly rtpPort: number;
  readonly rtcpPort: number;
}

function bind(address: string, port: number): Promise<dgram.Socket | undefined> {
  return new Promise((resolve) => {
    const s = dgram.createSocket({ type: net.isIPv6(address) ? 'udp6' : 'udp4' });
    s.once('error', () => { try { s.close(); } catch { /* already closed */ } resolve(undefined); });
    s.bind(port, address, () => { s.removeAllListeners('error'); resolve(s); });
  });
}

/** Hands out RTP (even) + RTCP (RTP+1) ports from a range, rotating so freed ports are not reused at once. */
export class PortRangeBinder {
  private cursor: number;

  /** `key`: the [b2bua-server] key the range comes from (audio-port, video-port), named when it is exhausted. */
  constructor(private readonly range: PortRange, private readonly address: string, private readonly key = 'audio-port') {
    this.cursor = range.min + (range.min % 2);
  }

  async bindPair(): Promise<BoundPair> {
    if (this.range.min === 0 && this.range.max === 0) {
      const rtp = await bind(this.address, 0);
      const rtcp = await bind(this.address, 0);
      if (!rtp || !rtcp) { rtp?.close(); rtcp?.close(); throw b2buaError('B2BUA_MEDIA_BIND_FAILED', { address: this.address }); }
      return { rtp, rtcp, rtpPort: rtp.address().port, rtcpPort: rtcp.address().port };
    }
    const first = this.range.min + (this.range.min % 2);
    const slots = Math.max(1, Math.floor((this.range.max - first + 1) / 2));
    for (let i = 0; i < slots; i++) {
      const port = this.cursor;
      this.cursor = port + 2 + 1 > this.range.max ? first : port + 2;
      const rtp = await bind(this.address, port);
      if (!rtp) continue;
      const rtcp = await bind(this.address, port + 1);
      if (!rtcp) { rtp.close(); continue; }
      return { rtp, rtcp, rtpPort: port, rtcpPort: port + 1 };
    }
    throw b2buaError('B2BUA_MEDIA_PORTS_EXHAUSTED', { key: this.key, min: this.range.min, max: this.range.max, address: this.address });
  }
}
