/**
 * Signalling attacks against the real daemon over loopback sockets: a stray 200 OK trying to reflect an ACK/BYE to
 * a third party, an unknown method, and a slowloris header drip-fed one byte a second (sip-header-timeout=2).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startB2bua, type B2buaDaemon } from '../../harness/b2bua.js';
import { freePorts } from '../../harness/ports.js';
import { stopAllStarted } from '../../harness/processes.js';
import { createRunDir } from '../../harness/run-dir.js';
import { sleep } from '../../harness/wait.js';
import { tcpPeer, udpPeer, type SipPeer } from './raw-sip.js';

const token = (): string => randomBytes(6).toString('hex');

function stray200(from: SipPeer, contact: string): string {
  return [
    'SIP/2.0 200 OK',
    `Via: SIP/2.0/UDP ${from.local.address}:${from.local.port};branch=z9hG4bK${token()}`,
    `From: <sip:victim@example.org>;tag=${token()}`,
    `To: <sip:b2bua@example.org>;tag=${token()}`,
    `Call-ID: never-ours-${token()}`,
    'CSeq: 1 INVITE',
    `Contact: <${contact}>`,
    'Content-Type: application/sdp',
    'Content-Length: 0',
    '', '',
  ].join('\r\n');
}

describe('security: signalling attacks through the daemon', function () {
  this.timeout(60_000);
  let b2bua: B2buaDaemon;
  let port: number;
  const peers: SipPeer[] = [];

  before(async () => {
    [port] = (await freePorts(1)) as [number];
    b2bua = await startB2bua({
      runDir: createRunDir('signalling-attacks'),
      outboundProxy: 'sip:127.0.0.1:9;transport=udp',
      settings: { transport: `sip:127.0.0.1:${port}`, 'sip-header-timeout': 2 },
    });
  });
  after(async () => {
    for (const p of peers.splice(0)) p.close();
    await b2bua.stop();
    await stopAllStarted();
  });

  it('a stray 200 OK whose Contact names a UDP socket of ours: nothing arrives there, strayResponsesDropped counts it', async () => {
    const attacker = await udpPeer(port);
    const victim = await udpPeer(port);
    peers.push(attacker, victim);
    const before = (await b2bua.counters()).strayResponsesDropped;
    attacker.send(stray200(attacker, `sip:x@127.0.0.1:${victim.local.port}`));
    await b2bua.waitUntilCounters('the stray 200 counted', (c) => c.strayResponsesDropped === before + 1, 5000);
    await sleep(1500); // a BYE or ACK retransmission (T1 = 500 ms) would have arrived by now
    assert.deepEqual(victim.received, [], 'the socket named by the Contact got packets');
    assert.deepEqual(attacker.received, [], 'the sender got packets');
    assert.equal((await b2bua.counters()).transactions, 0, 'no BYE transaction was started');
  });

  for (const over of ['UDP', 'TCP'] as const) {
    it(`X-FOO over ${over} gets 501 with an Allow header`, async () => {
      const peer = over === 'UDP' ? await udpPeer(port) : await tcpPeer(port);
      peers.push(peer);
      const { response } = await peer.ask('X-FOO');
      assert.match(response, /^SIP\/2\.0 501 /, response);
      assert.match(response, /^Allow: .*\bINVITE\b.*$/im, `501 without Allow:\n${response}`);
    });
  }

  it('slowloris: a header drip-fed one byte a second is closed after sip-header-timeout (2 s) and counted', async () => {
    const peer = await tcpPeer(port);
    peers.push(peer);
    const header = `OPTIONS sip:127.0.0.1:${port};transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:${peer.local.port};branch=z9hG4bK${token()}\r\n`;
    const started = Date.now();
    let closedAt = 0;
    peer.socket.once('close', () => { closedAt = Date.now(); });
    for (let i = 0; i < 8 && closedAt === 0; i++) {
      if (!peer.socket.destroyed) peer.socket.write(header[i]!);
      await sleep(1000);
    }
    assert.ok(closedAt > 0, 'the connection was still open after 8 s of drip-feeding');
    const after = closedAt - started;
    assert.ok(after >= 1900 && after < 4000, `closed after ${after} ms, expected about 2000`);
    const c = await b2bua.counters();
    assert.equal(c.sipConnections.headerTimeout, 1);
    assert.deepEqual(peer.received, [], 'no response to an unfinished request');
  });
});
