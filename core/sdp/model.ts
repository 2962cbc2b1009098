/** What we keep from an SDP: one normalised description per m-line (only attributes we understand). */
import type { EncryptionMode, SrtpSuite, Direction } from '../vocabulary/index.js';
import type { CryptoLine } from '../media/sdes.js';

export interface Codec {
  readonly pt: number;
  /** As written in a=rtpmap (case kept); static payload types without rtpmap get their RFC 3551 name. */
  readonly name: string;
  readonly rate: number;
  readonly channels?: number | undefined;
  readonly fmtp?: string | undefined;
  readonly rtcpFb: readonly string[];
}

/** One a=candidate line (RFC 8839 section 5.1), UDP only (we never write others; others are ignored when parsed). */
export interface IceCandidate {
  readonly foundation: string;
  /** 1 = RTP, 2 = RTCP. */
  readonly component: number;
  readonly priority: number;
  readonly ip: string;
  readonly port: number;
  /** host, srflx, prflx, relay. */
  readonly type: string;
  readonly raddr?: string | undefined;
  readonly rport?: number | undefined;
}

/** The ICE attributes of an m-line, session-level ones merged in (RFC 8839): present when it has ufrag and pwd. */
export interface IceDescription {
  readonly ufrag: string;
  readonly pwd: string;
  /** a=ice-lite (session level). */
  readonly lite: boolean;
  readonly candidates: readonly IceCandidate[];
}

/** What a parsed m-line (MediaLine) and one we build (OutStream) both say about a stream. */
export interface StreamDescription {
  /** `audio`, `video`, or any other m= type (kept to preserve m-line order; never relayed). */
  readonly kind: string;
  /** false = port 0: stream refused / removed. */
  readonly enabled: boolean;
  readonly direction: Direction;
  readonly codecs: readonly Codec[];
  readonly rtcpMux: boolean;
  readonly ptime?: number | undefined;
  readonly maxptime?: number | undefined;
  readonly encryption: EncryptionMode;
  /** RTP/AVPF, RTP/SAVPF, UDP/TLS/RTP/SAVPF. */
  readonly avpf: boolean;
}

export interface MediaLine extends StreamDescription {
  readonly index: number;
  readonly port: number;
  readonly proto: string;
  /** The m= line's format list as written (kept for refused / non-RTP streams). */
  readonly formats: string;
  readonly address: string;
  readonly rtcpPort: number;
  readonly crypto: readonly CryptoLine[];
  readonly fingerprint?: string | undefined;
  readonly setup?: string | undefined;
  readonly zrtpHash?: string | undefined;
  /** The peer's ICE attributes for this m-line; absent = no ICE. */
  readonly ice?: IceDescription | undefined;
}

/** The session level a parsed SDP and one we build share: address, o= session id and version. */
export interface SdpSession {
  readonly address: string;
  readonly sessionId: string;
  readonly sessionVersion: number;
}

export interface ParsedSdp extends SdpSession {
  readonly media: readonly MediaLine[];
}

export type SdpParseResult = { readonly ok: true; readonly sdp: ParsedSdp } | { readonly ok: false; readonly error: string };

/** Encryption a whole offer asks for: the first enabled audio/video stream decides. */
export interface OfferSummary {
  readonly encryption: EncryptionMode;
  readonly srtpSuites: readonly SrtpSuite[];
  readonly kinds: readonly ('audio' | 'video' | 'text' | 'application')[];
}
