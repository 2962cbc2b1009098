/**
 * SIP URI parsing and formatting (RFC 3261 §19.1), IPv6 references (`[::1]`) included:
 * npm `sip`'s parseUri only accepts `[\w\-.]+` hosts, so we parse URIs ourselves.
 * Never throws: a malformed URI gives undefined (checkUri: the reason).
 */
export interface SipUri {
  readonly scheme: 'sip' | 'sips';
  readonly user?: string | undefined;
  readonly password?: string | undefined;
  /** Host without IPv6 brackets. */
  readonly host: string;
  readonly port?: number | undefined;
  readonly params: Readonly<Record<string, string | null>>;
  readonly headers: Readonly<Record<string, string>>;
}

/** Why a URI was refused: its shape, its host (the text between `@` and `:port`/`;`) or its port. */
export type UriProblem =
  | { readonly problem: 'syntax' }
  | { readonly problem: 'host'; readonly host: string }
  | { readonly problem: 'port'; readonly port: number };

const HOSTPORT_RE = /^(\[[^\]]*\]|[^[\]:]+)(?::(\d+))?$/;
const HOST_RE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._]+)$/;

export function parseUri(text: string): SipUri | undefined {
  const u = checkUri(text);
  return 'problem' in u ? undefined : u;
}

/** parseUri, saying why a URI is refused (for messages such as the config's). */
export function checkUri(text: string): SipUri | UriProblem {
  const syntax = { problem: 'syntax' } as const;
  const s = text.trim();
  const colon = s.indexOf(':');
  if (colon < 0) return syntax;
  const scheme = s.slice(0, colon).toLowerCase();
  if (scheme !== 'sip' && scheme !== 'sips') return syntax;
  let rest = s.slice(colon + 1);
  let headers: Record<string, string> = {};
  const q = rest.indexOf('?');
  if (q >= 0) {
    headers = parseUriHeaders(rest.slice(q + 1));
    rest = rest.slice(0, q);
  }
  let user: string | undefined;
  let password: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const pc = userinfo.indexOf(':');
    user = pc >= 0 ? userinfo.slice(0, pc) : userinfo;
    password = pc >= 0 ? userinfo.slice(pc + 1) : undefined;
    if (user === '' || /[\s<>"]/.test(userinfo)) return syntax;
  }
  const semi = rest.indexOf(';');
  const m = HOSTPORT_RE.exec(semi >= 0 ? rest.slice(0, semi) : rest);
  if (!m || /\s/.test(m[1]!)) return syntax;
  if (!HOST_RE.test(m[1]!)) return { problem: 'host', host: m[1]! };
  const host = m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!;
  const port = m[2] !== undefined ? Number(m[2]) : undefined;
  if (port !== undefined && (port > 65535 || m[2]!.length > 5)) return { problem: 'port', port };
  const params = semi >= 0 ? parseParamList(rest.slice(semi + 1)) : {};
  if (params === undefined) return syntax;
  return { scheme, user, password, host, port, params, headers };
}

function parseUriHeaders(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of s.split('&')) {
    const eq = pair.indexOf('=');
    if (eq > 0) out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/** `a=1;b;c=x` → {a:'1', b:null, c:'x'}; names lower-cased. */
export function parseParamList(s: string): Record<string, string | null> | undefined {
  const out: Record<string, string | null> = {};
  for (const part of splitOutsideQuotes(s, ';')) {
    const p = part.trim();
    if (p === '') continue;
    const eq = p.indexOf('=');
    const name = (eq >= 0 ? p.slice(0, eq) : p).trim().toLowerCase();
    if (!/^[\w\-.!%*+`'~]+$/.test(name)) return undefined;
    out[name] = eq >= 0 ? p.slice(eq + 1).trim() : null;
  }
  return out;
}

/** Split on `sep` outside double quotes and angle brackets. */
export function splitOutsideQuotes(s: string, sep: string): string[] {
  const parts: string[] = [];
  let cur = '';
  let quoted = false;
  let angle = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quoted) {
      cur += c;
      if (c === '\\' && i + 1 < s.length) cur += s[++i];
      else if (c === '"') quoted = false;
      continue;
    }
    if (c === '"') quoted = true;
    else if (c === '<') angle++;
    else if (c === '>') angle = Math.max(0, angle - 1);
    else if (c === sep && angle === 0) { parts.push(cur); cur = ''; continue; }
    cur += c;
  }
  parts.push(cur);
  return parts;
}

export function formatHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

export function formatParams(params: Readonly<Record<string, string | null | undefined>>): string {
  let s = '';
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    s += v === null ? `;${k}` : `;${k}=${v}`;
  }
  return s;
}

export function formatUri(u: SipUri): string {
  let s = `${u.scheme}:`;
  if (u.user !== undefined) s += u.password !== undefined ? `${u.user}:${u.password}@` : `${u.user}@`;
  s += formatHost(u.host);
  if (u.port !== undefined) s += `:${u.port}`;
  s += formatParams(u.params);
  const h = Object.entries(u.headers).map(([k, v]) => `${k}=${v}`).join('&');
  if (h) s += `?${h}`;
  return s;
}

export type TransportProtocol = 'udp' | 'tcp' | 'tls';

/** The transport a URI asks for: `sips:` = TLS, else `;transport=`, default UDP. */
export function uriTransport(u: SipUri): TransportProtocol | undefined {
  if (u.scheme === 'sips') return 'tls';
  const t = (u.params['transport'] ?? 'udp').toLowerCase();
  return t === 'udp' || t === 'tcp' || t === 'tls' ? t : undefined;
}

export function defaultPort(protocol: TransportProtocol): number {
  return protocol === 'tls' ? 5061 : 5060;
}
