/**
 * Issue 12 (hostile networks), SIP layer, on loopback with raw peers: an unsolicited 2xx to INVITE sends
 * nothing anywhere (its Contact names a third-party listener or a host name) and is counted; extension
 * methods and CSeq 2^32-1 are answered at once over UDP and TCP.
 */
import assert from 'node:assert/strict';
import type { B2buaServer } from '../../../core/b2bua/index.js';
import { freePort } from '../../harness/ports.js';
import { closedAfterEach, startWithRelay, streamPeer, testConfig, token, udpPeer } from './helpers.js';

function stray200(peerPort: number, contact: string): string {
  return [
    'SIP/2.0 200 OK',
    `Via: SIP/2.0/UDP 127.0.0.1:${peerPort};branch=z9hG4bK${token()}`,
    `From: <sip:victim@example.org>;tag=${token()}`,
    `To: <sip:b2bua@example.org>;tag=${token()}`,
    `Call-ID: never-ours-${token()}`,
    'CSeq: 1 INVITE',
    `Contact: <${contact}>`,
    'Content-Length: 0',
    '', '',
  ].join('\r\n');
}

function request(method: string, cseq: number, peerPort: number, serverPort: number, protocol: string): string {
  return [
    `${method} sip:b2bua@127.0.0.1:${serverPort} SIP/2.0`,
    `Via: SIP/2.0/${protocol} 127.0.0.1:${peerPort};branch=z9hG4bK${token()};rport`,
    'Max-Forwards: 70',
    `From: <sip:probe@127.0.0.1>;tag=${token()}`,
    `To: <sip:b2bua@127.0.0.1:${serverPort}>`,
    `Call-ID: ${token()}`,
    `CSeq: ${cseq} ${method}`,
    'Content-Length: 0',
    '', '',
  ].join('\r\n');
}

describe('hostile signalling: stray 2xx, extension methods, 32-bit CSeq', function () {
  this.timeout(10000);
  const opened = closedAfterEach();
  const peers = opened.peers;
  let server: B2buaServer | undefined;

  async function start(): Promise<number> {
    const port = await freePort();
    const config = testConfig({ transport: `sip:127.0.0.1:${port}` });
    server = await startWithRelay(opened, config);
    return port;
  }

  it('an unsolicited 200 OK to INVITE is dropped and counted: no ACK, no BYE to the Contact it names', async () => {
    const port = await start();
    const attacker = await udpPeer(port);
    const victim = await udpPeer(port);
    peers.push(attacker, victim);
    attacker.send(stray200(attacker.port, `sip:x@127.0.0.1:${victim.port}`));
    attacker.send(stray200(attacker.port, 'sip:x@reflection-target.invalid:5060'));
    for (let i = 0; i < 100 && server!.counters().strayResponsesDropped < 2; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(server!.counters().strayResponsesDropped, 2);
    await new Promise((r) => setTimeout(r, 1500)); // a BYE retransmission would be there by now (T1 = 500 ms)
    assert.deepEqual(victim.received, [], 'the third-party listener got packets');
    assert.deepEqual(attacker.received, [], 'the sender got packets');
    assert.equal(server!.counters().transactions, 0, 'no BYE transaction (nor its resolution) was started');
  });

  for (const protocol of ['UDP', 'TCP'] as const) {
    it(`${protocol}: X-FOO gets 501 with Allow, CSeq 4294967295 OPTIONS gets 200, within 1 s`, async () => {
      const port = await start();
      const peer = protocol === 'UDP' ? await udpPeer(port) : await streamPeer(port, false);
      peers.push(peer);
      peer.send(request('X-FOO', 1, peer.port, port, protocol));
      const foo = await peer.expect(/^SIP\/2\.0 501 /, 1000);
      assert.match(foo, /\r\nCSeq: 1 X-FOO\r\n/);
      assert.match(foo, /\r\nAllow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY, MESSAGE, SUBSCRIBE\r\n/);
      peer.send(request('OPTIONS', 4294967295, peer.port, port, protocol));
      const ok = await peer.expect(/^SIP\/2\.0 200 /, 1000);
      assert.match(ok, /\r\nCSeq: 4294967295 OPTIONS\r\n/);
      peer.send(request('REGISTER', 2, peer.port, port, protocol));
      await peer.expect(/^SIP\/2\.0 405 [^]*\r\nAllow: INVITE, /, 1000);
    });
  }
});
