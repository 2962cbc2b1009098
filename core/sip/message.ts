/**
 * SIP messages: parsing from bytes (never throws), serialising to bytes with a byte-exact
 * Content-Length (npm `sip` counts UTF-16 code units, which breaks UTF-8 bodies); a received body that is
 * not UTF-8 (RFC 4475 mpart01's binary part) is sent again byte for byte.
 */
import { parseOrError } from '../errors/index.js';
import { isToken, parseCSeq, parseNameAddr, parseViaList, type CSeq, type NameAddr, type Via } from './headers.js';
import { splitOutsideQuotes } from './uri.js';
import { pooledToken } from './random-pool.js';

const COMPACT: Readonly<Record<string, string>> = {
  i: 'call-id', m: 'contact', e: 'content-encoding', l: 'content-length', c: 'content-type', f: 'from',
  s: 'subject', k: 'supported', t: 'to', v: 'via', r: 'refer-to', b: 'referred-by', o: 'event', x: 'session-expires', u: 'allow-events',
};

const PRETTY: Readonly<Record<string, string>> = {
  'call-id': 'Call-ID', cseq: 'CSeq', 'www-authenticate': 'WWW-Authenticate', 'rack': 'RAck', 'rseq': 'RSeq',
  'min-se': 'Min-SE', 'mime-version': 'MIME-Version', 'x-flexisip-b2bua': 'X-Flexisip-B2BUA',
};

/** Headers whose comma-separated values are separate entries. */
const LIST_HEADERS = new Set(['via', 'route', 'record-route', 'contact', 'allow', 'supported', 'require', 'proxy-require', 'unsupported']);

export function canonicalHeaderName(name: string): string {
  const lower = name.toLowerCase();
  return COMPACT[lower] ?? lower;
}

/** Names already prettified (a message serialises ~10 headers, nearly always the same ones); bounded against hostile names. */
const prettyCache = new Map<string, string>();
const PRETTY_CACHE_MAX = 512;

export function prettyHeaderName(lower: string): string {
  const known = PRETTY[lower] ?? prettyCache.get(lower);
  if (known !== undefined) return known;
  const pretty = lower.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
  if (prettyCache.size < PRETTY_CACHE_MAX) prettyCache.set(lower, pretty);
  return pretty;
}

export interface HeaderField {
  /** Lower-case, compact forms expanded. */
  readonly name: string;
  value: string;
}

export abstract class SipMessage {
  headers: HeaderField[] = [];
  body = '';
  /** The body bytes as received: sent again as they are while `body` is unchanged (a binary MIME part is no UTF-8 text). */
  private received: { readonly text: string; readonly bytes: Buffer } | undefined;

  /** Set the body from bytes (as received); `body` is their UTF-8 text. */
  setBodyBytes(bytes: Buffer): this {
    this.body = bytes.toString('utf8');
    this.received = { text: this.body, bytes };
    return this;
  }

  /** The body's bytes: as received unless `body` was changed since, else its UTF-8 encoding. */
  get bodyBytes(): Buffer {
    return this.received?.text === this.body ? this.received.bytes : Buffer.from(this.body, 'utf8');
  }

  /** First value (first line; for list headers the first element), case-insensitive. */
  get(name: string): string | undefined {
    return this.getAll(name)[0];
  }

  getAll(name: string): string[] {
    const n = canonicalHeaderName(name);
    const out: string[] = [];
    for (const h of this.headers) {
      if (h.name !== n) continue;
      if (LIST_HEADERS.has(n)) {
        for (const part of splitOutsideQuotes(h.value, ',')) if (part.trim() !== '') out.push(part.trim());
      } else out.push(h.value);
    }
    return out;
  }

  has(name: string): boolean {
    const n = canonicalHeaderName(name);
    return this.headers.some((h) => h.name === n);
  }

  set(name: string, value: string | undefined): this {
    const n = canonicalHeaderName(name);
    const first = this.headers.findIndex((h) => h.name === n);
    this.headers = this.headers.filter((h) => h.name !== n);
    if (value !== undefined) this.headers.splice(first >= 0 ? first : this.headers.length, 0, { name: n, value });
    return this;
  }

  add(name: string, value: string): this {
    this.headers.push({ name: canonicalHeaderName(name), value });
    return this;
  }

  /** Insert as the first header line of that name (Via). */
  prepend(name: string, value: string): this {
    const n = canonicalHeaderName(name);
    const i = this.headers.findIndex((h) => h.name === n);
    if (i >= 0) this.headers.splice(i, 0, { name: n, value });
    else this.headers.unshift({ name: n, value });
    return this;
  }

  remove(name: string): this {
    return this.set(name, undefined);
  }

  get callId(): string { return this.get('call-id') ?? ''; }
  get cseq(): CSeq { return parseCSeq(this.get('cseq') ?? '') ?? { seq: 0, method: '' }; }
  get from(): NameAddr { return parseNameAddr(this.get('from') ?? '') ?? { uri: '', params: {} }; }
  get to(): NameAddr { return parseNameAddr(this.get('to') ?? '') ?? { uri: '', params: {} }; }
  get fromTag(): string | undefined { return this.from.params['tag'] ?? undefined; }
  get toTag(): string | undefined { return this.to.params['tag'] ?? undefined; }
  get vias(): Via[] { return parseViaList(this.getAll('via').join(',')) ?? []; }
  get branch(): string { return this.vias[0]?.params['branch'] ?? ''; }
  get contentType(): string { return (this.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase(); }

  protected abstract startLine(): string;

  /** Bytes on the wire; Content-Length is the UTF-8 byte length of the body. */
  toBuffer(): Buffer {
    const body = this.bodyBytes;
    let head = `${this.startLine()}\r\n`;
    for (const h of this.headers) {
      if (h.name === 'content-length') continue;
      head += `${prettyHeaderName(h.name)}: ${h.value.replace(/[\r\n]+/g, ' ')}\r\n`;
    }
    head += `Content-Length: ${body.length}\r\n\r\n`;
    return Buffer.concat([Buffer.from(head, 'utf8'), body]);
  }

  toString(): string {
    return this.toBuffer().toString('utf8');
  }
}

export class SipRequest extends SipMessage {
  constructor(public method: string, public uri: string) { super(); }
  protected startLine(): string { return `${this.method} ${this.uri} SIP/2.0`; }
}

export class SipResponse extends SipMessage {
  constructor(public status: number, public reason: string) { super(); }
  protected startLine(): string { return `SIP/2.0 ${this.status} ${this.reason}`; }
}

export type ParseResult =
  | { readonly ok: true; readonly message: SipRequest | SipResponse }
  /** `request` is set when the input was a request with enough headers to answer 400. */
  | { readonly ok: false; readonly error: string; readonly status?: number; readonly request?: SipRequest };

const MAX_HEADER_BYTES = 64 * 1024;

/** Parse one complete SIP message (a UDP datagram, or a framed stream message). Never throws. */
export function parseMessage(data: Buffer): ParseResult {
  return parseOrError(() => parseUnsafe(data), (why) => `unparsable message (${why})`);
}

function parseUnsafe(data: Buffer): ParseResult {
  let start = 0;
  while (start < data.length && (data[start] === 0x0d || data[start] === 0x0a)) start++;
  let end = data.indexOf('\r\n\r\n', start);
  let sepLen = 4;
  if (end < 0) { end = data.indexOf('\n\n', start); sepLen = 2; }
  if (end < 0) {
    if (data.length - start > MAX_HEADER_BYTES) return { ok: false, error: 'header section too large' };
    end = data.length; sepLen = 0;
  }
  if (end - start > MAX_HEADER_BYTES) return { ok: false, error: 'header section too large' };
  const head = data.subarray(start, end).toString('utf8');
  const lines = head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/);
  const first = lines[0] ?? '';
  let message: SipRequest | SipResponse;
  const problems: string[] = [];
  let status = 400;
  // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase (the reason may be empty).
  const rs = /^SIP\/2\.0 (\d{3})(?: (.*))?$/.exec(first);
  // Request-Line = Method SP Request-URI SP SIP-Version: single spaces, nothing after the version.
  const rq = /^(\S+) (.*) SIP\/(\d+\.\d+)(\s*)$/.exec(first);
  if (rs) {
    const code = Number(rs[1]);
    if (code < 100 || code > 699) return { ok: false, error: `bad status code ${code}` };
    message = new SipResponse(code, (rs[2] ?? '').trim());
  } else if (rq && isToken(rq[1]!)) {
    message = new SipRequest(rq[1]!, rq[2]!);
    if (rq[3] !== '2.0') { problems.push(`SIP version ${rq[3]} not supported`); status = 505; }
    if (rq[4] !== '') problems.push('whitespace after the SIP version');
    problems.push(...requestUriProblems(rq[2]!));
  } else {
    return { ok: false, error: `bad start line "${first.slice(0, 80)}"` };
  }
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0 || !isToken(line.slice(0, colon).trim())) {
      problems.push(`bad header line "${line.slice(0, 60)}"`);
      continue;
    }
    message.headers.push({ name: canonicalHeaderName(line.slice(0, colon).trim()), value: line.slice(colon + 1).trim() });
  }
  const bodyBytes = sepLen > 0 ? data.subarray(end + sepLen) : Buffer.alloc(0);
  const cl = message.get('content-length');
  let body = bodyBytes;
  if (cl !== undefined) {
    if (!/^\d+$/.test(cl.trim())) problems.push(`bad Content-Length "${cl}"`);
    else {
      const n = Number(cl);
      if (n > bodyBytes.length) problems.push(`Content-Length ${n} larger than the ${bodyBytes.length} body bytes received`);
      body = bodyBytes.subarray(0, Math.min(n, bodyBytes.length));
    }
  }
  message.setBodyBytes(body);
  problems.push(...checkMandatory(message));
  if (problems.length > 0) {
    // The answer goes to the packet's source, not to the Via: the fields are copied, never interpreted.
    const canAnswer = message instanceof SipRequest && message.method !== 'ACK' && message.has('via') && message.has('call-id') && message.has('cseq');
    return { ok: false, error: problems.join('; '), status, ...(canAnswer ? { request: message as SipRequest } : {}) };
  }
  return { ok: true, message };
}

function checkMandatory(m: SipMessage): string[] {
  const out: string[] = [];
  const vias = parseViaList(m.getAll('via').join(','));
  if (!m.has('via') || !vias || vias.length === 0) out.push('missing or malformed Via');
  if (!m.get('call-id')) out.push('missing Call-ID');
  const cseq = parseCSeq(m.get('cseq') ?? '');
  if (!cseq) out.push('missing or malformed CSeq');
  if (!parseNameAddr(m.get('from') ?? '')) out.push('missing or malformed From');
  if (!parseNameAddr(m.get('to') ?? '')) out.push('missing or malformed To');
  if (m instanceof SipRequest) {
    if (cseq && cseq.method !== m.method) out.push(`CSeq method ${cseq.method} does not match ${m.method}`);
    for (const contact of m.getAll('contact')) {
      if (contact !== '*' && !parseNameAddr(contact)) out.push(`malformed Contact "${contact.slice(0, 60)}"`);
    }
    const date = m.get('date');
    // SIP-date is RFC 1123 and always GMT (RFC 3261 §20.17).
    if (date !== undefined && !/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(date)) out.push(`bad Date "${date.slice(0, 60)}"`);
  }
  return out;
}

function requestUriProblems(uri: string): string[] {
  if (!/^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$/.test(uri)) return [`bad Request-URI "${uri.slice(0, 60)}"`];
  // Headers are not allowed in a SIP Request-URI (RFC 3261 §19.1.1 table).
  if (/^sips?:/i.test(uri) && uri.slice(uri.lastIndexOf('@') + 1).includes('?')) return [`headers in the Request-URI "${uri.slice(0, 60)}"`];
  return [];
}

/** A response to `req` copying Via, From, To (with `toTag` added if given), Call-ID, CSeq. */
export function makeResponse(req: SipRequest, status: number, reason: string, toTag?: string): SipResponse {
  const res = new SipResponse(status, reason);
  for (const h of req.headers) {
    if (h.name === 'via' || h.name === 'from' || h.name === 'call-id' || h.name === 'cseq') res.headers.push({ ...h });
    else if (h.name === 'to') {
      const to = req.to;
      res.headers.push({ name: 'to', value: toTag && to.params['tag'] === undefined ? `${h.value};tag=${toTag}` : h.value });
    }
  }
  return res;
}

/** Cryptographically random token (tags, branch ids, Call-IDs). */
export function randomToken(bytes = 12): string {
  return pooledToken(bytes);
}

export function newBranch(): string {
  return `z9hG4bK${randomToken(12)}`;
}

export const REASON_PHRASES: Readonly<Record<number, string>> = {
  100: 'Trying', 180: 'Ringing', 181: 'Call Is Being Forwarded', 182: 'Queued', 183: 'Session Progress',
  200: 'OK', 202: 'Accepted', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found',
  405: 'Method Not Allowed', 407: 'Proxy Authentication Required', 408: 'Request Timeout', 415: 'Unsupported Media Type',
  420: 'Bad Extension', 422: 'Session Interval Too Small', 480: 'Temporarily Unavailable', 481: 'Call/Transaction Does Not Exist',
  482: 'Loop Detected', 483: 'Too Many Hops', 486: 'Busy Here', 487: 'Request Terminated', 488: 'Not Acceptable Here',
  489: 'Bad Event', 491: 'Request Pending', 500: 'Server Internal Error', 501: 'Not Implemented', 503: 'Service Unavailable',
  504: 'Server Time-out', 505: 'Version Not Supported', 513: 'Message Too Large', 603: 'Decline',
};

export function reasonPhrase(status: number): string {
  return REASON_PHRASES[status] ?? (status < 200 ? 'Progress' : status < 300 ? 'OK' : 'Error');
}
