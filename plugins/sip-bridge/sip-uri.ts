/**
 * The address parts template fields and registrations read (`{x.user}`, `{x.hostport}`…), taken from the host's
 * parsers: `"Name" <sip:user:pw@host:port;params?headers>;header-params`, or a bare URI whose `;params` stay in it
 * (as Flexisip reads provider fields). Never throws.
 */
import { formatSipUri, parseNameAddr, parseSipUri } from '../../core/plugin-api/index.js';
import type { SipUri } from '../../core/plugin-api/index.js';

export interface UriParts {
  /** The URI only, without display name and header parameters. */
  readonly uri: string;
  readonly scheme: string;
  readonly user: string;
  /** `host` or `host:port`. */
  readonly hostport: string;
  readonly host: string;
  /** `;a=b;c` including the leading `;`, or empty. */
  readonly uriParameters: string;
  readonly displayName: string;
}

/** Parse a URI or a name-addr. Unparseable input yields its text as `uri` and empty parts. */
export function parseSipAddress(text: string, displayName = ''): UriParts {
  const trimmed = text.trim();
  const nameAddr = trimmed.includes('<') ? parseNameAddr(trimmed) : undefined;
  const uri = nameAddr?.uri ?? trimmed;
  const name = displayName || (nameAddr?.displayName ?? '');
  const u = parseSipUri(uri);
  if (!u) return { uri, scheme: '', user: '', hostport: '', host: '', uriParameters: '', displayName: name };
  // Host and port, then parameters, written by the host's formatter (IPv6 in brackets).
  const bare = (params: SipUri['params']) => formatSipUri({ scheme: u.scheme, host: u.host, port: u.port, params, headers: {} }).slice(u.scheme.length + 1);
  const hostport = bare({});
  const host = u.port !== undefined ? hostport.slice(0, hostport.lastIndexOf(':')) : hostport;
  return { uri, scheme: u.scheme, user: u.user ?? '', hostport, host, uriParameters: bare(u.params).slice(hostport.length), displayName: name };
}

/** A SIP URI the host can use, written bare or as a name-addr (`<sip:…>`), without blanks. */
export function isSipUri(text: string): boolean {
  const p = parseSipAddress(text);
  return p.scheme !== '' && !/\s/.test(p.uri);
}

export type Protocol = 'udp' | 'tcp' | 'tls';

/**
 * Flexisip's URI for a host and an account `protocol` (flexisip SipUri(user, hostport, params), src/utils/sip-uri.cc:237-248,
 * given `transport=<protocol>` by Account::makeUriFromParameter, configuration/v2/account.hh:194-202): tls → `sips:host`,
 * udp → `sip:host` (the parameter dropped), anything else → `sip:host;transport=<protocol>`.
 */
export function uriForHost(hostport: string, protocol: Protocol): string {
  if (protocol === 'tls') return `sips:${hostport}`;
  if (protocol === 'udp') return `sip:${hostport}`;
  return `sip:${hostport};transport=${protocol}`;
}

/** A proxy / registrar field of the providers file as the bare SIP URI requests are sent with, or why it is refused. */
export type ProxyUri =
  | { readonly uri: string; readonly form: 'uri' | 'name-addr' | 'host' }
  | { readonly error: string };

/**
 * Read an `outboundProxy` / `registrar` value in the forms Flexisip takes:
 * - `sip:…` / `sips:…`, and `<sip:…>` (the name-addr form of Flexisip's documentation and tester,
 *   sip-bridge-tester.cc `"outboundProxy": "<sip:127.0.0.1:…;transport=…>"`): the URI inside;
 * - `host[:port]` without a scheme: with `protocol` (an account's, default udp), Flexisip's makeUriFromParameter
 *   (account.hh:197-201: a value not matching `(<|)(sip|sips):.+` becomes a URI on that host with the account's
 *   transport); the tester writes an account's `"outboundProxy": "127.0.0.2:<port>"` with `"protocol": "tcp"`.
 *   Pool and provider fields have no protocol: `host[:port]` is read as `sip:host[:port]` (UDP), form `host`
 *   (the caller warns: Flexisip hands those fields to liblinphone's address parser, account-pool.cc:66,71 and
 *   invite-tweaker.cc:54, which expects a SIP URI).
 */
export function readProxyUri(text: string, protocol?: Protocol): ProxyUri {
  const value = text.trim();
  const nameAddr = value.startsWith('<') || value.startsWith('"');
  if (nameAddr || /^sips?:/i.test(value)) {
    const uri = parseSipAddress(value).uri;
    return isSipUri(value) && parseSipUri(uri) ? { uri, form: nameAddr ? 'name-addr' : 'uri' } : { error: 'is not a SIP URI' };
  }
  const host = parseSipUri(`sip:${value}`);
  if (!host || host.user !== undefined || Object.keys(host.params).length > 0 || Object.keys(host.headers).length > 0 || /\s/.test(value)) {
    return { error: 'is neither a SIP URI nor a host[:port]' };
  }
  return { uri: uriForHost(value, protocol ?? 'udp'), form: 'host' };
}

/**
 * A rendered From / To for the host: a name-addr or bare URI is kept as it is; `"Name" sip:…` (a quoted display name
 * before a URI without angle brackets, what Flexisip's tester template `{incoming.from.displayName} {account.uri}`
 * renders, sip-bridge-tester.cc:194, and liblinphone reads) becomes `"Name" <sip:…>`. Undefined when not an address.
 */
export function renderedAddress(text: string): string | undefined {
  const value = text.trim();
  if (value.startsWith('"') && !value.includes('<')) {
    const m = /^("(?:[^"\\]|\\.)*")\s*(\S+)$/s.exec(value);
    if (!m || !isSipUri(m[2]!)) return undefined;
    return `${m[1]} <${m[2]}>`;
  }
  const parts = parseSipAddress(value);
  if (parts.scheme === '' || /\s/.test(parts.uri)) return undefined;
  return value;
}
