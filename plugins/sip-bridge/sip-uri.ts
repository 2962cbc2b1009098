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
