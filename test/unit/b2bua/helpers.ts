/** Test helpers: a server config, and raw SIP clients over UDP / TCP / TLS on loopback. */
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import { parseConfigText } from '../../../core/config/load.js';
import type { B2buaServerConfig } from '../../../core/plugin-api/index.js';
import type { B2buaServer } from '../../../core/b2bua/types.js';
import { createB2buaServer } from '../../../core/b2bua/index.js';
import { silentLogger } from '../../../core/log/index.js';
import { createRelayEngine } from '../../../core/media/relay/index.js';
import { createHooks } from '../../../core/plugin-api/index.js';
import type { MediaEngine } from '../../../core/media/types.js';

/** The loader's defaults (an empty configuration file): what the server runs with when a key is not set. */
const DEFAULTS = parseConfigText('', 'test.conf').config.server;

/** The defaults, set for loopback tests, then `overrides`. */
export function testConfig(overrides: Partial<B2buaServerConfig> = {}): B2buaServerConfig {
  return Object.freeze({
    ...DEFAULTS,
    application: 'test',
    transport: 'sip:127.0.0.1:0;transport=udp',
    outboundProxy: 'sip:127.0.0.1:5060;transport=udp',
    userAgent: 'TestB2BUA/{version}',
    audioPort: { min: 0, max: 0 },
    videoPort: { min: 0, max: 0 },
    noRtpTimeout: 30,
    maxCallDuration: 0,
    maxCalls: 500,
    enableKeepalive: true,
    enableIce: false,
    natAddresses: [],
    audioCodec: '',
    videoCodec: '',
    dataDirectory: '/tmp',
    oneConnectionPerAccount: false,
    ...overrides,
  });
}

/** For tests that make no calls: a media engine that must not be used. */
export const noMedia: MediaEngine = {
  name: 'none',
  capabilities: { encryption: ['none'], srtpSuites: [] },
  createSession: () => Promise.reject(new Error('no media in this test')),
  counters: () => ({ sessions: 0, portsInUse: 0 }),
  close: () => Promise.resolve(),
};

/** Servers and peers a suite's tests open (push them here), closed after each test; call inside describe(). */
/** What a test opened: its servers, raw peers and media engines, closed after each test in that order. */
export interface Opened { open: B2buaServer[]; peers: RawPeer[]; engines: MediaEngine[] }

export function closedAfterEach(): Opened {
  const opened: Opened = { open: [], peers: [], engines: [] };
  afterEach(async () => {
    await Promise.all(opened.peers.splice(0).map((p) => p.close()));
    await Promise.all(opened.open.splice(0).map((s) => s.close()));
    await Promise.all(opened.engines.splice(0).map((e) => e.close()));
  });
  return opened;
}

/** The server on `config` with the relay media engine (in process; nothing flows unless a test sends it), started. */
export async function startWithRelay(opened: Opened, config: B2buaServerConfig): Promise<B2buaServer> {
  const media = await createRelayEngine(config, silentLogger());
  opened.engines.push(media);
  const server = createB2buaServer({ config, hooks: createHooks(), log: silentLogger(), media, version: '9.9.9' });
  opened.open.push(server);
  await server.start();
  return server;
}

export function token(): string {
  return randomBytes(6).toString('hex');
}

/** A raw SIP endpoint: sends text, collects received messages (strings). Bounded waits. */
export interface RawPeer {
  readonly port: number;
  send(text: string): void;
  /** Wait for a received message matching `re` (searching from the first not yet consumed). */
  expect(re: RegExp, timeoutMs?: number): Promise<string>;
  readonly received: string[];
  close(): Promise<void>;
}

function makeWaiter(received: string[]) {
  const waiters: (() => void)[] = [];
  const consumed = new Set<number>();
  return {
    push(m: string) { received.push(m); for (const w of waiters.splice(0)) w(); },
    expect(re: RegExp, timeoutMs = 3000): Promise<string> {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          for (let i = 0; i < received.length; i++) {
            if (!consumed.has(i) && re.test(received[i]!)) { consumed.add(i); resolve(received[i]!); return true; }
          }
          return false;
        };
        if (check()) return;
        const timer = setTimeout(() => reject(new Error(`timeout waiting for ${re}; received:\n${received.join('\n---\n')}`)), timeoutMs);
        const loop = (): void => { if (check()) clearTimeout(timer); else waiters.push(loop); };
        waiters.push(loop);
      });
    },
  };
}

export async function udpPeer(serverPort: number, host = '127.0.0.1'): Promise<RawPeer> {
  const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
  await new Promise<void>((r) => socket.bind(0, host, () => r()));
  const received: string[] = [];
  const w = makeWaiter(received);
  socket.on('message', (m) => w.push(m.toString('utf8')));
  return {
    port: socket.address().port,
    send: (text) => socket.send(Buffer.from(text, 'utf8'), serverPort, host),
    expect: w.expect,
    received,
    close: () => new Promise((r) => socket.close(() => r())),
  };
}

export async function streamPeer(serverPort: number, secure: boolean, host = '127.0.0.1'): Promise<RawPeer> {
  const socket: net.Socket = await new Promise((resolve, reject) => {
    const s = secure ? tls.connect({ host, port: serverPort, rejectUnauthorized: false }) : net.connect({ host, port: serverPort });
    s.once('error', reject);
    s.once(secure ? 'secureConnect' : 'connect', () => resolve(s));
  });
  const received: string[] = [];
  const w = makeWaiter(received);
  let buf = '';
  socket.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    for (;;) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const cl = Number(/content-length:\s*(\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
      const total = end + 4 + cl;
      if (Buffer.byteLength(buf) < total) return;
      w.push(buf.slice(0, total));
      buf = buf.slice(total);
    }
  });
  return {
    port: socket.localPort ?? 0,
    send: (text) => socket.write(text),
    expect: w.expect,
    received,
    close: () => new Promise((r) => { socket.once('close', () => r()); socket.destroy(); }),
  };
}

export function options(peerPort: number, serverUri: string, protocol = 'UDP', host = '127.0.0.1'): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return [
    `OPTIONS ${serverUri} SIP/2.0`,
    `Via: SIP/2.0/${protocol} ${h}:${peerPort};branch=z9hG4bK${token()};rport`,
    'Max-Forwards: 70',
    `From: <sip:probe@${h}>;tag=${token()}`,
    `To: <${serverUri}>`,
    `Call-ID: ${token()}`,
    'CSeq: 1 OPTIONS',
    'Content-Length: 0',
    '', '',
  ].join('\r\n');
}

/** A plain offer: one PCMU audio stream on loopback. */
export const PLAIN_OFFER = 'v=0\r\no=alice 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';

/** An out-of-dialog INVITE from alice at 127.0.0.1:`peerPort` to bob, carrying `sdp`. */
export function rawInvite(peerPort: number, o: { sdp?: string; callId?: string } = {}): string {
  const sdp = o.sdp ?? PLAIN_OFFER;
  return [
    'INVITE sip:bob@127.0.0.1 SIP/2.0',
    `Via: SIP/2.0/UDP 127.0.0.1:${peerPort};branch=z9hG4bK${token()};rport`,
    'Max-Forwards: 70',
    `From: <sip:alice@127.0.0.1>;tag=${token()}`,
    'To: <sip:bob@127.0.0.1>',
    `Call-ID: ${o.callId ?? token()}`,
    'CSeq: 1 INVITE',
    `Contact: <sip:alice@127.0.0.1:${peerPort}>`,
    'Content-Type: application/sdp',
    `Content-Length: ${Buffer.byteLength(sdp)}`,
    '', sdp,
  ].join('\r\n');
}
