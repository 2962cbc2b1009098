/**
 * The plugin API: the only module an application plugin imports from the host.
 * A third-party plugin depends on `b2bua-server` (peer dependency) and imports
 * `b2bua-server/plugin-api`. Nothing here exposes core internals.
 *
 * A plugin is an object { name, hostApi, configSchema, apply(host) } (webpack's
 * `apply(compiler)` pattern); in `apply` it taps the tapable hooks of `host.hooks`.
 */
import { AsyncSeriesHook, AsyncSeriesWaterfallHook, SyncHook } from 'tapable';

export { AsyncSeriesHook, AsyncSeriesWaterfallHook, SyncHook };

/** Version of this API. Plugins declare a semver range (`hostApi`) that must include it. */
export const HOST_API_VERSION = '1.0.0';

// ---------------------------------------------------------------- media vocabulary

export const ENCRYPTION_MODES = ['none', 'sdes', 'dtls-srtp', 'zrtp'] as const;
export type EncryptionMode = (typeof ENCRYPTION_MODES)[number];

export const SRTP_SUITES = [
  'AES_CM_128_HMAC_SHA1_80',
  'AES_CM_128_HMAC_SHA1_32',
  'AES_192_CM_HMAC_SHA1_80',
  'AES_192_CM_HMAC_SHA1_32',
  'AES_256_CM_HMAC_SHA1_80',
  'AES_256_CM_HMAC_SHA1_32',
  'AEAD_AES_128_GCM',
  'AEAD_AES_256_GCM',
] as const;
export type SrtpSuite = (typeof SRTP_SUITES)[number];

// ---------------------------------------------------------------- configuration

/** `audio-port` / `video-port`: 0 = kernel picks, or an inclusive range (min == max for a single port). */
export interface PortRange {
  readonly min: number;
  readonly max: number;
}

/** The validated, frozen `[b2bua-server]` section (kebab-case keys turned camelCase). */
export interface B2buaServerConfig {
  readonly application: string;
  readonly transport: string;
  readonly outboundProxy: string;
  readonly userAgent: string;
  readonly audioPort: PortRange;
  readonly videoPort: PortRange;
  readonly noRtpTimeout: number;
  readonly maxCallDuration: number;
  readonly maxCalls: number;
  readonly enableKeepalive: boolean;
  readonly enableIce: boolean;
  readonly natAddresses: readonly string[];
  readonly audioCodec: string;
  readonly videoCodec: string;
  readonly dataDirectory: string;
  readonly oneConnectionPerAccount: boolean;
  /** Our extensions (documented in the README), e.g. TLS files, plugin directories, media workers. */
  readonly [extension: string]: unknown;
}

// ---------------------------------------------------------------- logging

export interface Logger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

// ---------------------------------------------------------------- calls

/** A SIP name-addr, e.g. `"Alice" <sip:alice@example.org>;tag=1`. */
export interface NameAddr {
  readonly displayName?: string | undefined;
  readonly uri: string;
  readonly params: Readonly<Record<string, string | null>>;
}

/** Leg A's encryption as offered by the caller. */
export interface OfferedMedia {
  readonly encryption: EncryptionMode;
  /** SDES suites offered on leg A (empty unless encryption is `sdes`). */
  readonly srtpSuites: readonly SrtpSuite[];
  readonly kinds: readonly ('audio' | 'video' | 'text' | 'application')[];
}

/** What a plugin may read about an incoming call (leg A). Immutable. */
export interface IncomingCall {
  /** Server-wide call id (also in every log line of the call). */
  readonly id: string;
  readonly legA: {
    readonly callId: string;
    readonly requestUri: string;
    readonly from: NameAddr;
    readonly to: NameAddr;
    /** First value of a header, case-insensitive name; undefined when absent. */
    header(name: string): string | undefined;
    readonly transport: 'udp' | 'tcp' | 'tls';
    readonly source: { readonly address: string; readonly port: number };
  };
  readonly offeredMedia: OfferedMedia;
  /** Per-call storage for plugins (e.g. the trunk line a call holds). Key it by plugin name. */
  readonly data: Map<string, unknown>;
}

/** Leg B's target; the waterfall starts from Flexisip's defaults (To and Request-URI = leg A To URI). */
export interface LegBTarget {
  requestUri: string;
  from: string;
  to: string;
  /** Where the INVITE is sent (a SIP URI); undefined = resolve the Request-URI. */
  outboundProxy: string | undefined;
  /** Extra headers for leg B's INVITE (name → value). */
  headers: Record<string, string>;
  /**
   * Answer 401/407 challenges to leg B's INVITE with these (e.g. the sip-bridge account the call goes out with);
   * undefined = leg B does not authenticate.
   */
  credentials?: OutgoingRequest['credentials'];
}

/** Leg B's media encryption; the waterfall starts from leg A's mode and suites. */
export interface LegBMedia {
  encryption: EncryptionMode;
  srtpSuites: SrtpSuite[];
}

export interface CallAnswered {
  readonly call: IncomingCall;
  readonly legB: { readonly callId: string; readonly requestUri: string };
}

export interface CallEnded {
  readonly call: IncomingCall;
  /** e.g. `caller-bye`, `callee-bye`, `cancelled`, `rejected 486`, `no-rtp-timeout`, `max-call-duration`, `shutdown`. */
  readonly reason: string;
  readonly durationMs: number;
  /** Per-leg media statistics, when the call had media. */
  readonly mediaReport?: Readonly<Record<string, unknown>>;
}

export interface ServerInfo {
  readonly version: string;
  readonly transports: readonly string[];
}

export interface RegistrationEvent {
  readonly plugin: string;
  readonly account: string;
  readonly state: 'registering' | 'registered' | 'failed' | 'unregistered';
  readonly reason?: string;
}

/**
 * Thrown from a hook to refuse a call: the host answers leg A with `status reason`
 * (e.g. 488 when leg B's encryption cannot be done, 403, 404 for no route).
 */
export class CallRejection extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
  ) {
    super(`call rejected: ${status} ${reason}`);
    this.name = 'CallRejection';
  }
}

/**
 * Thrown from `apply(host)` when the plugin's options cannot be served by this server (e.g. an SRTP
 * suite the media engine lacks). The host reports it as B2BUA_CONFIG_INVALID naming the plugin's section.
 * `problems` are `key: what is wrong (what to change)`, like validate()'s.
 */
export class PluginConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
    this.name = 'PluginConfigError';
  }
}

export function rejectCall(status: number, reason: string): never {
  throw new CallRejection(status, reason);
}

// ---------------------------------------------------------------- hooks

export interface B2buaHooks {
  /** The server listens and is about to accept calls. */
  readonly ready: AsyncSeriesHook<[ServerInfo]>;
  /** A new INVITE on leg A; throw CallRejection to refuse it. */
  readonly incomingCall: AsyncSeriesHook<[IncomingCall]>;
  /** Decide leg B's target and headers (sip-bridge). */
  readonly legBTarget: AsyncSeriesWaterfallHook<[LegBTarget, IncomingCall]>;
  /** Decide leg B's media encryption and SRTP suites (trenscrypter). */
  readonly legBMedia: AsyncSeriesWaterfallHook<[LegBMedia, IncomingCall]>;
  /** Leg B answered 200 and leg A was answered. */
  readonly callAnswered: AsyncSeriesHook<[CallAnswered]>;
  /** The call ended (any reason, exactly once per call that reached incomingCall). */
  readonly callEnded: SyncHook<[CallEnded]>;
  /** Registration state of an account changed (emitted by plugins that register, consumed by anyone). */
  readonly registrationChanged: SyncHook<[RegistrationEvent]>;
  /** The server is stopping: un-REGISTER, flush. Bounded in time by the host. */
  readonly shutdown: AsyncSeriesHook<[]>;
}

export function createHooks(): B2buaHooks {
  return {
    ready: new AsyncSeriesHook(['server']),
    incomingCall: new AsyncSeriesHook(['call']),
    legBTarget: new AsyncSeriesWaterfallHook(['target', 'call']),
    legBMedia: new AsyncSeriesWaterfallHook(['media', 'call']),
    callAnswered: new AsyncSeriesHook(['answered']),
    callEnded: new SyncHook(['ended']),
    registrationChanged: new SyncHook(['event']),
    shutdown: new AsyncSeriesHook([]),
  };
}

// ---------------------------------------------------------------- SIP services for plugins

/** An out-of-dialog request a plugin sends (e.g. REGISTER to a trunk). */
export interface OutgoingRequest {
  method: string;
  uri: string;
  headers: Record<string, string>;
  body?: string;
  /** Send to this SIP URI instead of resolving `uri`. */
  outboundProxy?: string;
  /** Answer 401/407 challenges with these credentials (digest MD5 / SHA-256, qop=auth). */
  credentials?: { username: string; realm?: string; password?: string; ha1?: string; algorithm?: 'MD5' | 'SHA-256' };
}

export interface SipResponseView {
  readonly status: number;
  readonly reason: string;
  header(name: string): string | undefined;
  readonly body: string;
}

export interface PluginSipApi {
  /** Send a request outside any dialog; resolves with the final response (challenges answered). */
  request(req: OutgoingRequest): Promise<SipResponseView>;
  /** The URI we listen on, usable as Contact host:port. */
  readonly contact: string;
}

// ---------------------------------------------------------------- the plugin contract

export interface PluginHost<Options = Readonly<Record<string, unknown>>> {
  readonly hooks: B2buaHooks;
  /** This plugin's `[b2bua-server::<name>]` section, validated against its schema, frozen. */
  readonly options: Options;
  readonly server: B2buaServerConfig;
  /** Folder of the configuration file (relative paths in options resolve from here). */
  readonly configDir: string;
  readonly log: Logger;
  readonly sip: PluginSipApi;
  /** What the configured media engine can do, so a plugin can refuse at start-up what it could never serve. */
  readonly media: MediaCapabilities;
}

export interface MediaCapabilities {
  /** e.g. `relay`, `gstreamer`. */
  readonly engine: string;
  readonly encryption: readonly EncryptionMode[];
  readonly srtpSuites: readonly SrtpSuite[];
  /** Why a mode or suite is missing, where the engine knows (for error messages). */
  readonly unavailable: Readonly<Partial<Record<EncryptionMode | SrtpSuite, string>>>;
}

export interface B2buaPlugin<Options = Readonly<Record<string, unknown>>> {
  readonly name: string;
  /** Semver range of HOST_API_VERSION this plugin works with, e.g. `^1.0.0`. */
  readonly hostApi: string;
  /** JSON schema (draft 2020-12 or 07) of the `[b2bua-server::<name>]` section: values are INI strings before coercion. */
  readonly configSchema: object;
  /**
   * Extra validation after the schema (cross-key rules, regexes, files the config points to).
   * Return problems as messages `key: what is wrong (what to change)`; empty = valid.
   * Used by `--check-config` as well as start-up.
   */
  validate?(options: Options, ctx: { configDir: string }): string[] | Promise<string[]>;
  apply(host: PluginHost<Options>): void | Promise<void>;
  /**
   * Read-only admin queries of the running plugin, by command name (e.g. sip-bridge's `SIP_BRIDGE INFO`);
   * each returns a JSON-serialisable value. The admin interface may expose them.
   */
  readonly adminCommands?: Readonly<Record<string, () => unknown>>;
}

/** Identity helper giving plugin authors type inference. */
export function definePlugin<Options>(plugin: B2buaPlugin<Options>): B2buaPlugin<Options> {
  return plugin;
}

// ---------------------------------------------------------------- helpers for plugin validation messages

/** Closest candidate by edit distance (for "did you mean" hints), or undefined when nothing is close. */
export function didYouMean(value: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = levenshtein(value.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) { best = c; bestDistance = d; }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(value.length / 3)) ? best : undefined;
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(above + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}
