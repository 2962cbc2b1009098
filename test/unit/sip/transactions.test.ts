/** The transaction layer over real UDP sockets on loopback: retransmissions, ACK, CANCEL, counters. */
import assert from 'node:assert/strict';
import { silentLogger } from '../../../core/log/index.js';
import { SipRequest, SipResponse } from '../../../core/sip/message.js';
import { SipStack, type ServerTransaction } from '../../../core/sip/stack.js';
import { Ua } from '../../e2e/sip/ua.js';

describe('sip transactions (UDP)', function () {
  this.timeout(10000);
  let stack: SipStack;
  let peer: Ua;
  let port = 0;

  beforeEach(async () => {
    stack = new SipStack(silentLogger(), 'Test/1');
    port = (await stack.listen('udp', '127.0.0.1', 0)).local.port;
    peer = await Ua.open('peer', () => port);
  });
  afterEach(async () => {
    await stack.close();
    await peer.close();
  });

  async function until(cond: () => boolean, ms = 3000): Promise<void> {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error('condition not reached');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  it('client non-INVITE: retransmits over UDP until answered, then delivers the final response once', async () => {
    const req = new SipRequest('OPTIONS', `sip:peer@127.0.0.1:${peer.port}`);
    for (const [k, v] of Object.entries({ from: '<sip:a@x>;tag=1', to: '<sip:b@y>', 'call-id': 'c1', cseq: '1 OPTIONS' })) req.set(k, v);
    const got: number[] = [];
    stack.request(req, `sip:127.0.0.1:${peer.port}`, (r) => got.push(r.status));
    const first = await peer.request('OPTIONS');
    assert.match(first.branch, /^z9hG4bK[A-Za-z0-9_-]{16}$/);
    assert.equal(first.get('user-agent'), 'Test/1');
    const again = await peer.request('OPTIONS', 2000); // T1 = 500 ms
    assert.equal(again.branch, first.branch);
    peer.send(peer.answer(first, 200, 'OK'), port);
    peer.send(peer.answer(first, 200, 'OK'), port);
    await until(() => got.length > 0);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(got, [200]);
    assert.equal(stack.counters().transactions, 0);
    assert.equal(stack.counters().timers, 0);
  });

  it('client INVITE: a non-2xx is ACKed in the same transaction (same branch, its To tag)', async () => {
    const req = new SipRequest('INVITE', `sip:peer@127.0.0.1:${peer.port}`);
    for (const [k, v] of Object.entries({ from: '<sip:a@x>;tag=1', to: '<sip:b@y>', 'call-id': 'c2', cseq: '5 INVITE' })) req.set(k, v);
    const got: number[] = [];
    stack.request(req, `sip:127.0.0.1:${peer.port}`, (r) => got.push(r.status));
    const inv = await peer.request('INVITE');
    peer.send(peer.answer(inv, 486, 'Busy Here', { tag: 'busy' }), port);
    const ack = await peer.request('ACK');
    assert.equal(ack.branch, inv.branch);
    assert.equal(ack.toTag, 'busy');
    assert.equal(ack.cseq.seq, 5);
    peer.send(peer.answer(inv, 486, 'Busy Here', { tag: 'busy' }), port); // retransmission: ACKed again, not delivered again
    await peer.request('ACK');
    assert.deepEqual(got, [486]);
  });

  it('server INVITE: 100 at once, 2xx retransmitted until the ACK, a retransmitted INVITE does not reach the handler twice', async () => {
    const seen: SipRequest[] = [];
    let tx: ServerTransaction | undefined;
    stack.onRequest = (req, t) => { seen.push(req); tx = t; };
    const acks: SipRequest[] = [];
    stack.onAck = (a) => acks.push(a);
    const inv = peer.invite(`sip:x@127.0.0.1:${port}`, undefined);
    peer.send(inv);
    await peer.response(100);
    peer.send(inv);
    await peer.response(100);
    assert.equal(seen.length, 1);
    tx!.send(tx!.response(200, 'OK', 'tagz'));
    const ok = await peer.response(200);
    await peer.response(200, 'INVITE', 2000); // retransmitted (T1)
    ok.set('contact', `<sip:x@127.0.0.1:${port}>`);
    peer.send(peer.inDialog(peer.uacDialog(inv, ok), 'ACK'));
    await until(() => acks.length === 1);
    peer.drop(() => true);
    await peer.none((m) => m instanceof SipResponse && m.status === 200, 'retransmission after the ACK', 1200);
    await until(() => stack.counters().transactions === 0 && stack.counters().timers === 0);
  });

  it('CANCEL: 200 to the CANCEL, the INVITE transaction told; an unknown CANCEL gets 481', async () => {
    let cancelled = 0;
    stack.onRequest = (_req, t) => { t.onCancel = () => { cancelled++; t.send(t.response(487)); }; };
    const inv = peer.invite(`sip:x@127.0.0.1:${port}`, undefined);
    peer.send(inv);
    await peer.response(100);
    peer.send(peer.cancel(inv));
    await peer.response(200, 'CANCEL');
    await peer.response(487);
    assert.equal(cancelled, 1);
    const stray = new SipRequest('CANCEL', inv.uri);
    for (const n of ['from', 'to', 'call-id']) stray.set(n, inv.get(n));
    stray.set('via', `SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bKnothere`);
    stray.set('cseq', '1 CANCEL');
    peer.send(stray);
    await peer.response(481, 'CANCEL');
  });

  it('a throwing request handler gets its request answered 500', async () => {
    stack.onRequest = () => { throw new Error('bug'); };
    peer.send(peer.options(`sip:127.0.0.1:${port}`));
    await peer.response(500, 'OPTIONS');
  });
});
