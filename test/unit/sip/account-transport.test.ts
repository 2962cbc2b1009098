/**
 * Account transports (one-connection-per-account): a request sent through one leaves from its own port (source port and
 * Via), its response comes back on it and completes the transaction; requests without it keep the listener's port;
 * closing it frees the port. TCP / TLS: each account transport has a connection of its own to the peer (its own source
 * port), reused for its next requests, and the peer's requests on it are handled on it.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../../../core/log/index.js';
import { parseMessage, SipRequest, SipResponse, makeResponse } from '../../../core/sip/message.js';
import { SipStack } from '../../../core/sip/stack.js';
import { StreamFramer } from '../../../core/sip/stream-framer.js';
import { DEFAULT_STREAM_LIMITS } from '../../../core/sip/transport.js';

function options(to: string): SipRequest {
  const req = new SipRequest('OPTIONS', to);
  for (const [k, v] of Object.entries({ from: '<sip:a@x>;tag=1', to: '<sip:b@y>', 'call-id': `c${Math.random()}`, cseq: '1 OPTIONS' })) req.set(k, v);
  return req;
}

/** A UDP peer answering 200 to every request, recording the source port and top Via of each. */
async function answeringPeer(): Promise<{ socket: dgram.Socket; port: number; seen: { port: number; via: string }[] }> {
  const socket = dgram.createSocket('udp4');
  const seen: { port: number; via: string }[] = [];
  socket.on('message', (m, rinfo) => {
    const parsed = parseMessage(m);
    if (!parsed.ok || parsed.message instanceof SipResponse) return;
    seen.push({ port: rinfo.port, via: parsed.message.getAll('via')[0] ?? '' });
    socket.send(makeResponse(parsed.message, 200, 'OK').toBuffer(), rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  return { socket, port: socket.address().port, seen };
}

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '../b2bua/fixtures');
const TLS_FILES = { cert: fs.readFileSync(path.join(FIXTURES, 'cert.pem')), key: fs.readFileSync(path.join(FIXTURES, 'key.pem')) };

function sendTo(stack: SipStack, destination: string, flow?: Parameters<SipStack['request']>[3]): Promise<number> {
  return new Promise((resolve) => {
    stack.request(options(destination.replace(/^sip:/, 'sip:p@')), destination, (res) => { if (res.status >= 200) resolve(res.status); }, flow);
  });
}

/**
 * A TCP / TLS peer answering 200 to every request, recording each request's connection (source port) and top Via;
 * request(i) sends an OPTIONS on the i-th connection it accepted and resolves with the answer's status.
 */
async function streamPeer(protocol: 'tcp' | 'tls'): Promise<{ port: number; seen: { port: number; via: string }[]; request(i: number): Promise<number>; close(): Promise<void> }> {
  const seen: { port: number; via: string }[] = [];
  const sockets: net.Socket[] = [];
  const answers = new Map<string, (status: number) => void>();
  const onSocket = (socket: net.Socket): void => {
    sockets.push(socket);
    const framer = new StreamFramer(DEFAULT_STREAM_LIMITS);
    socket.on('data', (chunk: Buffer) => {
      for (const m of framer.push(chunk).messages) {
        const parsed = parseMessage(m);
        if (!parsed.ok) continue;
        if (parsed.message instanceof SipResponse) { answers.get(parsed.message.callId)?.(parsed.message.status); continue; }
        seen.push({ port: socket.remotePort ?? 0, via: parsed.message.getAll('via')[0] ?? '' });
        socket.write(makeResponse(parsed.message, 200, 'OK').toBuffer());
      }
    });
    socket.on('error', () => undefined);
  };
  const server = protocol === 'tls' ? tls.createServer(TLS_FILES, onSocket) : net.createServer(onSocket);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port, seen,
    request: (i) => new Promise((resolve) => {
      const req = options('sip:b2bua@127.0.0.1');
      req.prepend('via', `SIP/2.0/${protocol.toUpperCase()} 127.0.0.1:${port};branch=z9hG4bK-peer${Math.random()}`);
      req.set('max-forwards', '70');
      answers.set(req.callId, resolve);
      sockets[i]!.write(req.toBuffer());
    }),
    close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

function send(stack: SipStack, to: number, flow?: Parameters<SipStack['request']>[3]): Promise<number> {
  return new Promise((resolve) => {
    stack.request(options(`sip:p@127.0.0.1:${to}`), `sip:127.0.0.1:${to}`, (res) => { if (res.status >= 200) resolve(res.status); }, flow);
  });
}

describe('sip account transports (one-connection-per-account)', function () {
  this.timeout(10000);
  let stack: SipStack;
  afterEach(async () => { await stack.close(); });

  it('a request through an account transport leaves from its port and its response completes the transaction', async () => {
    stack = new SipStack(silentLogger(), 'Test/1');
    stack.keepalive = false;
    const main = await stack.listen('udp', '127.0.0.1', 0);
    const a1 = await stack.openAccountTransport('udp');
    const a2 = await stack.openAccountTransport('udp');
    const peer = await answeringPeer();
    try {
      assert.equal(await send(stack, peer.port, SipStack.accountFlow(a1)), 200);
      assert.equal(await send(stack, peer.port, SipStack.accountFlow(a2)), 200);
      assert.equal(await send(stack, peer.port), 200);
    } finally { peer.socket.close(); }
    const ports = [a1.local.port, a2.local.port, main.local.port];
    assert.equal(new Set(ports).size, 3, `three distinct ports ${ports.join(' ')}`);
    assert.deepEqual(peer.seen.map((s) => s.port), ports);
    peer.seen.forEach((s, i) => assert.match(s.via, new RegExp(`^SIP/2.0/UDP 127\\.0\\.0\\.1:${ports[i]};`)));
  });

  it('a request through an account transport leaves from it even when the peer answers on the listener (matched by branch)', async () => {
    stack = new SipStack(silentLogger(), 'Test/1');
    stack.keepalive = false;
    const main = await stack.listen('udp', '127.0.0.1', 0);
    const a1 = await stack.openAccountTransport('udp');
    const peer = dgram.createSocket('udp4');
    await new Promise<void>((r) => peer.bind(0, '127.0.0.1', () => r()));
    let source = 0;
    peer.on('message', (m, rinfo) => {
      const parsed = parseMessage(m);
      if (!parsed.ok || parsed.message instanceof SipResponse) return;
      source = rinfo.port;
      // Answer on the listener's port instead: the stack still matches by branch (responses are not bound to a socket).
      peer.send(makeResponse(parsed.message, 200, 'OK').toBuffer(), main.local.port, '127.0.0.1');
    });
    try {
      assert.equal(await send(stack, peer.address().port, SipStack.accountFlow(a1)), 200);
    } finally { peer.close(); }
    assert.equal(source, a1.local.port);
  });

  it('closeAccountTransport frees the socket', async () => {
    stack = new SipStack(silentLogger(), 'Test/1');
    await stack.listen('udp', '127.0.0.1', 0);
    const a1 = await stack.openAccountTransport('udp');
    const port = a1.local.port;
    await stack.closeAccountTransport(a1);
    const probe = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => { probe.once('error', reject); probe.bind(port, '127.0.0.1', () => resolve()); });
    probe.close();
  });

  for (const protocol of ['tcp', 'tls'] as const) {
    it(`${protocol.toUpperCase()}: each account transport reaches the peer on a connection of its own (own source port, Via on its listener), reused for its next request; the peer's request on it is handled on it`, async () => {
      stack = new SipStack(silentLogger(), 'Test/1');
      stack.keepalive = false;
      if (protocol === 'tls') stack.tlsFiles = TLS_FILES;
      const main = await stack.listen(protocol, '127.0.0.1', 0);
      const a1 = await stack.openAccountTransport(protocol);
      const a2 = await stack.openAccountTransport(protocol);
      const peer = await streamPeer(protocol);
      const received: { transport: unknown; method: string }[] = [];
      stack.onRequest = (req, tx) => { received.push({ transport: tx.transport, method: req.method }); tx.send(tx.response(200)); };
      try {
        const to = (flow?: Parameters<SipStack['request']>[3]) => sendTo(stack, `sip:127.0.0.1:${peer.port};transport=${protocol}`, flow);
        assert.equal(await to(SipStack.accountFlow(a1)), 200);
        assert.equal(await to(SipStack.accountFlow(a2)), 200);
        assert.equal(await to(SipStack.accountFlow(a1)), 200);
        assert.equal(await to(), 200);
        assert.equal(stack.counters().connections, 3, 'a1, a2 and the listener each hold one connection');
        // The peer sends a request on a1's connection: it is handled as arriving on a1 (answered on that connection).
        assert.equal(await peer.request(0), 200);
      } finally { await peer.close(); }
      const ports = peer.seen.map((s) => s.port);
      assert.equal(ports[0], ports[2], `a1's two requests on one connection: ${ports.join(' ')}`);
      assert.equal(new Set([ports[0], ports[1], ports[3]]).size, 3, `a1, a2 and the listener on three connections: ${ports.join(' ')}`);
      const vias = peer.seen.map((s) => s.via);
      const viaProto = protocol.toUpperCase();
      [a1, a2, a1, main].forEach((t, i) => assert.match(vias[i]!, new RegExp(`^SIP/2.0/${viaProto} 127\\.0\\.0\\.1:${t.local.port};`), `Via ${i}`));
      assert.deepEqual(received, [{ transport: a1, method: 'OPTIONS' }]);
      assert.equal(stack.contactFor(a1), protocol === 'tcp' ? `<sip:b2bua@127.0.0.1:${a1.local.port};transport=tcp>` : `<sips:b2bua@127.0.0.1:${a1.local.port}>`);
    });
  }

  it('TLS without the server\'s certificate: refused with B2BUA_TLS_CREDENTIALS_MISSING', async () => {
    stack = new SipStack(silentLogger(), 'Test/1');
    await stack.listen('udp', '127.0.0.1', 0);
    await assert.rejects(stack.openAccountTransport('tls'), /B2BUA_TLS_CREDENTIALS_MISSING/);
  });
});
