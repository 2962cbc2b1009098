/** Our SDP for one leg, generated with sdp-transform from our endpoints: only attributes we understand. */
import sdpTransform from 'sdp-transform';
import { formatCrypto } from '../media/sdes.js';
import type { LocalEndpoint, SrtpKey } from '../media/types.js';
import type { EncryptionMode } from '../vocabulary/index.js';
import type { IceCandidate, SdpSession, StreamDescription } from './model.js';

export interface OutStream extends StreamDescription {
  readonly endpoint?: LocalEndpoint | undefined;
  /** SDES: our keys (one per offered suite in an offer, one in an answer). */
  readonly crypto?: readonly { readonly tag: number; readonly key: SrtpKey }[] | undefined;
  /** DTLS-SRTP: `sha-256 AB:…` and our a=setup. */
  readonly fingerprint?: string | undefined;
  readonly setup?: 'actpass' | 'active' | 'passive' | undefined;
  /** When the stream is not RTP (disabled text/application m-lines): the original proto and formats. */
  readonly proto?: string | undefined;
  readonly formats?: string | undefined;
  /** ICE-lite on this leg: our credentials (written at session level) and this m-line's candidates. */
  readonly ice?: { readonly ufrag: string; readonly pwd: string; readonly candidates: readonly IceCandidate[] } | undefined;
}

export interface SdpBuildInput extends SdpSession {
  readonly sessionName?: string;
  readonly streams: readonly OutStream[];
}

export function protoFor(encryption: EncryptionMode, avpf: boolean): string {
  const f = avpf ? 'F' : '';
  switch (encryption) {
    case 'sdes': return `RTP/SAVP${f}`;
    case 'dtls-srtp': return `UDP/TLS/RTP/SAVP${f}`;
    default: return `RTP/AVP${f}`;
  }
}

function ipVersion(address: string): number {
  return address.includes(':') ? 6 : 4;
}

export function buildSdp(input: SdpBuildInput): string {
  const media: sdpTransform.MediaDescription[] = input.streams.map((s) => {
    const codecs = s.codecs.length > 0 ? s.codecs : [{ pt: 0, name: 'PCMU', rate: 8000, rtcpFb: [] }];
    if (!s.enabled || !s.endpoint) {
      return {
        type: s.kind,
        port: 0,
        protocol: s.proto ?? protoFor(s.encryption, s.avpf),
        payloads: s.formats ?? codecs.map((c) => c.pt).join(' '),
        rtp: [],
        fmtp: [],
      };
    }
    const ep = s.endpoint;
    const m: sdpTransform.MediaDescription = {
      type: s.kind,
      port: ep.rtpPort,
      protocol: protoFor(s.encryption, s.avpf),
      payloads: codecs.map((c) => c.pt).join(' '),
      ...(ep.address !== input.address ? { connection: { version: ipVersion(ep.address), ip: ep.address } } : {}),
      rtp: codecs.map((c) => ({ payload: c.pt, codec: c.name, rate: c.rate, ...(c.channels !== undefined && c.channels !== 1 ? { encoding: c.channels } : {}) })),
      fmtp: codecs.filter((c) => c.fmtp !== undefined && c.fmtp !== '').map((c) => ({ payload: c.pt, config: c.fmtp! })),
      direction: s.direction,
    };
    const fb = codecs.flatMap((c) => c.rtcpFb.map((f) => {
      const [type, ...rest] = f.split(' ');
      return { payload: c.pt, type: type!, ...(rest.length > 0 ? { subtype: rest.join(' ') } : {}) };
    }));
    if (fb.length > 0) m.rtcpFb = fb;
    if (s.ptime !== undefined) m.ptime = s.ptime;
    if (s.maxptime !== undefined) m.maxptime = s.maxptime;
    if (s.rtcpMux) m.rtcpMux = 'rtcp-mux';
    else if (ep.rtcpPort !== ep.rtpPort + 1) m.rtcp = { port: ep.rtcpPort, netType: 'IN', ipVer: ipVersion(ep.address), address: ep.address };
    if (s.encryption === 'sdes' && s.crypto) m.crypto = s.crypto.map((c) => formatCrypto(c.tag, c.key));
    if (s.encryption === 'dtls-srtp') {
      const fp = s.fingerprint ?? ep.fingerprint;
      if (fp) {
        const [type, hash] = fp.split(' ');
        m.fingerprint = { type: type!, hash: hash! };
      }
      m.setup = s.setup ?? 'actpass';
    }
    // RFC 6189 section 8: sdp-transform has no grammar for it, and writes unknown lines as they are.
    if (s.encryption === 'zrtp' && ep.zrtpHash) m.invalid = [{ value: `zrtp-hash:${ep.zrtpHash}` }];
    if (s.ice) {
      m.candidates = s.ice.candidates.map((c) => ({
        foundation: c.foundation, component: c.component, transport: 'UDP', priority: c.priority, ip: c.ip, port: c.port, type: c.type,
        ...(c.raddr !== undefined ? { raddr: c.raddr } : {}), ...(c.rport !== undefined ? { rport: c.rport } : {}),
      }));
    }
    return m;
  });
  // RFC 8839: a=ice-lite is session level; ufrag / pwd are the same for every m-line of a leg, so session level too (as liblinphone writes them).
  const ice = input.streams.find((s) => s.enabled && s.endpoint && s.ice)?.ice;
  const sdp: sdpTransform.SessionDescription = {
    version: 0,
    origin: { username: '-', sessionId: input.sessionId, sessionVersion: input.sessionVersion, netType: 'IN', ipVer: ipVersion(input.address), address: input.address },
    name: input.sessionName ?? 'b2bua-server',
    connection: { version: ipVersion(input.address), ip: input.address },
    timing: { start: 0, stop: 0 },
    ...(ice ? { icelite: 'ice-lite' as const, iceUfrag: ice.ufrag, icePwd: ice.pwd } : {}),
    media,
  };
  return sdpTransform.write(sdp);
}
