/**
 * The one media interface the back-to-back framework uses. Implementations:
 * a plain in-process RTP relay (core/media/relay) and the GStreamer engine with
 * media worker processes (core/media/gst). The framework never knows which.
 *
 * Model: a MediaSession per call; each call has two legs ('a' = caller side,
 * 'b' = callee side); stream `index` i of leg A is bridged to stream i of leg B
 * (same m-line position in each leg's SDP, which the framework keeps aligned).
 */
import type { Direction, EncryptionMode, LegId, MediaKind, SrtpSuite } from '../vocabulary/index.js';

/** Where we receive (and, symmetric RTP, send from) for one stream of one leg. */
export interface LocalEndpoint {
  readonly address: string;
  readonly rtpPort: number;
  /** = rtpPort + 1 unless the engine only offers rtcp-mux. */
  readonly rtcpPort: number;
  /** DTLS-SRTP: our certificate fingerprint `sha-256 AB:CD:…` for this leg. */
  readonly fingerprint?: string;
  /** ZRTP: our a=zrtp-hash value (`1.10 <hex>`, RFC 6189 section 8) for this stream. */
  readonly zrtpHash?: string;
}

/** SDES key material (RFC 4568 inline key||salt, base64) for one direction. */
export interface SrtpKey {
  readonly suite: SrtpSuite;
  readonly keySalt: string;
  /** MKI the sender of this key puts in every packet (a=crypto `|value:length`, RFC 4568); absent = none. */
  readonly mki?: { readonly value: number; readonly length: number };
}

export interface StreamParams {
  readonly index: number;
  readonly kind: MediaKind;
  /** false = stream removed/rejected (port 0 in SDP): the engine stops relaying it. */
  readonly enabled: boolean;
  /** The peer's address from its SDP (c= / m= port), unknown until it answered/offered. */
  readonly remote?: { readonly address: string; readonly rtpPort: number; readonly rtcpPort: number };
  readonly rtcpMux: boolean;
  /** What we negotiated with this leg's peer (after hold). Controls forwarding *to* this leg. */
  readonly direction: Direction;
  /** RTP payload types relayed (informational; the relay does not transcode). */
  readonly payloadTypes?: readonly number[];
  /** RFC 4733 telephone-event negotiated with this leg's peer (both SDPs have it): its payload type and clock rate. */
  readonly telephoneEvent?: { readonly pt: number; readonly clockRate: number };
  readonly encryption: EncryptionMode;
  /** SDES: key we encrypt with (we send) and the peer's key we decrypt with. */
  readonly srtp?: { readonly send: SrtpKey; readonly recv: SrtpKey };
  /** DTLS-SRTP: our role and the fingerprint the peer announced. */
  readonly dtls?: { readonly role: 'client' | 'server'; readonly remoteFingerprint: string };
  /** ZRTP: the peer's a=zrtp-hash for this stream, when it sent one (its Hello is checked against it). */
  readonly zrtp?: { readonly peerHelloHash?: string };
  /**
   * ICE-lite on this leg (both sides announced ICE): our credentials, the peer's ufrag, and the addresses its checks may
   * come from (its SDP candidates and c= address: no RTP Bleed through ICE). The pair the peer nominates becomes the
   * stream's only accepted source and its destination.
   */
  readonly ice?: { readonly localUfrag: string; readonly localPwd: string; readonly remoteUfrag: string; readonly remoteAddresses: readonly string[] };
}

export interface LegParams {
  readonly streams: readonly StreamParams[];
}

export interface StreamStats {
  readonly index: number;
  readonly kind: MediaKind;
  /** Counted at our socket for this leg. */
  readonly packetsIn: number;
  readonly bytesIn: number;
  readonly packetsOut: number;
  readonly bytesOut: number;
  readonly srtpAuthFailures: number;
  readonly srtpReplays: number;
  /** Packets dropped because they came from an address latching does not allow. */
  readonly rejectedSource: number;
  /** rejectedSource by reason (engines that do not split it omit them): not the SDP (or ICE nominated) address / no peer
   * address yet; the SDP address but a port the latch does not allow. */
  readonly rejectedWrongAddress?: number;
  readonly rejectedWrongPort?: number;
  /** SRTP: packets from a port not latched that failed authentication (never move the latch; also in srtpAuthFailures). */
  readonly rejectedUnauthenticated?: number;
  /** Times the latched source port moved (NAT rebinding, authenticated packet from a new port, SDP port back). */
  readonly relatches?: number;
  /** RTP packets missing from the peer's sequence numbers (RFC 3550 A.3); engines that do not count it omit it. */
  readonly packetsLost?: number;
  /** ms since epoch of the last RTP packet received on this leg's stream, 0 if none. */
  readonly lastPacketAt: number;
  /** ICE: the peer's connectivity checks (STUN Binding requests) we answered / dropped; engines without ICE omit them. */
  readonly iceChecksAnswered?: number;
  readonly iceChecksRefused?: number;
  /** ICE: the address:port the peer nominated (USE-CANDIDATE) for RTP, when it did. */
  readonly iceNominated?: string;
  /** How the stream is secured (absent for plain RTP). */
  readonly security?: StreamSecurity;
}

/** The encryption of one stream of one leg, as the media report and /calls show it. */
export interface StreamSecurity {
  readonly mode: EncryptionMode;
  /** SRTP suite protecting the media (RFC 4568 name), absent until keyed. */
  readonly suite?: string;
  /** DTLS / ZRTP: 'handshaking' until the keys are there and checked, then 'secured'; 'failed' ends the call. */
  readonly state?: 'handshaking' | 'secured' | 'failed';
  readonly error?: string;
  readonly dtls?: {
    readonly role: 'client' | 'server';
    /** The peer's certificate matched the a=fingerprint of its SDP. */
    readonly fingerprintVerified: boolean;
    readonly peerFingerprint?: string;
  };
  readonly zrtp?: {
    readonly sas: string;
    readonly sasType: string;
    readonly cipher: string;
    readonly authTag: string;
    readonly keyAgreement: string;
    readonly hash: string;
    /** A retained secret from an earlier call with this peer matched (ZID cache hit). */
    readonly cacheHit: boolean;
    readonly cacheMismatch: boolean;
  };
  /** Packets dropped while waiting for the handshake's keys. */
  readonly heldPackets?: number;
}

export interface SessionStats {
  readonly a: readonly StreamStats[];
  readonly b: readonly StreamStats[];
}

export type MediaEvent =
  /** No RTP received on a leg for `noRtpTimeoutMs` (once per silence period). */
  | { readonly type: 'leg-silent'; readonly leg: LegId; readonly silentForMs: number }
  /** The session cannot go on (worker died, pipeline error, DTLS/ZRTP failure): the call must end. */
  | { readonly type: 'failed'; readonly reason: string; readonly handshake?: 'dtls' | 'zrtp' }
  | { readonly type: 'dtls-connected' | 'zrtp-secured'; readonly leg: LegId; readonly detail?: string }
  /** An RFC 4733 event received on `leg` and not forwarded (the other leg did not negotiate telephone-event), once per event. */
  | { readonly type: 'dtmf'; readonly leg: LegId; readonly digit: string; readonly durationMs: number };

export interface MediaSessionOptions {
  /** Signalling call id, for logs. */
  readonly callId: string;
  /** 0 = no silence detection. */
  readonly noRtpTimeoutMs: number;
}

export interface MediaSession {
  readonly id: string;
  /** The media worker (index) holding the session; absent for in-process engines. */
  readonly worker?: number;
  /**
   * Reserve (idempotent per leg+index) the local endpoint of one stream; `encryption` is the leg's mode, so that
   * the endpoint carries what the SDP must announce for it (DTLS fingerprint, ZRTP hello hash); `family`: the IP family
   * of the leg's peer (4 or 6), the endpoint's address is of that family when the server has one (else the default one).
   */
  allocate(leg: LegId, index: number, kind: MediaKind, encryption?: EncryptionMode, family?: 4 | 6): Promise<LocalEndpoint>;
  /** Set what to do for a leg; called at each offer/answer step; replaces the previous params. */
  configure(leg: LegId, params: LegParams): Promise<void>;
  stats(): Promise<SessionStats>;
  onEvent(listener: (event: MediaEvent) => void): void;
  /**
   * Engines that convert DTMF: send `digit` as RFC 4733 events on stream `index` of `leg` (which negotiated telephone-event);
   * false when it cannot (no such stream, no telephone-event, nothing sent on it yet); a promise when the engine answers
   * asynchronously (media workers). Absent = no DTMF conversion.
   */
  sendDtmf?(leg: LegId, index: number, digit: string, durationMs: number): boolean | Promise<boolean>;
  /** Stop relaying, free ports; resolves with the final statistics. Idempotent. */
  close(): Promise<SessionStats>;
}

export interface MediaEngineCounters {
  readonly sessions: number;
  readonly portsInUse: number;
  /** Calls ended because a DTLS handshake failed or a peer certificate did not match its SDP fingerprint. */
  readonly dtlsFailures?: number;
  /** Calls ended because ZRTP failed (hello hash mismatch, handshake error or timeout). */
  readonly zrtpFailures?: number;
  /** Media worker processes respawned after dying (engines with workers). */
  readonly workerRestarts?: number;
}

/** What /health reports of the media plane: every worker must answer. */
export interface MediaHealth {
  readonly ok: boolean;
  readonly workers: readonly { readonly index: number; readonly pid: number | undefined; readonly ok: boolean; readonly problem?: string; readonly sessions?: number }[];
}

export interface MediaEngine {
  readonly name: string;
  /** Encryption modes and SDES suites this engine can do (others: 488 / start-up error). */
  readonly capabilities: {
    readonly encryption: readonly EncryptionMode[];
    readonly srtpSuites: readonly SrtpSuite[];
    /** The engine answers ICE connectivity checks (ICE-lite, `enable-ice`); absent = no ICE (no ICE attributes are written). */
    readonly ice?: boolean;
    /** Why a mode or suite is not available (operator-facing), where known. */
    readonly unavailable?: Readonly<Partial<Record<EncryptionMode | SrtpSuite, string>>>;
  };
  createSession(options: MediaSessionOptions): Promise<MediaSession>;
  counters(): MediaEngineCounters;
  /** Whether the engine can take calls (its workers answer); absent = always healthy (in-process engines). */
  health?(): Promise<MediaHealth>;
  /** How loaded the media workers are, read synchronously for admission control; absent = never overloaded (in-process engines). */
  load?(): MediaLoad;
  close(): Promise<void>;
}

/** Each media worker's queue as the signalling process sees it (core/b2bua/admission.ts). */
export interface MediaLoad {
  readonly workers: readonly {
    readonly alive: boolean;
    /** Requests sent, not answered yet. */
    readonly pending: number;
    /** Longest recent answer time (or oldest waiting request), ms. */
    readonly latencyMs: number;
    readonly sessions: number;
  }[];
}
