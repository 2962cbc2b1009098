/**
 * Parsing and formatting of the structured SIP headers we use: name-addr (From, To, Contact,
 * Route, Record-Route, Refer-To), Via, CSeq. Never throws: malformed input gives undefined.
 */
import type { NameAddr } from '../vocabulary/index.js';
import { formatHost, formatParams, parseParamList, splitOutsideQuotes } from './uri.js';

export type { NameAddr };

const DISPLAY_TOKENS = /^[A-Za-z0-9\-.!%*_+`'~]+(?:\s+[A-Za-z0-9\-.!%*_+`'~]+)*$/;

export function parseNameAddr(text: string): NameAddr | undefined {
  let s = text.trim();
  let displayName: string | undefined;
  let uri: string;
  let rest: string;
  if (s.startsWith('"')) {
    let i = 1;
    let name = '';
    for (; i < s.length; i++) {
      const c = s[i]!;
      if (c === '\\' && i + 1 < s.length) { name += s[++i]; continue; }
      if (c === '"') break;
      name += c;
    }
    if (i >= s.length) return undefined;
    displayName = name;
    s = s.slice(i + 1).trim();
    if (!s.startsWith('<')) return undefined;
  }
  const lt = s.indexOf('<');
  if (lt >= 0) {
    const gt = s.indexOf('>', lt);
    if (gt < 0) return undefined;
    if (displayName === undefined) {
      const token = s.slice(0, lt).trim();
      // An unquoted display name is *(token LWS) (RFC 3261 §25.1): "Bell, Alexander" must be quoted.
      if (token !== '' && !DISPLAY_TOKENS.test(token)) return undefined;
      if (token !== '') displayName = token;
    }
    uri = s.slice(lt + 1, gt);
    rest = s.slice(gt + 1);
  } else {
    // addr-spec: every `;param` belongs to the header, not the URI (RFC 3261 §20.10).
    const semi = s.indexOf(';');
    uri = (semi >= 0 ? s.slice(0, semi) : s).trim();
    rest = semi >= 0 ? s.slice(semi) : '';
    // A URI with headers (`?`) must be enclosed in <> (RFC 3261 §20).
    if (uri.includes('?')) return undefined;
  }
  if (uri === '' || /\s/.test(uri)) return undefined;
  rest = rest.trim();
  if (rest !== '' && !rest.startsWith(';')) return undefined;
  const params = parseParamList(rest.slice(1));
  if (params === undefined) return undefined;
  return { displayName, uri, params };
}

/** Quote a display name, escaping backslashes and double quotes (RFC 3261 quoted-string). */
export function quoteDisplayName(name: string): string {
  return `"${name.replace(/[\\"]/g, (c) => `\\${c}`).replace(/[\r\n]/g, ' ')}"`;
}

export function formatNameAddr(na: NameAddr): string {
  const name = na.displayName !== undefined && na.displayName !== '' ? `${quoteDisplayName(na.displayName)} ` : '';
  return `${name}<${na.uri}>${formatParams(na.params)}`;
}

export function parseNameAddrList(text: string): NameAddr[] | undefined {
  const out: NameAddr[] = [];
  for (const part of splitOutsideQuotes(text, ',')) {
    if (part.trim() === '') continue;
    const na = parseNameAddr(part);
    if (!na) return undefined;
    out.push(na);
  }
  return out;
}

export interface Via {
  readonly protocol: string;
  readonly host: string;
  readonly port?: number | undefined;
  readonly params: Readonly<Record<string, string | null>>;
}

const VIA_RE = /^SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z0-9\-.!%*_+`'~]+)\s+(\[[0-9A-Fa-f:.]+\]|[^\s;:[\]]+)(?:\s*:\s*(\d{1,5}))?\s*(;.*)?$/s;

export function parseVia(text: string): Via | undefined {
  const m = VIA_RE.exec(text.trim());
  if (!m) return undefined;
  const host = m[2]!.startsWith('[') ? m[2]!.slice(1, -1) : m[2]!;
  const params = m[4] ? parseParamList(m[4].slice(1)) : {};
  if (params === undefined) return undefined;
  return { protocol: m[1]!.toUpperCase(), host, port: m[3] !== undefined ? Number(m[3]) : undefined, params };
}

export function parseViaList(text: string): Via[] | undefined {
  const out: Via[] = [];
  for (const part of splitOutsideQuotes(text, ',')) {
    const v = parseVia(part);
    if (!v) return undefined;
    out.push(v);
  }
  return out;
}

export function formatVia(v: Via): string {
  return `SIP/2.0/${v.protocol} ${formatHost(v.host)}${v.port !== undefined ? `:${v.port}` : ''}${formatParams(v.params)}`;
}

export interface CSeq {
  readonly seq: number;
  readonly method: string;
}

/** RFC 3261 token (methods, header names, Via transports); `%` is not an escape there. */
export const TOKEN = "[A-Za-z0-9\\-.!%*_+`'~]+";
const TOKEN_RE = new RegExp(`^${TOKEN}$`);

export function isToken(s: string): boolean {
  return TOKEN_RE.test(s);
}

/** CSeq max (RFC 3261 §8.1.1.5: a 32-bit unsigned integer). */
export const CSEQ_MAX = 2 ** 32 - 1;

const CSEQ_RE = new RegExp(`^\\s*(\\d+)\\s+(${TOKEN})\\s*$`);

/** Methods are case-sensitive (RFC 3261 §7.1): the method is kept as written. */
export function parseCSeq(text: string): CSeq | undefined {
  const m = CSEQ_RE.exec(text);
  if (!m) return undefined;
  const digits = m[1]!.replace(/^0+(?=\d)/, '');
  if (digits.length > 10 || Number(digits) > CSEQ_MAX) return undefined;
  return { seq: Number(digits), method: m[2]! };
}
