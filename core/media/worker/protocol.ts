/**
 * The typed channel between the signalling process and a media worker (Node IPC).
 * Requests mirror MediaSession; every request carries an id answered by exactly one
 * response. Events flow worker -> parent unprompted.
 */
import type { LegParams, MediaEvent, SessionStats } from '../types.js';
import type { ErrorCode } from '../../errors/index.js';
import type { EncryptionMode, LegId, MediaKind } from '../../vocabulary/index.js';

/** What every session of a worker shares: the DTLS certificate and the ZRTP ZID cache file. */
export interface WorkerSecurity {
  /** Certificate + private key (PEM); '' = no DTLS-SRTP in this worker. */
  readonly dtlsPem: string;
  /** SQLite file of ZRTP retained secrets; '' = no cache (a new ZID per call). */
  readonly zidCachePath: string;
}

export interface WorkerRequests {
  /** Probe the build (plugin loaded, suites libsrtp can do). First request after spawn. */
  init: { params: WorkerSecurity; result: { srtpSuites: string[]; gstVersion: string; handshakes: ('dtls-srtp' | 'zrtp')[]; srtpCrypto: string } };
  createSession: { params: { sessionId: string; callId: string; noRtpTimeoutMs: number }; result: null };
  /** Bind the sockets of one stream: `rtpPort` 0 = kernel picks; RTCP goes on rtpPort + 1 when free. */
  allocate: {
    params: { sessionId: string; leg: LegId; index: number; kind: MediaKind; bindAddress: string; rtpPort: number; encryption?: EncryptionMode };
    result: { rtpPort: number; rtcpPort: number; zrtpHash?: string };
  };
  configure: { params: { sessionId: string; leg: LegId; legParams: LegParams }; result: null };
  stats: { params: { sessionId: string }; result: SessionStats };
  close: { params: { sessionId: string }; result: SessionStats };
  /** RFC 4733 events for one digit on a leg's stream (MediaSession.sendDtmf); false = not sent (nothing to continue yet). */
  sendDtmf: { params: { sessionId: string; leg: LegId; index: number; digit: string; durationMs: number }; result: boolean };
  /** Liveness probe (/health): answered from the worker's event loop. */
  ping: { params: Record<string, never>; result: { sessions: number } };
  /** Test hook: make the worker fail in a GStreamer-like way (exit abruptly). */
  crash: { params: Record<string, never>; result: null };
}

export type RequestName = keyof WorkerRequests;

export interface RequestMessage<N extends RequestName = RequestName> {
  readonly kind: 'request';
  readonly id: number;
  readonly op: N;
  readonly params: WorkerRequests[N]['params'];
}

/** A failed request carries the catalog code and the message without its prefix; the parent rebuilds the B2buaError. */
export type ResponseMessage =
  | { readonly kind: 'response'; readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly kind: 'response'; readonly id: number; readonly ok: false; readonly code: ErrorCode; readonly message: string };

export type EventMessage =
  | { readonly kind: 'event'; readonly type: 'media'; readonly sessionId: string; readonly event: MediaEvent }
  | { readonly kind: 'event'; readonly type: 'log'; readonly level: 'debug' | 'info' | 'warn' | 'error'; readonly fields: Record<string, unknown>; readonly msg: string };

export type WorkerMessage = ResponseMessage | EventMessage;
