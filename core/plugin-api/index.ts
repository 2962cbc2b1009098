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

/**
 * Version of this API. Plugins declare a semver range (`hostApi`) that must include it.
 * Minor for additions, major for breaking changes; test/unit/plugin-api/ holds the surface it names (see README.md here).
 */
export const HOST_API_VERSION = '1.7.0';

// ---------------------------------------------------------------- shared vocabulary

export { ENCRYPTION_MODES, SRTP_SUITES } from '../vocabulary/index.js';
/**
 * Code of configuration warnings (since 1.2.0): `B2BUA_CONFIG_WARNING: …` lines of --check-config, `code` of the start-up
 * log lines. The host prints and logs the warnings validate() returns: a plugin needs it only to recognise them (tests).
 */
export { CONFIG_WARNING } from '../vocabulary/index.js';
export type { EncryptionMode, SrtpSuite, PortRange, Logger, NameAddr } from '../vocabulary/index.js';
export type { B2buaServerConfig } from '../config/server-config.js';
import type { EncryptionMode, SrtpSuite, Logger, NameAddr, OfferedKind } from '../vocabulary/index.js';
import type { B2buaServerConfig } from '../config/server-config.js';
import type { CallResult } from '../b2bua/call-results.js';
import { entryOf, renderMessage } from '../errors/catalog.js';
import { b2buaError } from '../errors/index.js';

// ---------------------------------------------------------------- calls

/** Leg A's encryption as offered by the caller. */
export interface OfferedMedia {
  readonly encryption: EncryptionMode;
  /** SDES suites offered on leg A (empty unless encryption is `sdes`). */
  readonly srtpSuites: readonly SrtpSuite[];
  readonly kinds: readonly OfferedKind[];
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
  /**
   * Record what the application decided for this call (since 1.4.0), e.g. sip-bridge's `provider` and `account`: it goes
   * into the call detail record's `decision` (the last value of a key wins).
   */
  annotate(key: string, value: CallRecordValue): void;
}

/** A value of the call detail record's `decision` (since 1.4.0). */
export type CallRecordValue = string | number | boolean;

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
  /**
   * Place leg B through this account transport (since host API 1.5.0): its INVITE, in-dialog requests and Contact use that
   * socket's port; undefined = the server's transport.
   */
  transport?: AccountTransport;
}

/** Leg B's media encryption; the waterfall starts from leg A's mode and suites. */
export interface LegBMedia {
  encryption: EncryptionMode;
  srtpSuites: SrtpSuite[];
  /**
   * The RTP profile of leg B's streams (since host API 1.3.0): true = AVPF (RTP/AVPF, RTP/SAVPF, UDP/TLS/RTP/SAVPF, with
   * leg A's a=rtcp-fb), false = AVP (a=rtcp-fb dropped), undefined = as leg A offered (sip-bridge's enableAvpf).
   */
  avpf?: boolean | undefined;
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

/** Who ended a call (since 1.4.0): the caller (leg A's BYE or CANCEL), the callee (leg B's BYE or final error), or the server (timers, media, hooks, shutdown). */
export type CallEndSide = 'caller' | 'callee' | 'b2bua';

/** One leg of a call detail record: its Call-ID and the From / To URIs of its INVITE. */
export interface CallRecordLeg {
  readonly callId: string;
  readonly from: string;
  readonly to: string;
}

/**
 * The call detail record (since 1.4.0): one per call that reached `incomingCall`, emitted by `hooks.callRecord` once the
 * call ended (after `callEnded`). Times are ISO 8601 UTC. JSON-serialisable as it is.
 */
export interface CallDetailRecord {
  /** Server-wide call id (IncomingCall.id, the `call` field of the log lines). */
  readonly id: string;
  readonly legA: CallRecordLeg;
  /** Absent when leg B's INVITE was never sent (refused by a hook, cancelled while routing). */
  readonly legB?: CallRecordLeg & { readonly requestUri: string };
  readonly startedAt: string;
  /** Absent for a call never answered. */
  readonly answeredAt?: string;
  readonly endedAt: string;
  /** From answer to end, milliseconds (0 when never answered). */
  readonly durationMs: number;
  /** As CallEnded.reason: `caller-bye`, `callee-bye`, `cancelled`, `rejected 486`, `shutdown`, ... */
  readonly reason: string;
  /** The reason in the fixed vocabulary of the calls-ended metric: `answered`, `cancelled`, `rejected_4xx`, `timeout`, ... */
  readonly result: CallResult;
  readonly endedBy: CallEndSide;
  /** What the application recorded with IncomingCall.annotate() (empty when nothing). */
  readonly decision: Readonly<Record<string, CallRecordValue>>;
  /** Per-leg media statistics (as CallEnded.mediaReport), when the call had media. */
  readonly media?: Readonly<Record<string, unknown>>;
}

/**
 * Where the transferee of a REFER is sent (since 1.3.0): the Refer-To of the REFER we send to the other leg.
 * The waterfall starts from the REFER's own Refer-To. Its Replaces header (attended transfer) is not the hooks' business:
 * the host drops any Replaces the value carries and puts back the received one, rewritten to our dialog with the target.
 */
export interface TransferTarget {
  /** A SIP URI, URI headers allowed (e.g. `sip:+33612@trunk.example.net`); one that does not parse keeps the REFER's own. */
  uri: string;
  displayName: string | undefined;
}

/** A REFER one leg of a call sent us (since 1.3.0); the host re-issues it to the other leg with the TransferTarget. */
export interface TransferRequest {
  readonly call: IncomingCall;
  /** The leg the REFER came on (the transferor's side): `a` = the caller's side, `b` = leg B. */
  readonly leg: 'a' | 'b';
  /** That leg as we see it: the Request-URI of its INVITE, and the party at its far end (leg A: its From; leg B: its To). */
  readonly legRequestUri: string;
  readonly legRemote: NameAddr;
  /** The Refer-To as received (URI headers, Replaces included, untouched). */
  readonly referTo: NameAddr;
  /** The REFER's Referred-By header, copied to the other leg's REFER whatever the hooks decide. */
  readonly referredBy: string | undefined;
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
 * (e.g. 488 when leg B's encryption cannot be done, 403, 404 for no route) and logs it under `code`.
 */
export class CallRejection extends Error {
  readonly code = 'B2BUA_CALL_REJECTED';

  constructor(
    readonly status: number,
    readonly reason: string,
  ) {
    super(renderMessage(entryOf('B2BUA_CALL_REJECTED').message, { status, reason }));
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

// ---------------------------------------------------------------- subscriptions (RFC 6665), since host API 1.3.0

/** An out-of-dialog SUBSCRIBE received (leg A), offered to `hooks.subscribeTarget`. Immutable. */
export interface IncomingSubscribe {
  /** Server-wide subscription id (in every log line about it). */
  readonly id: string;
  /** The event package (Event header without its parameters), e.g. `message-summary`. */
  readonly event: string;
  readonly callId: string;
  readonly requestUri: string;
  readonly from: NameAddr;
  /** The resource subscribed to (RFC 6665 §4.1.1). */
  readonly to: NameAddr;
  /** Expires asked by the subscriber, seconds. */
  readonly expires: number;
  /** First value of a header, case-insensitive name; undefined when absent. */
  header(name: string): string | undefined;
  readonly body: string;
  readonly source: { readonly address: string; readonly port: number };
}

/**
 * Where and as whom leg B's SUBSCRIBE goes (the fields of a call's leg B, `credentials` answering challenges to the
 * SUBSCRIBE and its refreshes). `hooks.subscribeTarget` starts from `undefined` (nobody takes it: the host answers 488,
 * as Flexisip's default application); a plugin returns a target, or throws with rejectCall(status, reason). Its
 * `transport` (since host API 1.7.0) places leg B's SUBSCRIBE, refreshes and un-SUBSCRIBE on that account transport.
 */
export type SubscribeTarget = LegBTarget;

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
  /** A leg REFERs (call transfer): decide the Refer-To the other leg gets (sip-bridge's provider rewriting; since 1.3.0). */
  readonly transferTarget: AsyncSeriesWaterfallHook<[TransferTarget, TransferRequest]>;
  /** The call ended (any reason, exactly once per call that reached incomingCall). */
  readonly callEnded: SyncHook<[CallEnded]>;
  /**
   * The call's detail record (since 1.4.0), once per call that reached incomingCall, after callEnded: billing, CDR export.
   * A tap that throws is logged and skipped; the other taps and the call's end are not affected.
   */
  readonly callRecord: SyncHook<[CallDetailRecord]>;
  /** Registration state of an account changed (emitted by plugins that register, consumed by anyone). */
  readonly registrationChanged: SyncHook<[RegistrationEvent]>;
  /**
   * An out-of-dialog SUBSCRIBE (since 1.3.0): return where leg B's SUBSCRIBE goes, keep `undefined` to let it be
   * answered 488, or throw CallRejection (rejectCall) to answer that status. The host then relays NOTIFYs, refreshes
   * and un-SUBSCRIBE between the two dialogs.
   */
  readonly subscribeTarget: AsyncSeriesWaterfallHook<[SubscribeTarget | undefined, IncomingSubscribe]>;
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
    transferTarget: new AsyncSeriesWaterfallHook(['target', 'transfer']),
    callEnded: new SyncHook(['ended']),
    callRecord: new SyncHook(['record']),
    registrationChanged: new SyncHook(['event']),
    subscribeTarget: new AsyncSeriesWaterfallHook(['target', 'subscribe']),
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
  /** Send from this account transport (since host API 1.5.0) instead of the server's transport. */
  transport?: AccountTransport;
}

/**
 * A SIP socket of its own (since host API 1.5.0; TCP / TLS since 1.6.0: a listener with connections of its own), e.g. one
 * per external account so the provider sees each account on its own port (`one-connection-per-account`). Requests
 * arriving on it are handled as on the server's transport.
 */
export interface AccountTransport {
  /** Our URI on this socket, usable as Contact host:port. */
  readonly contact: string;
  readonly port: number;
  /** Closes the socket (TCP / TLS: the listener and its connections); requests given it afterwards use the server's transport. */
  close(): Promise<void>;
}

export interface SipResponseView {
  readonly status: number;
  readonly reason: string;
  header(name: string): string | undefined;
  readonly body: string;
}

/** A SUBSCRIBE a plugin sends (since 1.3.0), e.g. an account's message-summary subscription to its MWI server. */
export interface OutgoingSubscribe {
  /** Request-URI (the notifier). */
  uri: string;
  /** Event package, e.g. `message-summary`. */
  event: string;
  /** Our identity (a SIP URI or name-addr). */
  from: string;
  /** The resource; default: `uri`. */
  to?: string;
  /** Seconds asked; refreshed automatically before the granted expiry. */
  expires: number;
  headers?: Record<string, string>;
  outboundProxy?: string;
  credentials?: OutgoingRequest['credentials'];
  /**
   * Subscribe through this account transport (since host API 1.7.0): the SUBSCRIBE, its refreshes and un-SUBSCRIBE leave
   * from that socket with a Contact on its port, so the notifier's NOTIFYs arrive on it; undefined = the server's transport.
   */
  transport?: AccountTransport;
}

/** A NOTIFY received in a plugin's subscription (answered 200 by the host). */
export interface IncomingNotifyView {
  readonly requestUri: string;
  readonly from: NameAddr;
  readonly to: NameAddr;
  /** Subscription-State without parameters: `active`, `pending`, `terminated`. */
  readonly state: string;
  header(name: string): string | undefined;
  readonly contentType: string;
  readonly body: string;
}

export type PluginSubscriptionState = 'pending' | 'active' | 'terminated';

/** A live subscription of a plugin: NOTIFYs arrive in `onNotify`; `terminate()` un-SUBSCRIBEs (Expires: 0). */
export interface PluginSubscription {
  readonly state: PluginSubscriptionState;
  /** Called for every NOTIFY of this subscription. */
  onNotify(handler: (notify: IncomingNotifyView) => void): void;
  /** Called once when it ends: refused (`status`), expired, terminated by the notifier, or by terminate(). */
  onTerminated(handler: (why: { readonly reason: string; readonly status?: number }) => void): void;
  terminate(): Promise<void>;
}

export interface PluginSipApi {
  /** Send a request outside any dialog; resolves with the final response (challenges answered). */
  request(req: OutgoingRequest): Promise<SipResponseView>;
  /** Subscribe to an event (since 1.3.0): challenges answered, refreshed before expiry, NOTIFYs answered 200. */
  subscribe(options: OutgoingSubscribe): PluginSubscription;
  /** The URI we listen on, usable as Contact host:port. */
  readonly contact: string;
  /**
   * Open an account transport (since host API 1.5.0; absent on older hosts) on an ephemeral port of the server's address:
   * UDP a socket; TCP / TLS (since 1.6.0) a listener of its own whose outgoing connections are its own (TLS needs the
   * server's tls-certificate); rejects with the bind error, or B2BUA_TLS_CREDENTIALS_MISSING.
   */
  openAccountTransport?(protocol: 'udp' | 'tcp' | 'tls'): Promise<AccountTransport>;
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
  /** Read-only admin commands of this plugin (since host API 1.1.0). */
  readonly admin: PluginAdminApi;
  /** Every section of the configuration file, read-only, as written (since host API 1.3.0). */
  readonly configFile: ConfigFileView;
  /** Gauges of this plugin on `/metrics` (since host API 1.4.0; absent on older hosts and in tests that give none). */
  readonly metrics?: PluginMetricsApi;
}

/** The plugin's gauges on `/metrics` (since host API 1.4.0), exported as `b2bua_plugin_<plugin name>_<name>`. */
export interface PluginMetricsApi {
  /**
   * Registers a gauge read at each scrape. `name` is lower-case snake case (`registrations`), not ending in `_total`;
   * label names are snake case. Label values must come from a small fixed set (states, configured pool names): never
   * URIs or Call-IDs; at most 100 label sets per gauge are exported. Call it from `apply(host)`; throws on a bad name
   * or a name already registered.
   */
  gauge(definition: PluginGauge): void;
}

export interface PluginGauge {
  readonly name: string;
  readonly help: string;
  readonly labelNames?: readonly string[];
  /** The current value (no labels), or one sample per label set (every label of labelNames given). */
  collect(): number | readonly PluginGaugeSample[];
}

export interface PluginGaugeSample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/**
 * The configuration file's sections as written (since host API 1.3.0), for a plugin that honours keys of another
 * section of the same file (e.g. a server section it shares with another program). Values are raw INI strings (no
 * schema, no defaults, no conversion): the plugin checks what it reads and reports problems naming that section.
 */
export interface ConfigFileView {
  /** `[name]`'s keys → values, keys as written; undefined when the file has no such section. */
  section(name: string): ReadonlyMap<string, string> | undefined;
}

/** The plugin's read-only admin commands, answered at `GET /plugin/<command>` when `[b2bua-server] admin-address` is set. */
export interface PluginAdminApi {
  /**
   * Registers `command` (e.g. sip-bridge's `SIP_BRIDGE INFO`); `run` returns a JSON-serialisable value and changes nothing.
   * Call it from `apply(host)`, keeping the state it reads in the plugin instance. Throws when `command` is already registered.
   */
  register(command: string, run: () => unknown): void;
}

export interface MediaCapabilities {
  /** e.g. `relay`, `gstreamer`. */
  readonly engine: string;
  readonly encryption: readonly EncryptionMode[];
  readonly srtpSuites: readonly SrtpSuite[];
  /** Why a mode or suite is missing, where the engine knows (for error messages). */
  readonly unavailable: Readonly<Partial<Record<EncryptionMode | SrtpSuite, string>>>;
}

/**
 * What validate() returns since host API 1.2.0 (a plain `string[]` is still accepted: problems only).
 * Both kinds of message start with the key (or `key: file: JSON path`) they are about and say what to change.
 */
export interface PluginValidation {
  /** Fatal: `key: what is wrong (what to change)`; empty = valid. */
  readonly problems: readonly string[];
  /**
   * Accepted but likely not what the operator means, e.g. `outgoing-enc-regex: last item "sdes" ignored (add its regex or
   * remove it)`. Never fatal: --check-config prints each as `B2BUA_CONFIG_WARNING: <file> [b2bua-server::<name>] <warning>`
   * after its OK line, and the host logs each once at start-up with `code: 'B2BUA_CONFIG_WARNING'` (do not log them yourself).
   */
  readonly warnings?: readonly string[];
}

/** What validate() gets besides its options. */
export interface PluginValidationContext {
  /** Folder of the configuration file (relative paths in options resolve from here). */
  readonly configDir: string;
  /** The configuration file's other sections, as in PluginHost.configFile (since host API 1.3.0). */
  readonly configFile: ConfigFileView;
}

/** validate()'s result: problems only (host API 1.0), or problems and warnings (since 1.2.0). */
export type PluginValidationResult = readonly string[] | PluginValidation;

export interface B2buaPlugin<Options = Readonly<Record<string, unknown>>> {
  readonly name: string;
  /** Semver range of HOST_API_VERSION this plugin works with, e.g. `^1.0.0`. */
  readonly hostApi: string;
  /** JSON schema (draft 2020-12 or 07) of the `[b2bua-server::<name>]` section: values are INI strings before coercion. */
  readonly configSchema: object;
  /**
   * Extra validation after the schema (cross-key rules, regexes, files the config points to).
   * Return problems as messages `key: what is wrong (what to change)`; empty = valid. Since 1.2.0 it may return
   * `{ problems, warnings }` instead (declare `hostApi: '^1.2.0'`): see PluginValidation.
   * Used by `--check-config` as well as start-up.
   */
  validate?(options: Options, ctx: PluginValidationContext): PluginValidationResult | Promise<PluginValidationResult>;
  apply(host: PluginHost<Options>): void | Promise<void>;
  /**
   * Read-only admin queries by command name; each returns a JSON-serialisable value. Still served, after the
   * commands registered with `host.admin.register()` (a registered command of the same name wins).
   * @deprecated since host API 1.1.0: register them from `apply(host)` with `host.admin.register(command, run)`,
   * which can read the state of that plugin instance instead of module-level state.
   */
  readonly adminCommands?: Readonly<Record<string, () => unknown>>;
}

/** Identity helper giving plugin authors type inference. */
export function definePlugin<Options>(plugin: B2buaPlugin<Options>): B2buaPlugin<Options> {
  return plugin;
}

// ---------------------------------------------------------------- helpers for plugin validation messages

/** Closest candidate by edit distance (for "did you mean" hints), or undefined when nothing is close. */
export { didYouMean } from '../text/did-you-mean.js';

/** SIP URIs and name-addrs as the host parses them; parsers never throw (undefined = malformed). */
export type { SipUri } from '../sip/uri.js';
export { parseUri as parseSipUri, formatUri as formatSipUri } from '../sip/uri.js';
export { parseNameAddr, formatNameAddr } from '../sip/headers.js';

/** JSON-schema validation of a plugin's own files with the host's messages; `jsonPath` names a place the same way. */
export { validateJson, type ValidateJsonOptions } from './validation.js';
export { jsonPath } from '../config/schema-problems.js';

/** Message-summary (RFC 3842) bodies: the Priority (`urgent` / `non-urgent`) of a body, as the host adds it to relayed MWI NOTIFYs (since 1.3.0). */
export { messageSummaryPriority } from '../b2bua/subscription-mwi.js';

/** Coded errors: an error's text without its `CODE: ` prefix (what a state or reason quotes), and B2BUA_SIP_NO_ANSWER for a request of the plugin's own. */
export { errorReason } from '../errors/index.js';
export function noAnswerError(ms: number): Error {
  return b2buaError('B2BUA_SIP_NO_ANSWER', { ms });
}
