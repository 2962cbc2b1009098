/**
 * Deterministic SIP/SDP mutation fuzzer: case `index` of run `seed` is always the same bytes
 * (`fuzzCase(seed, index)`), so a failure found at 100,000 cases is replayed alone. A case = one valid
 * seed message (INVITE with plain or SDES SDP, OPTIONS, REGISTER, BYE, ACK, re-INVITE, 1xx/2xx) with one
 * to three mutations applied (byte flips, truncation, header duplication/removal, huge values, CRLF/LWS
 * injection, Content-Length lies, invalid UTF-8, SDP line mutations, number overflows).
 */

/** mulberry32: small, fast, good enough for fuzzing; never Math.random (cases must be reproducible). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Peer {
  /** host:port the fuzzed messages claim to come from (Via, Contact). */
  readonly local: string;
  /** host:port of the server under test (Request-URI). */
  readonly server: string;
  readonly transport: 'UDP' | 'TCP';
}

type Rand = () => number;
const int = (r: Rand, n: number): number => Math.floor(r() * n);
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[int(r, xs.length)]!;
const hex = (r: Rand, n: number): string => Array.from({ length: n }, () => int(r, 16).toString(16)).join('');

function plainSdp(r: Rand): string {
  const port = 10000 + 2 * int(r, 20000);
  return ['v=0', `o=fuzz ${int(r, 1e9)} 1 IN IP4 127.0.0.1`, 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
    `m=audio ${port} RTP/AVP 0 8 101`, 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000', 'a=ptime:20', 'a=sendrecv', ''].join('\r\n');
}

function sdesSdp(r: Rand): string {
  const key = Buffer.from(Array.from({ length: 30 }, () => int(r, 256))).toString('base64');
  const port = 10000 + 2 * int(r, 20000);
  return ['v=0', `o=fuzz ${int(r, 1e9)} 1 IN IP4 127.0.0.1`, 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
    `m=audio ${port} RTP/SAVP 0 101`, 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000',
    `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${key}`, `a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:${key}|2^31|1:1`,
    'a=fingerprint:sha-256 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89',
    'a=rtcp-mux', 'a=sendrecv', ''].join('\r\n');
}

function request(r: Rand, p: Peer, method: string, opts: { sdp?: string; toTag?: boolean; cseq?: number; cseqMethod?: string } = {}): string {
  const body = opts.sdp ?? '';
  const headers = [
    `Via: SIP/2.0/${p.transport} ${p.local};rport;branch=z9hG4bK${hex(r, 16)}`,
    'Max-Forwards: 70',
    `From: "Fuzz" <sip:fuzz@${p.local}>;tag=${hex(r, 8)}`,
    `To: <sip:callee@${p.server}>${opts.toTag ? `;tag=${hex(r, 8)}` : ''}`,
    `Call-ID: ${hex(r, 20)}@fuzz`,
    `CSeq: ${opts.cseq ?? 1 + int(r, 1000)} ${opts.cseqMethod ?? method}`,
    `Contact: <sip:fuzz@${p.local};transport=${p.transport.toLowerCase()}>`,
    'User-Agent: b2bua-fuzz',
    ...(method === 'REGISTER' ? ['Expires: 3600'] : []),
    ...(body ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${Buffer.byteLength(body)}`,
  ];
  const uri = method === 'REGISTER' ? `sip:${p.server}` : `sip:callee@${p.server}`;
  return `${method} ${uri} SIP/2.0\r\n${headers.join('\r\n')}\r\n\r\n${body}`;
}

function response(r: Rand, p: Peer, status: number, reason: string, withSdp: boolean): string {
  const body = withSdp ? plainSdp(r) : '';
  const headers = [
    `Via: SIP/2.0/${p.transport} ${p.server};branch=z9hG4bK${hex(r, 16)}`,
    `From: <sip:b2bua@${p.server}>;tag=${hex(r, 8)}`,
    `To: <sip:fuzz@${p.local}>;tag=${hex(r, 8)}`,
    `Call-ID: ${hex(r, 20)}@fuzz`,
    `CSeq: ${1 + int(r, 1000)} INVITE`,
    `Contact: <sip:fuzz@${p.local}>`,
    ...(body ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${Buffer.byteLength(body)}`,
  ];
  return `SIP/2.0 ${status} ${reason}\r\n${headers.join('\r\n')}\r\n\r\n${body}`;
}

export const SEED_NAMES = ['invite-plain', 'invite-sdes', 'options', 'register', 'bye', 'ack', 're-invite', '100', '180', '183-sdp', '200-sdp'] as const;
export type SeedName = (typeof SEED_NAMES)[number];

export function seedMessage(name: SeedName, r: Rand, p: Peer): string {
  switch (name) {
    case 'invite-plain': return request(r, p, 'INVITE', { sdp: plainSdp(r) });
    case 'invite-sdes': return request(r, p, 'INVITE', { sdp: sdesSdp(r) });
    case 'options': return request(r, p, 'OPTIONS');
    case 'register': return request(r, p, 'REGISTER');
    case 'bye': return request(r, p, 'BYE', { toTag: true });
    case 'ack': return request(r, p, 'ACK', { toTag: true });
    case 're-invite': return request(r, p, 'INVITE', { sdp: pick(r, [plainSdp, sdesSdp])(r), toTag: true, cseq: 2 });
    case '100': return response(r, p, 100, 'Trying', false);
    case '180': return response(r, p, 180, 'Ringing', false);
    case '183-sdp': return response(r, p, 183, 'Session Progress', true);
    case '200-sdp': return response(r, p, 200, 'OK', true);
  }
}

const HUGE = [256, 4096, 20000, 70000];
const NUMBERS = ['-1', '0', '4294967295', '4294967296', '18446744073709551616', '99999999999999999999999', '1e309', 'NaN', '0x10', '-0', '00000000000000000001', '2147483648'];
const SDP_LINES = [
  'm=audio 99999999 RTP/AVP 0', 'm=audio -1 RTP/AVP 0', 'm=audio 0 RTP/AVP', 'm=video 4000/4294967295 RTP/AVP 96', 'm=audio 4000 RTP/SAVPF 256 -3 abc',
  'm=', 'm=application 9 UDP/DTLS/SCTP webrtc-datachannel', 'm=audio 4000 UDP/TLS/RTP/SAVPF 0',
  'c=IN IP4 999.999.999.999', 'c=IN IP6 ::ffff:zz', 'c=IN IP4', 'c=', 'c=IN IP4 224.2.1.1/127/3', 'c=IN IP4 0.0.0.0', 'c=IN IP6 ::',
  'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:', 'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:!!!!', 'a=crypto:99999999999 FOO inline:AAAA',
  'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^999|4294967296:99', 'a=crypto:', 'a=crypto:1',
  'a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA;inline:BBBB',
  'a=ptime:0', 'a=ptime:-20', 'a=ptime:99999999999', 'a=ptime:abc', 'a=maxptime:0',
  'a=rtpmap:0', 'a=rtpmap:abc PCMU/8000', 'a=rtpmap:0 PCMU/0', 'a=rtpmap:0 PCMU/99999999999999/99', 'a=rtpmap:300 X/8000', 'a=rtpmap:96 /',
  'a=fmtp:101', 'a=fmtp:101 0-99999999999', 'a=fingerprint:', 'a=fingerprint:sha-256', 'a=fingerprint:md5 zz', 'a=fingerprint:sha-256 ' + 'A'.repeat(5000),
  'a=setup:bogus', 'a=rtcp:99999999', 'a=rtcp:0 IN IP4', 'a=candidate:1 1 UDP 4294967296 127.0.0.1 99999 typ host', 'a=candidate:', 'a=ice-ufrag:', 'a=ice-pwd:',
  'a=rtcp-mux', 'a=inactive', 'a=recvonly', 'a=sendonly', 'a=zrtp-hash:1.10 ' + 'f'.repeat(64), 'a=mid:', 'a=group:BUNDLE', 'a=ssrc:4294967296 cname:x',
  'a=', 'v=1', 'o=', 'o=- - - - - -', 's=', 't=-1 -1', 'b=AS:-1', 'b=TIAS:99999999999999999999', 'x', '', ' ', '\t',
];
const HEADER_NAMES = ['Via', 'From', 'To', 'Call-ID', 'CSeq', 'Contact', 'Content-Length', 'Content-Type', 'Max-Forwards', 'Route', 'Record-Route', 'Expires',
  'Session-Expires', 'Min-SE', 'Supported', 'Require', 'Authorization', 'Proxy-Authorization', 'WWW-Authenticate', 'Refer-To', 'Replaces', 'Event', 'Allow',
  'v', 'f', 't', 'i', 'm', 'l', 'c', 'k'];
const HEADER_VALUES = ['', ' ', '<', '>', '<sip:>', '<sips:@:>', 'sip:[::1', 'sip:a@[::1]:99999', '"unterminated <sip:a@b>', 'SIP/2.0/UDP', 'SIP/2.0/UDP [::1',
  'SIP/2.0/UDP 127.0.0.1:0;branch=', 'SIP/2.0/XYZ host;rport=abc;received=', '1', 'INVITE', '1 INVITE', '4294967296 INVITE', '-1 BYE', '1 ', 'a;b;c;d=;=e',
  '<sip:a@b>;tag=', '<sip:a@b;lr>;;;;', 'Digest', 'Digest realm="', 'Digest realm="x", nonce="y", uri="sip:a", response="z", qop=auth, nc=zz', '<sip:x@y?Replaces=%zz>',
  'sip:a@b;transport=', '*', '%00', '\u0000', 'timer;refresher=', '90;refresher=uas', '999999999999999999', '-5', 'application/sdp;charset=', 'multipart/mixed;boundary='];
const INVALID_UTF8 = [Buffer.from([0xff]), Buffer.from([0xc0, 0x80]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xf4, 0x90, 0x80, 0x80]), Buffer.from([0xe2, 0x82]),
  Buffer.from([0x00]), Buffer.from([0xef, 0xbb, 0xbf])];

type TextMutation = (text: string, r: Rand) => string;

function splitMessage(text: string): { head: string[]; body: string } {
  const at = text.indexOf('\r\n\r\n');
  if (at < 0) return { head: text.split('\r\n'), body: '' };
  return { head: text.slice(0, at).split('\r\n'), body: text.slice(at + 4) };
}
const join = (head: readonly string[], body: string): string => `${head.join('\r\n')}\r\n\r\n${body}`;

const textMutations: Record<string, TextMutation> = {
  headerDuplicate(t, r) {
    const { head, body } = splitMessage(t);
    if (head.length < 2) return t;
    const i = 1 + int(r, head.length - 1);
    const copies = pick(r, [1, 2, 50]);
    head.splice(i, 0, ...Array.from({ length: copies }, () => head[i]!));
    return join(head, body);
  },
  headerRemove(t, r) {
    const { head, body } = splitMessage(t);
    if (head.length < 2) return t;
    head.splice(1 + int(r, head.length - 1), 1);
    return join(head, body);
  },
  headerReplace(t, r) {
    const { head, body } = splitMessage(t);
    if (head.length < 2) return t;
    const i = 1 + int(r, head.length - 1);
    const name = r() < 0.5 ? head[i]!.split(':')[0]! : pick(r, HEADER_NAMES);
    head[i] = `${name}: ${pick(r, HEADER_VALUES)}`;
    return join(head, body);
  },
  headerAdd(t, r) {
    const { head, body } = splitMessage(t);
    head.splice(1 + int(r, head.length), 0, `${pick(r, HEADER_NAMES)}:${pick(r, ['', ' ', '\t', '  '])}${pick(r, HEADER_VALUES)}`);
    return join(head, body);
  },
  hugeValue(t, r) {
    const { head, body } = splitMessage(t);
    const i = int(r, head.length);
    head[i] = head[i]! + pick(r, ['a', ';x=y', ',', ' ', '%41', '<']).repeat(pick(r, HUGE));
    return join(head, body);
  },
  hugeBody(t, r) {
    const { head, body } = splitMessage(t);
    return join(head, body + pick(r, ['a=x\r\n', 'x', '\r\n']).repeat(pick(r, HUGE)));
  },
  crlfInjection(t, r) {
    const at = int(r, t.length);
    return t.slice(0, at) + pick(r, ['\r\n', '\r\n\r\n', '\n', '\r', '\r\n ', '\r\n\t', '\n\n', '\r\r']) + t.slice(at);
  },
  lwsInjection(t, r) {
    const { head, body } = splitMessage(t);
    const i = int(r, head.length);
    const line = head[i]!;
    const at = int(r, line.length + 1);
    head[i] = line.slice(0, at) + pick(r, [' ', '\t', '\r\n ', '\r\n\t', '   \t ', ' \r\n  ']) + line.slice(at);
    return join(head, body);
  },
  contentLengthLie(t, r) {
    const { head, body } = splitMessage(t);
    const value = pick(r, [...NUMBERS, String(Buffer.byteLength(body) + 1 + int(r, 100)), String(Math.max(0, Buffer.byteLength(body) - 1 - int(r, 100))), '', ' 5 5', '65536', '65537']);
    const lines = head.filter((l) => !/^(content-length|l)\s*:/i.test(l));
    return join([...lines, `${r() < 0.2 ? 'l' : 'Content-Length'}: ${value}`], body);
  },
  numberOverflow(t, r) {
    const numbers = [...t.matchAll(/\d+/g)];
    if (numbers.length === 0) return t;
    const m = pick(r, numbers);
    return t.slice(0, m.index) + pick(r, NUMBERS) + t.slice(m.index + m[0].length);
  },
  sdpLineReplace(t, r) {
    const { head, body } = splitMessage(t);
    if (!body) return join(head, [...pick(r, [[], ['v=0', 's=-']]), pick(r, SDP_LINES), ''].join('\r\n'));
    const lines = body.split('\r\n');
    const line = pick(r, SDP_LINES);
    const i = int(r, lines.length);
    if (r() < 0.5) lines[i] = line;
    else lines.splice(i, 0, line);
    return join(head, lines.join('\r\n'));
  },
  sdpLineRemove(t, r) {
    const { head, body } = splitMessage(t);
    if (!body) return t;
    const lines = body.split('\r\n');
    lines.splice(int(r, lines.length), 1);
    return join(head, lines.join('\r\n'));
  },
  sdpMediaRepeat(t, r) {
    const { head, body } = splitMessage(t);
    const m = /m=[^]*$/.exec(body);
    if (!m) return t;
    return join(head, body + m[0].repeat(pick(r, [1, 5, 70])));
  },
  methodOrVersion(t, r) {
    const { head, body } = splitMessage(t);
    const parts = head[0]!.split(' ');
    const i = int(r, parts.length);
    parts[i] = pick(r, ['', 'INVITE', 'SIP/3.0', 'SIP/2.0', 'sip:', 'sips:[', 'x'.repeat(300), '999', '0', 'SIP/2.0 ', 'INV ITE', 'tel:+1', 'sip:a@b:65536']);
    head[0] = parts.join(pick(r, [' ', ' ', '  ', '\t']));
    return join(head, body);
  },
};

type ByteMutation = (b: Buffer, r: Rand) => Buffer;
const byteMutations: Record<string, ByteMutation> = {
  byteFlip(b, r) {
    const c = Buffer.from(b);
    for (let k = 1 + int(r, 8); k > 0 && c.length > 0; k--) c[int(r, c.length)] = int(r, 256);
    return c;
  },
  bitFlip(b, r) {
    const c = Buffer.from(b);
    if (c.length > 0) { const i = int(r, c.length); c[i] = c[i]! ^ (1 << int(r, 8)); }
    return c;
  },
  truncate(b, r) {
    return b.subarray(0, int(r, b.length));
  },
  invalidUtf8(b, r) {
    const at = int(r, b.length + 1);
    return Buffer.concat([b.subarray(0, at), pick(r, INVALID_UTF8), b.subarray(at)]);
  },
  randomTail(b, r) {
    const at = int(r, b.length + 1);
    return Buffer.concat([b.subarray(0, at), Buffer.from(Array.from({ length: 1 + int(r, 200) }, () => int(r, 256)))]);
  },
};

export const MUTATION_NAMES: readonly string[] = [...Object.keys(textMutations), ...Object.keys(byteMutations)];

export interface FuzzCase {
  readonly seed: number;
  readonly index: number;
  readonly base: SeedName;
  readonly mutations: readonly string[];
  readonly bytes: Buffer;
}

/** Case `index` of run `seed`: a pure function of (seed, index, peer). */
export function fuzzCase(seed: number, index: number, peer: Peer): FuzzCase {
  const r = prng((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index >>> 0, 0x85ebca77)) >>> 0);
  const base = pick(r, SEED_NAMES);
  let text = seedMessage(base, r, peer);
  const mutations: string[] = [];
  const count = 1 + int(r, 3);
  let bytes: Buffer | undefined;
  for (let k = 0; k < count; k++) {
    const name = pick(r, MUTATION_NAMES);
    mutations.push(name);
    const tm = textMutations[name];
    if (tm && bytes === undefined) text = tm(text, r);
    else bytes = byteMutations[name] ? byteMutations[name](bytes ?? Buffer.from(text, 'utf8'), r) : bytes;
  }
  return { seed, index, base, mutations, bytes: bytes ?? Buffer.from(text, 'utf8') };
}
