/**
 * Just enough SIP URI / name-addr parsing for template fields and registrations:
 * `"Name" <sip:user:pw@host:port;params?headers>;header-params`. Never throws.
 */
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
  let uri = text.trim();
  let name = displayName;
  const lt = uri.indexOf('<');
  if (lt >= 0) {
    const gt = uri.indexOf('>', lt);
    name = name || unquote(uri.slice(0, lt).trim());
    uri = uri.slice(lt + 1, gt < 0 ? undefined : gt).trim();
  }
  const colon = uri.indexOf(':');
  const scheme = colon > 0 ? uri.slice(0, colon).toLowerCase() : '';
  let rest = colon > 0 ? uri.slice(colon + 1) : uri;
  const question = rest.indexOf('?');
  if (question >= 0) rest = rest.slice(0, question);
  const at = rest.lastIndexOf('@');
  const userinfo = at >= 0 ? rest.slice(0, at) : '';
  const hostPart = at >= 0 ? rest.slice(at + 1) : rest;
  const semicolon = hostPart.indexOf(';');
  const hostport = semicolon >= 0 ? hostPart.slice(0, semicolon) : hostPart;
  const uriParameters = semicolon >= 0 ? hostPart.slice(semicolon) : '';
  const userColon = userinfo.indexOf(':');
  return {
    uri,
    scheme,
    user: userColon >= 0 ? userinfo.slice(0, userColon) : userinfo,
    hostport,
    host: hostOf(hostport),
    uriParameters,
    displayName: name,
  };
}

function hostOf(hostport: string): string {
  if (hostport.startsWith('[')) return hostport.slice(0, hostport.indexOf(']') + 1);
  const c = hostport.lastIndexOf(':');
  return c >= 0 ? hostport.slice(0, c) : hostport;
}

function unquote(s: string): string {
  return s.startsWith('"') && s.endsWith('"') && s.length >= 2 ? s.slice(1, -1).replace(/\\(.)/g, '$1') : s;
}

/** A plausible SIP URI: sip: or sips: with a host. */
export function isSipUri(text: string): boolean {
  const p = parseSipAddress(text);
  return (p.scheme === 'sip' || p.scheme === 'sips') && p.host !== '' && !/\s/.test(p.uri);
}
