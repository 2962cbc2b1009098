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

export interface MediaLine {
  readonly index: number;
  /** `audio`, `video`, or any other m= type (kept to preserve m-line order; never relayed). */
  readonly kind: string;
  readonly port: number;
  /** port 0 = stream refused / removed. */
  readonly enabled: boolean;
  readonly proto: string;
  /** The m= line's format list as written (kept for refused / non-RTP streams). */
  readonly formats: string;
  readonly address: string;
  readonly rtcpPort: number;
  readonly rtcpMux: boolean;
  readonly direction: Direction;
  readonly codecs: readonly Codec[];
  readonly ptime?: number | undefined;
  readonly maxptime?: number | undefined;
  readonly encryption: EncryptionMode;
  /** RTP/AVPF, RTP/SAVPF, UDP/TLS/RTP/SAVPF. */
  readonly avpf: boolean;
  readonly crypto: readonly CryptoLine[];
  readonly fingerprint?: string | undefined;
  readonly setup?: string | undefined;
  readonly zrtpHash?: string | undefined;
}

export interface ParsedSdp {
  readonly address: string;
  readonly sessionId: string;
  readonly sessionVersion: number;
  readonly media: readonly MediaLine[];
}

export type SdpParseResult = { readonly ok: true; readonly sdp: ParsedSdp } | { readonly ok: false; readonly error: string };

/** Encryption a whole offer asks for: the first enabled audio/video stream decides. */
export interface OfferSummary {
  readonly encryption: EncryptionMode;
  readonly srtpSuites: readonly SrtpSuite[];
  readonly kinds: readonly ('audio' | 'video' | 'text' | 'application')[];
}
