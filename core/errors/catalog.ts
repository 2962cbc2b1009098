/**
 * The error catalog: every error the server raises has an entry here. `message` is the template
 * (named `{placeholders}`), `fix` tells the operator what to change, `status` is the SIP status when
 * the error ends a SIP transaction, `category` the code the media engine reports a worker error under, `generic` that the
 * SIP reason phrase is the status's generic one because the message shows our configuration (the log line keeps it).
 * core/errors/README.md's table is generated from this file (`npx tsx core/errors/readme-table.ts --write`).
 */
export interface CatalogEntry {
  readonly message: string;
  readonly fix: string;
  readonly status?: number;
  readonly category?: 'B2BUA_MEDIA_UNSUPPORTED' | 'B2BUA_MEDIA_FAILED';
  /** The message names configuration keys and values: the SIP response says only the status's reason phrase. */
  readonly generic?: true;
}

export const CATALOG = {
  // ---- start-up: configuration, command line, plugins, listeners
  B2BUA_CONFIG_INVALID: { message: '{problem}', fix: 'the configuration file has a problem; the message names file, section, key and what is expected' },
  B2BUA_CONFIG_UNREADABLE: { message: '{problem}', fix: 'the configuration file (or a file it points to) cannot be read: check the path and its permissions' },
  B2BUA_USAGE: { message: '{problem}; see b2bua-server --help', fix: 'the command line is wrong' },
  B2BUA_PLUGIN_NOT_FOUND: { message: '{problem}', fix: 'the application named by [b2bua-server] application= was not found: install it or fix the name' },
  B2BUA_PLUGIN_INVALID: { message: 'application "{plugin}" ({from}) {problem}', fix: 'a plugin module does not export a valid plugin: fix or reinstall the plugin' },
  B2BUA_PLUGIN_INCOMPATIBLE: {
    message: 'application "{plugin}" ({from}) needs host API {needs} but this server provides {provides} (install a version of the plugin made for host API {provides})',
    fix: 'a plugin declares a host API range this server does not satisfy: install a matching plugin version',
  },
  B2BUA_PLUGIN_FAILED: { message: 'application "{plugin}" failed in {where}: {why}', fix: 'a plugin threw while being applied or in a hook: see the plugin\'s message' },
  B2BUA_TRANSPORT_FAILED: { message: 'cannot {what} on {address} ({why}); change {setting}', fix: 'a SIP transport or the admin interface could not be opened: change the address or free the port' },
  B2BUA_TLS_CREDENTIALS_MISSING: { message: 'TLS transport needs a certificate and a private key', fix: 'set tls-certificate= and tls-private-key= for a TLS transport' },
  B2BUA_TIMEOUT: { message: '{what} did not finish within {ms} ms', fix: 'a shutdown step hung: see the log lines before it' },
  B2BUA_SYSLOG_UNAVAILABLE: { message: '--syslog: {why}', fix: 'no syslog daemon takes our lines: start rsyslog or systemd-journald (socket /dev/log), or run without --syslog (logs on stdout)' },
  B2BUA_PIDFILE_FAILED: { message: '--pidfile {file}: {why}', fix: 'the PID file cannot be written: give a path in a folder this user may write' },
  // ---- SIP routing
  B2BUA_SIP_UNROUTABLE: { message: 'cannot route to "{uri}": {why}', fix: 'a request target (Request-URI, route, outbound proxy) is not a usable SIP URI: fix the URI or the plugin producing it', status: 503 },
  B2BUA_SIP_NO_ANSWER: { message: 'no answer within {ms} ms', fix: 'a request we sent (e.g. sip-bridge REGISTER) got no final response: check the peer is up and reachable' },
  B2BUA_SIP_LOOP: {
    message: 'our own leg B INVITE of call {call} came back: the proxy did not recognise User-Agent {userAgent}',
    fix: 'the proxy routed the B2BUA\'s own leg B back to it: make the proxy\'s User-Agent rule match [b2bua-server] user-agent exactly (a Flexisip proxy expands {version} to its own version: write a fixed value)',
    status: 482,
  },
  B2BUA_SIP_CONNECT_TIMEOUT: { message: 'connect timeout', fix: 'a TCP/TLS peer did not accept the connection within 10 s: check it is up and reachable', status: 503 },
  // ---- databases of applications (sip-bridge SQL account loader; logged by the plugin, with the code as a string)
  B2BUA_DATABASE_FAILED: {
    message: '{what} on {database} failed: {why}; {next}',
    fix: 'a database an application reads (sip-bridge SQL account loader) is unreachable or refused a query: check it is up, the loader\'s connection and queries; the query is retried and accounts already loaded keep working',
  },
  B2BUA_DATABASE_ROW_INVALID: {
    message: '{where}: {what}',
    fix: 'a row of a sip-bridge SQL loader\'s query is not a usable account (NULL username or domain, non-text column, bad URI or protocol): it is skipped; fix the row or the query',
  },
  // ---- message buses of applications (sip-bridge account updates over Redis; logged by the plugin)
  B2BUA_REDIS_FAILED: {
    message: '{what}: Redis {server}: {why}; {next}',
    fix: 'the Redis server an application subscribes to (sip-bridge account updates, [module::Registrar] redis-server-*) is unreachable, refused the credentials or stopped answering: check it is up and the redis-* keys; it is reconnected and every SQL pool reloaded once subscribed, accounts already loaded keep working',
  },
  B2BUA_REDIS_MESSAGE_INVALID: {
    message: 'a message published on {channel} is not an account update ({why}): ignored; {next}',
    fix: 'something published on flexisip/B2BUA/account a message that is not {"username","domain","identifier"} (or over 64 KiB): it is ignored; fix the publisher',
  },
  // ---- calls: SDP and hooks
  B2BUA_SDP_MISSING: { message: 'the INVITE\'s body is not SDP', fix: 'the caller sent an INVITE whose body is not application/sdp (an INVITE without body, a late offer, is accepted)', status: 488 },
  B2BUA_SDP_UNPARSABLE: { message: 'SDP: {why}', fix: 'an SDP body could not be parsed: fix the peer sending it', status: 400 },
  B2BUA_SDP_INVALID: { message: '{why}', fix: 'an SDP offer or answer cannot be negotiated (no common codec, m-line mismatch, bad crypto line)', status: 488 },
  B2BUA_CALL_REJECTED: { message: 'call rejected: {status} {reason}', fix: 'a plugin hook refused the call (status and reason chosen by the plugin)' },
  B2BUA_ENCRYPTION_UNAVAILABLE: {
    message: 'media encryption {mode} not available on leg {leg} with media engine {engine}',
    fix: 'a leg asks for a media encryption this media engine lacks: change media-engine= or the plugin\'s encryption settings', status: 488,
  },
  B2BUA_SRTP_SUITES_UNAVAILABLE: { message: 'SRTP suites {suites} not available', fix: 'none of leg B\'s SRTP suites is available: change the plugin\'s suites or the media engine', status: 488 },
  // ---- media engine (parent side)
  B2BUA_MEDIA_UNSUPPORTED: {
    message: '{problem}', fix: 'a media feature (encryption mode, SRTP suite, the GStreamer engine itself) is not available on this build', status: 488,
  },
  B2BUA_MEDIA_FAILED: { message: '{problem}', fix: 'the media engine could not set up or run a call\'s media: see the message and the media worker log', status: 500 },
  B2BUA_MEDIA_SESSION_CLOSED: { message: 'media session closed', fix: 'a stream was requested on a closed media session (the call ended meanwhile)', status: 500 },
  B2BUA_MEDIA_BIND_FAILED: { message: 'cannot bind UDP sockets on {address}', fix: 'the relay cannot bind media sockets: check the media bind address', status: 500 },
  B2BUA_MEDIA_PORTS_EXHAUSTED: {
    message: 'no free RTP/RTCP port pair in {key}={min}-{max} on {address} (widen {key} in [b2bua-server]: each call takes two pairs per stream)',
    fix: 'all media ports of a range are in use: the call is answered 503 Service Unavailable (the range only in this log line) with Retry-After; widen audio-port / video-port', status: 503, generic: true,
  },
  B2BUA_MEDIA_OVERLOADED: {
    message: 'media workers overloaded: {why}', status: 503, generic: true,
    fix: 'new calls are answered 503 Service Unavailable (the bound only in this log line) with Retry-After until a media worker is under the bounds: add media-workers (CPU), or raise media-max-pending-setups / media-max-setup-latency / media-max-sessions-per-worker',
  },
  // ---- media workers (reported by the parent under their category, with the session as context)
  B2BUA_MEDIA_WORKER_LOST: { message: 'media worker {pid} {what}', fix: 'a media worker exited or crashed: see the media worker errors before it', category: 'B2BUA_MEDIA_FAILED' },
  B2BUA_MEDIA_WORKER_TIMEOUT: { message: 'media worker {pid} did not answer {op} within {ms} ms', fix: 'a media worker is stuck or overloaded', category: 'B2BUA_MEDIA_FAILED' },
  B2BUA_MEDIA_WORKER_UNREACHABLE: { message: 'cannot reach media worker {pid}: {why}', fix: 'the IPC channel to a media worker failed', category: 'B2BUA_MEDIA_FAILED' },
  B2BUA_MEDIA_WORKER_FAILED: { message: '{why}', fix: 'a media worker hit an unexpected error: please report it with the log lines around it', category: 'B2BUA_MEDIA_FAILED' },
  B2BUA_MEDIA_SESSION_UNKNOWN: { message: 'no media session {id} in worker {pid}', fix: 'a request named a session its worker does not hold (a bug, or the worker was respawned)', category: 'B2BUA_MEDIA_FAILED' },
  B2BUA_MEDIA_PORT_IN_USE: { message: '{address}:{port} is in use', fix: 'a media port was taken by another process (the engine tries the next pair)', category: 'B2BUA_MEDIA_FAILED' },
  B2BUA_MEDIA_PORT_BIND_FAILED: { message: 'cannot bind {address}:{port}: {why}', fix: 'a media worker cannot bind a media port: check the media bind address', category: 'B2BUA_MEDIA_FAILED' },
  B2BUA_MEDIA_ADDRESS_INVALID: { message: '{where}: remote address "{address}" is not an IP address', fix: 'the peer\'s SDP gives a media address that is not an IP address', category: 'B2BUA_MEDIA_FAILED' },
  B2BUA_GST_ELEMENT_MISSING: { message: 'GStreamer element {element} {problem}: {fix}', fix: 'a GStreamer element is missing: build core/native or install the GStreamer plugins named', category: 'B2BUA_MEDIA_UNSUPPORTED' },
  B2BUA_GST_PIPELINE_FAILED: { message: 'pipeline refused to start{detail}', fix: 'GStreamer refused a call\'s pipeline: the detail is GStreamer\'s error', category: 'B2BUA_MEDIA_FAILED' },
  B2BUA_GST_ENCRYPTION_UNAVAILABLE: {
    message: '{where}: encryption "{mode}" is not available in the gstreamer engine yet ({available} are)', fix: 'the gstreamer engine cannot do this encryption mode yet',
    category: 'B2BUA_MEDIA_UNSUPPORTED',
  },
  B2BUA_SRTP_SUITE_REFUSED: { message: '{where}: SRTP suite {suite} is refused: {why}', fix: 'this SRTP suite is known not to interoperate on this build (reason given)', category: 'B2BUA_MEDIA_UNSUPPORTED' },
  B2BUA_SRTP_SUITE_UNSUPPORTED: {
    message: '{where}: SRTP suite "{suite}" is not supported by this build ({suites})', fix: 'libsrtp on this host lacks the suite: use one of those listed', category: 'B2BUA_MEDIA_UNSUPPORTED',
  },
  B2BUA_SRTP_MKI_REFUSED: { message: '{where}: {which} key: {why}', fix: 'an SRTP key with MKI cannot be used with this suite here (reason given)', category: 'B2BUA_MEDIA_UNSUPPORTED' },
  B2BUA_SRTP_KEY_INVALID: { message: '{where}: {problem}', fix: 'SDES keys given to the media engine are malformed (missing, bad MKI, bad length)', category: 'B2BUA_MEDIA_FAILED' },
  // ---- bugs
  B2BUA_INTERNAL: { message: '{bug}', fix: 'a bug: please report it with the log lines around it', status: 500 },
} as const satisfies Record<string, CatalogEntry>;

export type ErrorCode = keyof typeof CATALOG;

type Placeholders<S extends string> = S extends `${string}{${infer P}}${infer Rest}` ? P | Placeholders<Rest> : never;

/** The named values an error's message template needs. */
export type ErrorParams<C extends ErrorCode> = Readonly<Record<Placeholders<(typeof CATALOG)[C]['message']>, string | number>>;

export function entryOf(code: ErrorCode): CatalogEntry {
  return CATALOG[code];
}

export function renderMessage(template: string, params: Readonly<Record<string, string | number>>): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => String(params[name]));
}
