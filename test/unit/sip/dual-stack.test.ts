/** Listeners in both IP families: a request to an IPv6 peer leaves on the IPv6 listener, with Via and our Contact on it. */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { silentLogger } from '../../../core/log/index.js';
import { SipRequest } from '../../../core/sip/message.js';
import { SipStack } from '../../../core/sip/stack.js';

function invite(to: string, contact: string): SipRequest {
  const req = new SipRequest('INVITE', to);
  for (const [k, v] of Object.entries({ from: '<sip:a@x>;tag=1', to: '<sip:b@y>', 'call-id': `c${Math.random()}`, cseq: '1 INVITE', contact })) req.set(k, v);
  return req;
}

describe('sip stack with an IPv4 and an IPv6 listener', function () {
  this.timeout(5000);
  let stack: SipStack;
  afterEach(async () => { await stack.close(); });

  for (const [peerIp, socketType] of [['::1', 'udp6'], ['127.0.0.1', 'udp4']] as const) {
    it(`a request to ${peerIp}: sent from the listener of that family, Via and Contact on it`, async () => {
      stack = new SipStack(silentLogger(), 'Test/1');
      const v4 = await stack.listen('udp', '127.0.0.1', 0);
      const v6 = await stack.listen('udp', '::1', 0);
      assert.equal(await stack.transportFor('udp', '::1'), v6);
      assert.equal(await stack.transportFor('udp', '127.0.0.1'), v4);
      const peer = dgram.createSocket(socketType);
      await new Promise<void>((r) => peer.bind(0, peerIp, () => r()));
      const got = new Promise<{ text: string; port: number }>((r) => peer.once('message', (m, rinfo) => r({ text: m.toString('latin1'), port: rinfo.port })));
      const host = peerIp.includes(':') ? `[${peerIp}]` : peerIp;
      const mainContact = stack.contactFor(v4);
      stack.request(invite(`sip:b@${host}:${peer.address().port}`, mainContact), `sip:${host}:${peer.address().port}`, () => undefined);
      const { text, port } = await got;
      peer.close();
      const used = peerIp.includes(':') ? v6 : v4;
      const usedHost = peerIp.includes(':') ? `[::1]:${v6.local.port}` : `127.0.0.1:${v4.local.port}`;
      assert.equal(port, used.local.port, 'sent from the listener of the peer\'s family');
      assert.match(text, new RegExp(`^Via: SIP/2\\.0/UDP ${usedHost.replace(/[.[\]]/g, '\\$&')};`, 'mi'), text);
      assert.ok(text.includes(`Contact: <sip:b2bua@${usedHost}>`), text);
    });
  }
});
