/**
 * Boundary between the daemon (core/cli, core/daemon) and the back-to-back framework.
 * The daemon builds config, plugin host and media engine, then drives a B2buaServer.
 */
import type { B2buaHooks, PluginSipApi } from '../plugin-api/index.js';
import type { Logger } from '../vocabulary/index.js';
import type { B2buaServerConfig } from '../config/server-config.js';
import type { MediaEngine } from '../media/types.js';
import type { SipStack } from '../sip/stack.js';
import type { CallEnded } from './call-results.js';
import type { StreamStats } from '../sip/transport.js';

export interface TlsFiles {
  readonly certificateFile: string;
  readonly privateKeyFile: string;
}

export interface B2buaServerOptions {
  readonly config: B2buaServerConfig;
  readonly hooks: B2buaHooks;
  readonly log: Logger;
  readonly media: MediaEngine;
  /** Our version, for the User-Agent `{version}` placeholder. */
  readonly version: string;
  /** Required when `transport` is sips: or transport=tls. */
  readonly tls?: TlsFiles;
}

/** Live counters, exposed by the admin interface; tests assert they return to zero. */
export interface ServerCounters {
  readonly calls: number;
  readonly dialogs: number;
  readonly transactions: number;
  readonly timers: number;
  readonly mediaSessions: number;
  readonly mediaPorts: number;
  readonly callsTotal: number;
  /** Our own leg B INVITEs the proxy sent back to us, answered 482 Loop Detected (core/b2bua/loop.ts). */
  readonly loopsDetected: number;
  /** New INVITEs answered 503 because the media workers were over an admission bound (core/b2bua/admission.ts). */
  readonly mediaOverloadRefused?: number;
  /** 2xx responses to INVITE matching no transaction nor call leg of ours, dropped (no ACK, no BYE, no DNS). */
  readonly strayResponsesDropped: number;
  /** Calls ended because a DTLS-SRTP handshake failed or a peer certificate did not match its SDP fingerprint. */
  readonly dtlsFailures: number;
  /** Calls ended because ZRTP failed (hello hash mismatch, handshake error or timeout). */
  readonly zrtpFailures: number;
  /** Subscriptions alive (bridged SUBSCRIBEs and plugins' own, core/b2bua/subscriptions.ts) and created since start. */
  readonly subscriptions: number;
  readonly subscriptionsTotal: number;
  /** TCP/TLS connections: open, largest count from one address, held bytes, refused / closed by the bounds (core/sip/transport.ts). */
  readonly sipConnections: StreamStats;
}

export interface B2buaServer {
  /** Open the transport(s); resolves with the URIs actually bound (port 0 resolved). */
  start(): Promise<{ readonly transports: readonly string[] }>;
  /** New INVITEs get 503 from now on; calls in progress continue. */
  stopAccepting(): void;
  /** End every call in progress (BYE / CANCEL on both legs), waiting at most timeoutMs. */
  drain(timeoutMs: number): Promise<void>;
  /** Close transports and timers. */
  close(): Promise<void>;
  counters(): ServerCounters;
  /** Called once per call at its end, with its result (for /metrics). */
  onCallEnded(listener: (ended: CallEnded) => void): void;
  /** Calls in progress, for the admin interface. */
  calls(): readonly Record<string, unknown>[];
  /** calls() with each call's live media report (per leg and stream: packets, encryption, DTLS/ZRTP state): admin /calls. */
  callsWithMedia(): Promise<readonly Record<string, unknown>[]>;
  /** SIP services handed to plugins (PluginHost.sip). */
  readonly sip: PluginSipApi;
  /** The SIP stack itself, for /metrics (its wire hook and retransmission counts). */
  readonly stack: SipStack;
  /** Ends a call in progress (our id or a leg's Call-ID): BYE / CANCEL on both legs; false when there is no such call. */
  hangUp(id: string): boolean;
}
