// Generated from schemas/b2bua-server.schema.json by core/config/generate-server-config.ts: do not edit.
// After changing the schema: npx tsx core/config/generate-server-config.ts --write
import type { PortRange } from '../vocabulary/index.js';

/**
 * The validated, frozen `[b2bua-server]` section (kebab-case keys turned camelCase; relative paths made absolute).
 * A type rather than an interface so that it stays assignable to `Readonly<Record<string, unknown>>`.
 */
export type B2buaServerConfig = {
  /**
   * `application` (default `"trenscrypter"`): Application plugin to run: trenscrypter (media-encryption
   * transcoding), sip-bridge (SIP trunking) or a third-party plugin (npm package b2bua-plugin-<name> or a folder
   * of plugin-directories).
   */
  readonly application: string;
  /**
   * `transport` (default `"sip:127.0.0.1:6067;transport=tcp"`): SIP URI the server listens on: sip: with
   * ;transport=udp, tcp or tls (without the parameter: UDP and TCP on the same port, as RFC 3261 servers do),
   * sips: = TLS. Port 0 = a random free port. Several URIs separated by whitespace (an extension, e.g. one IPv4
   * and one IPv6 host) listen on each; a leg's Via, Contact and media are then in the family of its peer, its
   * media on media-address for that address's family and on this URI's host for the other.
   */
  readonly transport: string;
  /**
   * `outbound-proxy` (default `"sip:127.0.0.1:5060;transport=tcp"`): SIP URI where leg B is sent (usually the
   * Flexisip proxy). The proxy avoids loops by not routing back requests whose User-Agent equals ours.
   */
  readonly outboundProxy: string;
  /**
   * `user-agent` (default `"Flexisip-B2BUA/{version}"`): User-Agent (and Server) header of the B2BUA: name,
   * name/version or name/{version} ({version} = our version); token characters only. A Flexisip proxy
   * (module::B2bua) reads this key too and expands {version} to its own version, so with {version} the proxy does
   * not recognise leg B and routes it back: --check-config and start-up warn (B2BUA_CONFIG_WARNING); write a fixed
   * value such as Flexisip-B2BUA/2.5.2.
   */
  readonly userAgent: string;
  /**
   * `audio-port` (default `"0"`): Local port(s) for audio RTP: 0 = the kernel picks, N = this port, min-max = a
   * range (inclusive).
   */
  readonly audioPort: PortRange;
  /**
   * `video-port` (default `"0"`): Local port(s) for video RTP: 0 = the kernel picks, N = this port, min-max = a
   * range (inclusive).
   */
  readonly videoPort: PortRange;
  /** `no-rtp-timeout` (default `30`): Seconds without RTP on a leg after which both legs are hung up (> 0). */
  readonly noRtpTimeout: number;
  /** `max-call-duration` (default `0`): Seconds after which a call is hung up; 0 = unlimited. */
  readonly maxCallDuration: number;
  /** `max-calls` (default `500`): Maximum number of calls in progress; further INVITEs get 486 Busy Here (> 0). */
  readonly maxCalls: number;
  /**
   * `max-media-lines` (default `5`): (extension) Most m-lines an SDP offer or answer may have; more is answered
   * 488 Not Acceptable Here before leg B is called, as each enabled m-line takes two RTP/RTCP port pairs (one per
   * leg). liblinphone offers at most audio + video + text (3); 5 leaves room for other clients' extra streams.
   */
  readonly maxMediaLines: number;
  /** `enable-keepalive` (default `true`): Send SIP keep-alives on connection-oriented transports and through NATs. */
  readonly enableKeepalive: boolean;
  /**
   * `max-connections` (default `4096`): (extension) Maximum open TCP/TLS connections per SIP listener; further
   * connections are closed unread (counted in the transport stats, one warn line per 10 s).
   */
  readonly maxConnections: number;
  /**
   * `max-connections-per-address` (default `64`): (extension) Maximum open TCP/TLS connections from one source IP
   * address per SIP listener; further connections from it are closed unread. Raise it when many clients share one
   * address (NAT, a proxy in front).
   */
  readonly maxConnectionsPerAddress: number;
  /**
   * `sip-header-timeout` (default `10`): (extension) Seconds within which the headers of a SIP message on a
   * TCP/TLS connection must be complete after its first byte; a slower connection is closed (slowloris bound). The
   * header section is capped at 16 KB and the body at 64 KB: a connection exceeding them is closed.
   */
  readonly sipHeaderTimeout: number;
  /**
   * `sip-idle-timeout` (default `300`): (extension) Seconds after which a TCP/TLS connection with no byte in
   * either direction is closed (CRLF keep-alives count as traffic); 0 = never closed for idleness. Keep it above
   * the peers' keep-alive period (liblinphone: 30 s).
   */
  readonly sipIdleTimeout: number;
  /**
   * `enable-ice` (default `true`): ICE on both legs (ICE-lite, RFC 8445: we answer the peer's connectivity checks
   * on the media ports, the pair it nominates becomes the media address): our offers carry a=ice-lite, ice-ufrag,
   * ice-pwd and candidates; our answers only when the peer offered ICE; a peer without ICE gets plain c=/m=
   * behaviour. The media-engine=relay extension does no ICE (writes no ICE attribute).
   */
  readonly enableIce: boolean;
  /**
   * `nat-addresses` (default `[]`): Public host name or IP addresses of this host, whitespace-separated, announced
   * as server-reflexive ICE candidates of the media ports (as liblinphone does for Flexisip; an address of the
   * other family than media-address is not announced). A host name is resolved at start-up to its first address,
   * as Flexisip does; in all, at most one IPv4 and one IPv6. Needs enable-ice.
   */
  readonly natAddresses: readonly string[];
  /**
   * `audio-codec` (default `""`): Restrict both legs to this audio codec (name/rate, e.g. PCMU/8000); empty = no
   * restriction.
   */
  readonly audioCodec: string;
  /**
   * `video-codec` (default `""`): Restrict both legs to this video codec (name, e.g. H264); empty = no
   * restriction.
   */
  readonly videoCodec: string;
  /** `data-directory` (default `"/var/lib/flexisip/b2b"`): Folder for certificates and caches, created if missing. */
  readonly dataDirectory: string;
  /**
   * `one-connection-per-account` (default `false`): Open one socket per external account (sip-bridge), so a
   * provider sees each account from its own port: on a random port of the server's address, in the protocol of the
   * account's outbound proxy (UDP: a socket; TCP or TLS: a listener and connections of its own), used by the
   * account's REGISTERs (Contact), its calls' leg B and its MWI SUBSCRIBEs (its mwiServerUri subscription and the
   * subscriptions bridged as it, refreshes and un-SUBSCRIBE included); calls sent to that Contact, or on the
   * account's connection, arrive on it. A TLS account needs a TLS transport (its certificate): without one it is
   * refused at start-up.
   */
  readonly oneConnectionPerAccount: boolean;
  /**
   * `tls-certificate` (default `""`): (extension) PEM certificate (chain) file for the TLS transport; required
   * when transport is sips: or ;transport=tls. Relative paths resolve from the configuration file's folder.
   */
  readonly tlsCertificate: string;
  /**
   * `tls-private-key` (default `""`): (extension) PEM private key file matching tls-certificate; required with a
   * TLS transport.
   */
  readonly tlsPrivateKey: string;
  /**
   * `plugin-directories` (default `[]`): (extension) Whitespace-separated folders searched for application plugins
   * after the built-in ones and the npm packages b2bua-plugin-<name>: <folder>/<name>/ (a package or index.js) or
   * <folder>/<name>.js.
   */
  readonly pluginDirectories: readonly string[];
  /**
   * `media-engine` (default `"gstreamer"`): (extension) Media plane: gstreamer (media worker processes: plain RTP,
   * SDES-SRTP, DTLS-SRTP and ZRTP on either leg, transcoded) or relay (opt-in: plain RTP only, in the signalling
   * process, no worker processes; for plain-only deployments and tests).
   */
  readonly mediaEngine: 'relay' | 'gstreamer';
  /**
   * `media-address` (default `""`): (extension) IP address media sockets bind to and SDP announces; empty = the
   * transport's host when it is an IP address, else all interfaces announced as the first nat-addresses entry (or
   * the first non-loopback IPv4).
   */
  readonly mediaAddress: string;
  /** `media-workers` (default `0`): (extension) Number of media worker processes; 0 = one per CPU core. */
  readonly mediaWorkers: number;
  /**
   * `media-max-pending-setups` (default `16`): (extension) Admission control: a new INVITE is answered 503 with
   * Retry-After when every media worker has at least this many requests waiting for an answer; 0 = no bound.
   */
  readonly mediaMaxPendingSetups: number;
  /**
   * `media-max-setup-latency` (default `2000`): (extension) Admission control, milliseconds: a new INVITE is
   * answered 503 with Retry-After when every media worker took at least this long to answer a request in the last
   * 5 seconds (or has one waiting that long); 0 = no bound.
   */
  readonly mediaMaxSetupLatency: number;
  /**
   * `media-max-sessions-per-worker` (default `0`): (extension) Admission control: a new INVITE is answered 503
   * with Retry-After when every media worker holds this many media sessions; 0 = no cap.
   */
  readonly mediaMaxSessionsPerWorker: number;
  /**
   * `admin-address` (default `""`): (extension) host:port of the HTTP admin interface (GET /health, /ready,
   * /metrics, /counters, /calls), loopback only; empty = off.
   */
  readonly adminAddress: string;
  /**
   * `cdr-file` (default `""`): (extension) File the call detail records are appended to, one JSON object per line
   * at each call's end (both legs' Call-IDs and From / To, start / answer / end times, duration, end reason and
   * which side ended it, the application's decision, the media report per leg); relative paths start from the
   * configuration file's folder; empty = one "call detail record" log line per call (info, field cdr).
   */
  readonly cdrFile: string;
  /**
   * `cdr-file-max-size` (default `10485760`): (extension) Size in bytes after which cdr-file is rotated (it
   * becomes <file>.1, <file>.1 becomes <file>.2, ...); 0 = never rotate.
   */
  readonly cdrFileMaxSize: number;
  /**
   * `cdr-file-keep` (default `5`): (extension) Rotated cdr-file files kept (<file>.1 to <file>.N), older ones
   * deleted; 0 = none kept (the file starts over).
   */
  readonly cdrFileKeep: number;
  /**
   * `shutdown-grace-period` (default `5`): (extension) Seconds SIGTERM waits for calls to end by themselves before
   * sending BYE on both legs.
   */
  readonly shutdownGracePeriod: number;
  /**
   * `ringing-timeout` (default `240`): (extension) Seconds leg A may ring before the call is ended with 408
   * Request Timeout. The default is Flexisip's fixed 4 minutes (RFC 3261 §16.6 step 11), which Flexisip does not
   * let you change.
   */
  readonly ringingTimeout: number;
  /**
   * `session-expires` (default `1800`): (extension) RFC 4028 session timer in seconds (0 = off, otherwise at least
   * 90).
   */
  readonly sessionExpires: number;
};
