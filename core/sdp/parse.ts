/** SDP parsing with sdp-transform, normalised to MediaLine; never throws (bad SDP → error text for 400/488). */
import sdpTransform from 'sdp-transform';
import { parseOrError } from '../errors/index.js';
import { isSrtpSuite, parseCrypto, type CryptoLine } from '../media/sdes.js';
import type { Direction, EncryptionMode, SrtpSuite } from '../vocabulary/index.js';
import type { Codec, IceCandidate, IceDescription, MediaLine, OfferSummary, ParsedSdp, SdpParseResult } from './model.js';

/** RFC 3551 static payload types. */
const STATIC_PT: Readonly<Record<number, { name: string; rate: number; channels?: number }>> = {
  0: { name: 'PCMU', rate: 8000 }, 3: { name: 'GSM', rate: 8000 }, 4: { name: 'G723', rate: 8000 }, 8: { name: 'PCMA', rate: 8000 },
  9: { name: 'G722', rate: 8000 }, 13: { name: 'CN', rate: 8000 }, 18: { name: 'G729', rate: 8000 }, 26: { name: 'JPEG', rate: 90000 },
  31: { name: 'H261', rate: 90000 }, 34: { name: 'H263', rate: 90000 },
};

const DIRECTIONS: readonly Direction[] = ['sendrecv', 'sendonly', 'recvonly', 'inactive'];

export function parseSdp(text: string): SdpParseResult {
  return parseOrError(() => parseUnsafe(text), (why) => `unparsable SDP (${why})`);
}

function parseUnsafe(text: string): SdpParseResult {
  if (!/^v=0\s*$/m.test(text.split(/\r?\n/)[0] ?? '')) return { ok: false, error: 'SDP does not start with v=0' };
  const s = sdpTransform.parse(text);
  if (!s.origin) return { ok: false, error: 'SDP has no o= line' };
  if (!Array.isArray(s.media) || s.media.length === 0) return { ok: false, error: 'SDP has no m= line' };
  const sessionAddress = s.connection?.ip;
  const sessionDirection = s.direction;
  const media: MediaLine[] = [];
  for (const [index, m] of s.media.entries()) {
    if (typeof m.port !== 'number' || !Number.isInteger(m.port) || m.port < 0 || m.port > 65535) return { ok: false, error: `m-line ${index}: bad port` };
    const address = m.connection?.ip ?? sessionAddress;
    if (!address && m.port !== 0) return { ok: false, error: `m-line ${index} (${m.type}): no c= address` };
    const proto = m.protocol ?? '';
    const pts = String(m.payloads ?? '').trim().split(/\s+/).filter((p) => p !== '');
    const codecs: Codec[] = [];
    for (const p of pts) {
      const pt = Number(p);
      if (!Number.isInteger(pt) || pt < 0 || pt > 127) {
        if (/RTP/.test(proto)) return { ok: false, error: `m-line ${index}: bad payload type "${p}"` };
        continue;
      }
      const rtpmap = m.rtp?.find((r) => r.payload === pt);
      const fixed = STATIC_PT[pt];
      if (!rtpmap && !fixed) continue; // dynamic payload without rtpmap: unusable
      const encoding = rtpmap?.encoding !== undefined ? Number(rtpmap.encoding) : fixed?.channels;
      codecs.push({
        pt,
        name: rtpmap?.codec ?? fixed!.name,
        rate: rtpmap?.rate ?? fixed!.rate,
        ...(encoding !== undefined && !Number.isNaN(encoding) ? { channels: encoding } : {}),
        fmtp: m.fmtp?.find((f) => f.payload === pt)?.config,
        rtcpFb: (m.rtcpFb ?? []).filter((f) => String(f.payload) === String(pt) || f.payload === '*').map((f) => (f.subtype ? `${f.type} ${f.subtype}` : f.type)),
      });
    }
    const crypto: CryptoLine[] = [];
    for (const c of m.crypto ?? []) {
      const r = parseCrypto(c);
      if (r.ok) crypto.push(r.line);
    }
    const zrtpHash = (m.invalid ?? []).map((i) => /^zrtp-hash:(.*)$/.exec(i.value)?.[1]).find((v) => v !== undefined);
    const fingerprint = m.fingerprint ?? s.fingerprint;
    let direction = (m.direction) ?? sessionDirection ?? 'sendrecv';
    // RFC 2543-style hold (c=0.0.0.0): "do not send to me" (RFC 3264 §8.4).
    if (address === '0.0.0.0') direction = direction === 'sendrecv' ? 'sendonly' : direction === 'recvonly' ? 'inactive' : direction;
    const avpf = /AVPF$/i.test(proto);
    const ice = iceOf(s, m);
    const encryption = encryptionOf(proto, crypto.length > 0, fingerprint !== undefined, zrtpHash !== undefined);
    media.push({
      index,
      kind: m.type,
      port: m.port,
      enabled: m.port !== 0,
      proto,
      formats: pts.join(' ') || '0',
      address: m.rtcp?.address ?? address ?? '0.0.0.0',
      rtcpPort: m.rtcp?.port ?? m.port + 1,
      rtcpMux: m.rtcpMux !== undefined,
      direction: DIRECTIONS.includes(direction) ? direction : 'sendrecv',
      codecs,
      ptime: m.ptime,
      maxptime: m.maxptime,
      encryption,
      avpf,
      crypto,
      fingerprint: fingerprint ? `${fingerprint.type} ${fingerprint.hash}` : undefined,
      setup: m.setup ?? (s as { setup?: string }).setup,
      zrtpHash,
      ...(ice ? { ice } : {}),
    });
    // m.rtcp.address is only the RTCP address; the RTP address is the c= line.
    if (m.rtcp?.address) (media[media.length - 1] as { address: string }).address = address ?? m.rtcp.address;
  }
  const parsed: ParsedSdp = {
    address: sessionAddress ?? media.find((x) => x.enabled)?.address ?? '0.0.0.0',
    sessionId: String(s.origin.sessionId),
    sessionVersion: Number(s.origin.sessionVersion) || 0,
    media,
  };
  return { ok: true, sdp: parsed };
}

/** ICE ufrag / pwd (media level wins over session level), a=ice-lite, the UDP candidates; undefined without credentials. */
function iceOf(s: sdpTransform.SessionDescription, m: sdpTransform.MediaDescription): IceDescription | undefined {
  const ufrag = m.iceUfrag ?? s.iceUfrag;
  const pwd = m.icePwd ?? s.icePwd;
  if (!ufrag || !pwd) return undefined;
  const candidates: IceCandidate[] = [];
  for (const c of m.candidates ?? []) {
    if (String(c.transport).toUpperCase() !== 'UDP' || !Number.isInteger(c.port) || c.port <= 0 || c.port > 65535) continue;
    candidates.push({
      foundation: String(c.foundation), component: Number(c.component), priority: Number(c.priority), ip: String(c.ip), port: c.port, type: String(c.type),
      ...(c.raddr !== undefined ? { raddr: String(c.raddr) } : {}), ...(c.rport !== undefined ? { rport: Number(c.rport) } : {}),
    });
  }
  return { ufrag: String(ufrag), pwd: String(pwd), lite: s.icelite !== undefined, candidates };
}

function encryptionOf(proto: string, hasCrypto: boolean, hasFingerprint: boolean, hasZrtp: boolean): EncryptionMode {
  const p = proto.toUpperCase();
  if (p.startsWith('UDP/TLS/RTP/SAVP') && hasFingerprint) return 'dtls-srtp';
  if (p.startsWith('RTP/SAVP') && hasCrypto) return 'sdes';
  if (hasZrtp) return 'zrtp';
  return 'none';
}

/** What leg A offers: encryption of the first enabled audio/video stream, its SDES suites, the kinds offered. */
export function summarizeOffer(sdp: ParsedSdp): OfferSummary {
  const av = sdp.media.filter((m) => m.enabled && (m.kind === 'audio' || m.kind === 'video'));
  const first = av[0];
  const suites: SrtpSuite[] = [];
  if (first?.encryption === 'sdes') for (const c of first.crypto) if (isSrtpSuite(c.suite) && !suites.includes(c.suite)) suites.push(c.suite);
  const kinds = [...new Set(sdp.media.filter((m) => m.enabled).map((m) => m.kind))]
    .filter((k): k is 'audio' | 'video' | 'text' | 'application' => ['audio', 'video', 'text', 'application'].includes(k));
  return { encryption: first?.encryption ?? 'none', srtpSuites: suites, kinds };
}
