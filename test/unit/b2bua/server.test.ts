import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createB2buaServer, type B2buaServer } from '../../../core/b2bua/index.js';
import { isB2buaError } from '../../../core/errors/index.js';
import { silentLogger } from '../../../core/log/index.js';
import { createHooks } from '../../../core/plugin-api/index.js';
import { freePort } from '../../harness/ports.js';
import { closedAfterEach, noMedia, options, streamPeer, testConfig, udpPeer } from './helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const tlsFiles = { certificateFile: path.join(here, 'fixtures/cert.pem'), privateKeyFile: path.join(here, 'fixtures/key.pem') };

function server(transport: string, extra: Record<string, unknown> = {}): B2buaServer {
  return createB2buaServer({ config: testConfig({ transport, ...extra }), hooks: createHooks(), log: silentLogger(), media: noMedia, version: '9.9.9', tls: tlsFiles });
}

describe('b2bua server: transports and OPTIONS', function () {
  this.timeout(10000);
  const { open, peers } = closedAfterEach();

  for (const [label, uri, proto] of [
    ['UDP', 'sip:127.0.0.1:0;transport=udp', 'UDP'],
    ['UDP (no transport param)', 'sip:127.0.0.1:0', 'UDP'],
    ['TCP', 'sip:127.0.0.1:0;transport=tcp', 'TCP'],
    ['TLS (transport=tls)', 'sip:127.0.0.1:0;transport=tls', 'TLS'],
    ['TLS (sips:)', 'sips:127.0.0.1:0', 'TLS'],
    ['UDP over IPv6', 'sip:[::1]:0;transport=udp', 'UDP'],
    ['TCP over IPv6', 'sip:[::1]:0;transport=tcp', 'TCP'],
  ] as const) {
    it(`answers OPTIONS with 200 over ${label}, port 0 resolved`, async () => {
      const s = server(uri);
      open.push(s);
      const { transports } = await s.start();
      assert.equal(transports.length, uri.includes('transport=') || uri.startsWith('sips') ? 1 : 2);
      const m = /^(sips?):(\[[^\]]+\]|[^:]+):(\d+)/.exec(transports[0]!);
      assert.ok(m, transports[0]);
      const port = Number(m[3]);
      assert.ok(port > 0);
      const host = m[2]!.replace(/^\[|\]$/g, '');
      const peer = proto === 'UDP' ? await udpPeer(port, host) : await streamPeer(port, proto === 'TLS', host);
      peers.push(peer);
      peer.send(options(peer.port, transports[0]!, proto, host));
      const res = await peer.expect(/^SIP\/2\.0 200/);
      assert.match(res, /^Allow: .*INVITE.*BYE.*OPTIONS/m);
      assert.match(res, /^Accept: .*application\/sdp/m);
      assert.match(res, /^Supported: /m);
      assert.match(res, /^User-Agent: TestB2BUA\/9\.9\.9\r$/m);
      assert.match(res, /^To: .*;tag=/m);
    });
  }

  it('a sip: URI without ;transport= listens on UDP and TCP on the same port (as Flexisip)', async () => {
    const s = server('sip:127.0.0.1:0');
    open.push(s);
    const { transports } = await s.start();
    const port = Number(/:(\d+);/.exec(transports[0]!)![1]);
    assert.deepEqual(transports, [`sip:127.0.0.1:${port};transport=udp`, `sip:127.0.0.1:${port};transport=tcp`]);
    const peer = await streamPeer(port, false);
    peers.push(peer);
    peer.send(options(peer.port, transports[1]!, 'TCP'));
    await peer.expect(/^SIP\/2\.0 200/);
  });

  it('reports the configured port when one is given', async () => {
    const port = await freePort();
    const s = server(`sip:127.0.0.1:${port};transport=tcp`);
    open.push(s);
    const { transports } = await s.start();
    assert.equal(transports[0], `sip:127.0.0.1:${port};transport=tcp`);
  });

  it('fails start() with B2BUA_TRANSPORT_FAILED when the port is taken (no crash)', async () => {
    const a = server('sip:127.0.0.1:0;transport=udp');
    open.push(a);
    const { transports } = await a.start();
    const b = server(transports[0]!);
    open.push(b);
    await assert.rejects(b.start(), (e: unknown) => isB2buaError(e, 'B2BUA_TRANSPORT_FAILED') && /transport/.test((e as Error).message));
  });

  it('rejects an unknown transport with B2BUA_CONFIG_INVALID', async () => {
    const s = server('sip:127.0.0.1:0;transport=sctp');
    await assert.rejects(s.start(), (e: unknown) => isB2buaError(e, 'B2BUA_CONFIG_INVALID') && /sctp/.test((e as Error).message));
  });

  it('answers INVITE with 503 after stopAccepting()', async () => {
    const s = server('sip:127.0.0.1:0;transport=udp');
    open.push(s);
    const { transports } = await s.start();
    s.stopAccepting();
    const port = Number(/:(\d+);/.exec(transports[0]!)![1]);
    const peer = await udpPeer(port);
    peers.push(peer);
    peer.send(options(peer.port, transports[0]!).replace(/OPTIONS/g, 'INVITE'));
    await peer.expect(/^SIP\/2\.0 503/);
  });

  it('answers a malformed request with 400 and keeps serving', async () => {
    const s = server('sip:127.0.0.1:0;transport=udp');
    open.push(s);
    const { transports } = await s.start();
    const port = Number(/:(\d+);/.exec(transports[0]!)![1]);
    const peer = await udpPeer(port);
    peers.push(peer);
    peer.send(options(peer.port, transports[0]!).replace('CSeq: 1 OPTIONS', 'CSeq: 1 INVITE'));
    await peer.expect(/^SIP\/2\.0 400/);
    peer.send('garbage\r\n\r\n');
    peer.send(options(peer.port, transports[0]!));
    await peer.expect(/^SIP\/2\.0 200/);
    assert.equal(s.counters().timers >= 0, true);
  });
});
