/**
 * `enable-keepalive`: CRLF keep-alives (RFC 5626) to the peers we sent requests to, over real loopback sockets with a
 * short period; never to a peer that only sent us requests; never when enable-keepalive is off; bounded.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { silentLogger } from '../../../core/log/index.js';
import { KeepAlives } from '../../../core/sip/keepalive.js';
import { SipRequest } from '../../../core/sip/message.js';
import { SipStack } from '../../../core/sip/stack.js';
import type { Transport } from '../../../core/sip/transport.js';

function options(to: string): SipRequest {
  const req = new SipRequest('OPTIONS', to);
  for (const [k, v] of Object.entries({ from: '<sip:a@x>;tag=1', to: '<sip:b@y>', 'call-id': `c${Math.random()}`, cseq: '1 OPTIONS' })) req.set(k, v);
  return req;
}

async function udpPeer(): Promise<{ socket: dgram.Socket; port: number; pings: () => number; requests: () => number }> {
  const socket = dgram.createSocket('udp4');
  let pings = 0;
  let requests = 0;
  socket.on('message', (m) => { if (m.toString('latin1') === '\r\n\r\n') pings++; else requests++; });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  return { socket, port: socket.address().port, pings: () => pings, requests: () => requests };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('sip keep-alives (enable-keepalive)', function () {
  this.timeout(10000);
  let stack: SipStack;
  afterEach(async () => { await stack.close(); });

  it('UDP: a peer we sent a request to gets "\\r\\n\\r\\n" every period', async () => {
    stack = new SipStack(silentLogger(), 'Test/1');
    stack.keepalivePeriodMs = 100;
    await stack.listen('udp', '127.0.0.1', 0);
    const peer = await udpPeer();
    stack.request(options(`sip:p@127.0.0.1:${peer.port}`), `sip:127.0.0.1:${peer.port}`, () => undefined);
    await sleep(450);
    peer.socket.close();
    assert.ok(peer.requests() >= 1);
    assert.ok(peer.pings() >= 3 && peer.pings() <= 5, `3 to 5 pings in 450 ms at 100 ms (got ${peer.pings()})`);
  });

  it('UDP: a peer that only sent us a request gets none (no keep-alives to an address we did not choose)', async () => {
    stack = new SipStack(silentLogger(), 'Test/1');
    stack.keepalivePeriodMs = 50;
    const port = (await stack.listen('udp', '127.0.0.1', 0)).local.port;
    const peer = await udpPeer();
    const req = options(`sip:b2b@127.0.0.1:${port}`);
    req.set('via', `SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-ka-1;rport`);
    req.set('max-forwards', '70');
    peer.socket.send(req.toBuffer(), port, '127.0.0.1');
    await sleep(300);
    peer.socket.close();
    assert.ok(peer.requests() >= 1, 'the stack answered the request');
    assert.equal(peer.pings(), 0);
    assert.equal(stack.keepAlivesSent, 0);
  });

  it('enable-keepalive=false: no keep-alive at all', async () => {
    stack = new SipStack(silentLogger(), 'Test/1');
    stack.keepalive = false;
    stack.keepalivePeriodMs = 50;
    await stack.listen('udp', '127.0.0.1', 0);
    const peer = await udpPeer();
    stack.request(options(`sip:p@127.0.0.1:${peer.port}`), `sip:127.0.0.1:${peer.port}`, () => undefined);
    await sleep(300);
    peer.socket.close();
    assert.equal(peer.pings(), 0);
  });

  it('TCP: pings on the connection we opened; once it is closed, none, and none opens a new one', async () => {
    stack = new SipStack(silentLogger(), 'Test/1');
    stack.keepalivePeriodMs = 100;
    await stack.listen('tcp', '127.0.0.1', 0);
    let received = '';
    let accepted = 0;
    const conns: net.Socket[] = [];
    const server = net.createServer((s) => { accepted++; conns.push(s); s.on('data', (d: Buffer) => { received += d.toString('latin1'); }); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    stack.request(options(`sip:p@127.0.0.1:${port};transport=tcp`), `sip:127.0.0.1:${port};transport=tcp`, () => undefined);
    await sleep(350);
    assert.ok(received.startsWith('OPTIONS sip:p@'), 'the request arrived');
    const rest = received.slice(received.indexOf('\r\n\r\n') + 4);
    assert.match(rest, /^(\r\n\r\n)+$/, 'only CRLF pings after the request');
    assert.ok(rest.length / 4 >= 2 && rest.length / 4 <= 4, `2 to 4 pings in 350 ms at 100 ms (got ${rest.length / 4})`);
    for (const c of conns) c.destroy();
    await sleep(50);
    const before = received.length;
    await sleep(300);
    assert.equal(accepted, 1, 'no connection opened for a keep-alive');
    assert.equal(received.length, before);
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('bounded: the oldest destination is dropped beyond the maximum; a destination unused for the retention time too', () => {
    let now = 0;
    const sent: string[] = [];
    const transport = { protocol: 'udp', local: { address: '127.0.0.1', port: 1 }, connected: () => false,
      send: (to: { port: number }) => { sent.push(String(to.port)); return Promise.resolve(); } } as unknown as Transport;
    const k = new KeepAlives(1000, 5000, 3, () => now);
    for (const port of [10, 11, 12, 13]) k.noteRequest(transport, { address: '127.0.0.1', port });
    assert.equal(k.size, 3);
    k.tick();
    assert.deepEqual(sent.sort(), ['11', '12', '13']);
    now = 4000;
    k.noteRequest(transport, { address: '127.0.0.1', port: 12 });
    now = 6000;
    sent.length = 0;
    k.tick();
    assert.deepEqual(sent, ['12'], 'only the destination used within the retention time');
    k.stop();
  });
});
