/**
 * What an SDP from a peer must satisfy before we act on it (leg B called, ports taken, an answer relayed):
 * IP-literal c= addresses, ports and numbers in range, bounded m-line / attribute counts and lengths, and a
 * secure profile (RTP/SAVP, UDP/TLS/RTP/SAVP) that carries usable keying, so that it is never answered in clear.
 * Checked on the text (sdp-transform keeps what it cannot read as strings) and on the parsed SDP (a=crypto).
 */
import net from 'node:net';
import { b2buaError, type B2buaError } from '../errors/index.js';
import { isSrtpSuite } from '../media/sdes.js';
import type { ParsedSdp } from './model.js';
import { parseSdp } from './parse.js';

export interface SdpLimits {
  /** `max-media-lines`. */
  readonly maxMediaLines: number;
}

/** Fixed bounds, wide enough for any real client (liblinphone video with ICE and H.264 sprop-parameter-sets writes well under them). */
export const SDP_BOUNDS = {
  lineLength: 2048,
  attributesPerSection: 128,
  fmtpLength: 1024,
  /** ms (a=ptime, a=maxptime): RFC 4566 says "packet time"; no codec packs more than a second. */
  maxPtime: 1000,
  /** Hz (a=rtpmap): 90 kHz video, 48 kHz Opus; 192 kHz is the highest audio rate in use. */
  maxClockRate: 192000,
  maxChannels: 16,
  /** kbit/s (b=AS, b=CT, b=RR, b=RS); b=TIAS is in bit/s. */
  maxBandwidthKbps: 10_000_000,
} as const;

export type SdpCheck = { readonly ok: true } | { readonly ok: false; readonly why: string };

const fail = (why: string): SdpCheck => ({ ok: false, why });

function inRange(text: string, min: number, max: number): boolean {
  return /^\d{1,10}$/.test(text) && Number(text) >= min && Number(text) <= max;
}

function checkConnection(value: string, where: string): string | undefined {
  const [net0, addrType, address, ...rest] = value.trim().split(/\s+/);
  if (net0 !== 'IN' || rest.length > 0 || address === undefined) return `${where}: c=${value.slice(0, 64)} is not "IN IP4|IP6 <address>"`;
  const version = addrType === 'IP4' ? 4 : addrType === 'IP6' ? 6 : 0;
  // A host name would have to be resolved (time, and a DNS answer chosen by the caller): only IP literals are accepted.
  if (version === 0 || net.isIP(address) !== version) return `${where}: c= address "${address.slice(0, 64)}" is not an IP${version || ''} address literal`;
  return undefined;
}

function checkMediaLine(value: string, where: string): string | undefined {
  const [, port, proto, ...formats] = value.trim().split(/\s+/);
  const [rtpPort, count] = (port ?? '').split('/');
  if (!inRange(rtpPort ?? '', 0, 65535)) return `${where}: port "${(port ?? '').slice(0, 16)}" is not 0..65535`;
  if (count !== undefined && count !== '1') return `${where}: port count "${count.slice(0, 16)}" is not supported (one port per m-line)`;
  if (!proto || formats.length === 0) return `${where}: m=${value.slice(0, 64)} has no proto or formats`;
  if (/RTP/i.test(proto) && formats.some((f) => !inRange(f, 0, 127))) return `${where}: payload type outside 0..127`;
  return undefined;
}

function checkAttribute(name: string, value: string, where: string, rtp: boolean): string | undefined {
  switch (name) {
    case 'ptime':
    case 'maxptime':
      return /^\d{1,4}(\.\d{1,3})?$/.test(value) && Number(value) > 0 && Number(value) <= SDP_BOUNDS.maxPtime
        ? undefined : `${where}: a=${name}:${value.slice(0, 24)} is not 1..${SDP_BOUNDS.maxPtime} ms`;
    case 'rtpmap': {
      const m = /^(\d{1,10})\s+[^\s/]+\/(\d{1,10})(?:\/(\d{1,10}))?\s*$/.exec(value);
      if (!m) return `${where}: a=rtpmap:${value.slice(0, 48)} is not "<pt> <name>/<rate>[/<channels>]"`;
      if (rtp && !inRange(m[1]!, 0, 127)) return `${where}: a=rtpmap payload type ${m[1]} is not 0..127`;
      if (!inRange(m[2]!, 1, SDP_BOUNDS.maxClockRate)) return `${where}: a=rtpmap clock rate ${m[2]} is not 1..${SDP_BOUNDS.maxClockRate}`;
      if (m[3] !== undefined && !inRange(m[3], 1, SDP_BOUNDS.maxChannels)) return `${where}: a=rtpmap channels ${m[3]} is not 1..${SDP_BOUNDS.maxChannels}`;
      return undefined;
    }
    case 'fmtp': {
      const m = /^(\S+)\s?(.*)$/.exec(value);
      if (rtp && !inRange(m?.[1] ?? '', 0, 127)) return `${where}: a=fmtp payload type "${(m?.[1] ?? '').slice(0, 16)}" is not 0..127`;
      return (m?.[2] ?? '').length > SDP_BOUNDS.fmtpLength ? `${where}: a=fmtp parameters longer than ${SDP_BOUNDS.fmtpLength} characters` : undefined;
    }
    case 'rtcp':
      return inRange(value.split(/\s+/)[0] ?? '', 0, 65535) ? undefined : `${where}: a=rtcp port "${value.slice(0, 16)}" is not 0..65535`;
    default:
      return undefined;
  }
}

function checkBandwidth(value: string, where: string): string | undefined {
  const [type, amount] = value.split(':');
  const max = type === 'TIAS' ? SDP_BOUNDS.maxBandwidthKbps * 1000 : SDP_BOUNDS.maxBandwidthKbps;
  return amount !== undefined && /^\d{1,11}$/.test(amount) && Number(amount) <= max ? undefined : `${where}: b=${value.slice(0, 32)} is not <type>:0..${max}`;
}

/** The text checks: one pass over the lines, section by section. */
export function checkSdpText(text: string, limits: SdpLimits): SdpCheck {
  let where = 'session';
  let mediaLines = 0;
  let attributes = 0;
  let rtp = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trimEnd();
    if (line === '') continue;
    if (line.length > SDP_BOUNDS.lineLength) return fail(`${where}: a line is longer than ${SDP_BOUNDS.lineLength} characters`);
    const type = line[0];
    const value = line.slice(2);
    if (line[1] !== '=') continue; // the parser refuses or ignores it
    let problem: string | undefined;
    if (type === 'm') {
      mediaLines++;
      if (mediaLines > limits.maxMediaLines) return fail(`more than ${limits.maxMediaLines} m-lines (max-media-lines)`);
      where = `m-line ${mediaLines - 1}`;
      attributes = 0;
      rtp = /RTP/i.test(value.split(/\s+/)[2] ?? '');
      problem = checkMediaLine(value, where);
    } else if (type === 'c') problem = checkConnection(value, where);
    else if (type === 'b') problem = checkBandwidth(value, where);
    else if (type === 'a') {
      if (++attributes > SDP_BOUNDS.attributesPerSection) return fail(`${where}: more than ${SDP_BOUNDS.attributesPerSection} a= lines`);
      const colon = value.indexOf(':');
      problem = colon < 0 ? undefined : checkAttribute(value.slice(0, colon), value.slice(colon + 1).trim(), where, rtp);
    }
    if (problem) return fail(problem);
  }
  return { ok: true };
}

const isSecureProfile = (proto: string): boolean => /SAVP/i.test(proto);

/**
 * A secure profile must come with keying we can use: RTP/SAVP(F) with at least one a=crypto line of a known suite
 * (parseSdp keeps only the well-formed ones), UDP/TLS/RTP/SAVP(F) with a=fingerprint. Otherwise the stream would be
 * read as plain RTP and answered RTP/AVP: a silent downgrade. Enabled audio / video streams must also agree on one
 * encryption, as a leg has one (the first stream's) and a stream answered in another would lose its security.
 */
export function checkSdpSecurity(sdp: ParsedSdp): SdpCheck {
  const av = sdp.media.filter((m) => m.enabled && (m.kind === 'audio' || m.kind === 'video'));
  for (const m of av) {
    if (!isSecureProfile(m.proto)) continue;
    const where = `m-line ${m.index} (${m.proto})`;
    if (/^UDP\/TLS\//i.test(m.proto)) {
      if (m.encryption !== 'dtls-srtp') return fail(`${where}: DTLS-SRTP profile without a=fingerprint`);
    } else if (!m.crypto.some((c) => isSrtpSuite(c.suite))) {
      return fail(`${where}: no usable a=crypto line (unknown suite, bad key, MKI or lifetime)`);
    }
  }
  const modes = new Set(av.map((m) => m.encryption));
  if (modes.size > 1) return fail(`audio/video m-lines use different encryptions (${[...modes].join(', ')})`);
  return { ok: true };
}

export type PeerSdp = { readonly ok: true; readonly sdp: ParsedSdp } | { readonly ok: false; readonly error: B2buaError };

/**
 * A peer's SDP (offer or answer) parsed and checked: B2BUA_SDP_INVALID (488) for what breaks a rule above,
 * B2BUA_SDP_UNPARSABLE (400, or `unparsableStatus`) for what cannot be read at all.
 */
export function readPeerSdp(text: string, limits: SdpLimits, unparsableStatus?: number): PeerSdp {
  const textCheck = checkSdpText(text, limits);
  if (!textCheck.ok) return { ok: false, error: b2buaError('B2BUA_SDP_INVALID', { why: textCheck.why }) };
  const parsed = parseSdp(text);
  if (!parsed.ok) {
    return { ok: false, error: b2buaError('B2BUA_SDP_UNPARSABLE', { why: parsed.error.slice(0, 80) }, unparsableStatus ? { status: unparsableStatus } : undefined) };
  }
  const security = checkSdpSecurity(parsed.sdp);
  if (!security.ok) return { ok: false, error: b2buaError('B2BUA_SDP_INVALID', { why: security.why }) };
  return { ok: true, sdp: parsed.sdp };
}
