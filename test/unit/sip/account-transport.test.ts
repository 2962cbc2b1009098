/**
 * Account transports (one-connection-per-account): a request sent through one leaves from its own port (source port and
 * Via), its response comes back on it and completes the transaction; requests without it keep the listener's port;
 * closing it frees the port; stream protocols are refused with a code.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { silentLogger } from '../../../core/log/index.js';
import { parseMessage, SipRequest, SipResponse, makeResponse } from '../../../core/sip/message.js';
import { SipStack } from '../../../core/sip/stack.js';

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

  it('closeAccountTransport frees the socket; stream protocols are refused with B2BUA_ACCOUNT_TRANSPORT_UNSUPPORTED', async () => {
    stack = new SipStack(silentLogger(), 'Test/1');
    await stack.listen('udp', '127.0.0.1', 0);
    const a1 = await stack.openAccountTransport('udp');
    const port = a1.local.port;
    await stack.closeAccountTransport(a1);
    const probe = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => { probe.once('error', reject); probe.bind(port, '127.0.0.1', () => resolve()); });
    probe.close();
    await assert.rejects(stack.openAccountTransport('tcp'), /B2BUA_ACCOUNT_TRANSPORT_UNSUPPORTED|UDP only/);
  });
});
