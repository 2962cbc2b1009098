/**
 * The call framework driven in-process with raw SIP over UDP (two scripted UAs around the server,
 * plain RTP relay engine): the flows a real peer rarely produces on demand (forks, races, glare,
 * challenges, timers) are checked here; test/e2e/calls covers the same server with sipp/linphonec.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createB2buaServer, type B2buaServer } from '../../../core/b2bua/index.js';
import { silentLogger } from '../../../core/log/index.js';
import { createRelayEngine } from '../../../core/media/relay/index.js';
import type { MediaEngine } from '../../../core/media/types.js';
import { CallRejection, createHooks, type B2buaHooks, type CallEnded } from '../../../core/plugin-api/index.js';
import { SipRequest, SipResponse } from '../../../core/sip/message.js';
import { streamPeer, testConfig } from '../../unit/b2bua/helpers.js';
import { offerSdp, tok, Ua, type UaDialog } from './ua.js';

describe('b2bua call flows (raw SIP, in-process)', function () {
  this.timeout(15000);
  let alice: Ua;
  let bob: Ua;
  let server: B2buaServer;
  let media: MediaEngine;
  let hooks: B2buaHooks;
  let ended: CallEnded[];
  let serverPort = 0;
  let serverUri = '';

  async function setup(extra: Record<string, unknown> = {}, tap?: (h: B2buaHooks) => void, host = '127.0.0.1'): Promise<void> {
    alice = await Ua.open('alice', () => serverPort, host);
    bob = await Ua.open('bob', () => serverPort, host);
    const h = host.includes(':') ? `[${host}]` : host;
    const config = testConfig({ transport: `sip:${h}:0;transport=udp`, outboundProxy: `sip:${h}:${bob.port}`, noRtpTimeout: 300, ...extra });
    media = await createRelayEngine(config, silentLogger());
    hooks = createHooks();
    ended = [];
    hooks.callEnded.tap('test', (e) => { ended.push(e); });
    tap?.(hooks);
    server = createB2buaServer({ config, hooks, log: silentLogger(), media, version: '1.2.3' });
    const { transports } = await server.start();
    serverUri = transports[0]!;
    serverPort = Number(/:(\d+);/.exec(serverUri)![1]);
  }

  afterEach(async () => {
    await server?.close();
    await media?.close();
    await alice?.close();
    await bob?.close();
  });

  async function until(cond: () => boolean, what: string, ms = 2000): Promise<void> {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) assert.fail(`not reached in ${ms} ms: ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async function settled(): Promise<void> {
    const end = Date.now() + 3000;
    for (;;) {
      const c = server.counters();
      if (c.calls === 0 && c.dialogs === 0 && c.mediaSessions === 0 && c.mediaPorts === 0) return;
      if (Date.now() > end) assert.fail(`counters not back to zero: ${JSON.stringify(c)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  interface Established { inviteA: SipRequest; inviteB: SipRequest; okA: SipResponse; okB: SipResponse; dA: UaDialog; dB: UaDialog }

  async function establish(o: { fromHeader?: string; to?: string; sdpA?: string; okHeaders?: Record<string, string>; inviteHeaders?: Record<string, string> } = {}): Promise<Established> {
    const to = o.to ?? 'sip:bob@example.org';
    const inviteA = alice.invite(to, o.sdpA ?? offerSdp(4000), o.inviteHeaders);
    if (o.fromHeader) inviteA.set('from', o.fromHeader);
    alice.send(inviteA);
    await alice.response(100);
    const inviteB = await bob.request('INVITE');
    bob.send(bob.answer(inviteB, 100, 'Trying'), serverPort);
    const tag = tok();
    bob.send(bob.answer(inviteB, 180, 'Ringing', { tag }));
    await alice.response(180);
    const okB = bob.answer(inviteB, 200, 'OK', { tag, sdp: offerSdp(5000), headers: o.okHeaders ?? {} });
    bob.send(okB);
    const okA = await alice.response(200);
    const dA = alice.uacDialog(inviteA, okA);
    alice.send(alice.inDialog(dA, 'ACK'));
    await bob.request('ACK');
    return { inviteA, inviteB, okA, okB, dA, dB: bob.uasDialog(inviteB, okB) };
  }

  it('bridges a call as Flexisip does: new Call-ID and tags, From kept, To/Request-URI = leg A To, our User-Agent; BYE ends both legs once', async () => {
    await setup();
    const c = await establish({ to: 'sip:bob@example.org;user=phone' });
    assert.notEqual(c.inviteB.callId, c.inviteA.callId);
    assert.notEqual(c.inviteB.fromTag, c.inviteA.fromTag);
    assert.equal(c.inviteB.uri, 'sip:bob@example.org;user=phone');
    assert.equal(c.inviteB.to.uri, 'sip:bob@example.org;user=phone');
    assert.equal(c.inviteB.from.uri, alice.uri);
    assert.equal(c.inviteB.from.displayName, 'alice');
    assert.equal(c.inviteB.get('user-agent'), 'TestB2BUA/1.2.3');
    assert.equal(c.okA.get('user-agent'), 'TestB2BUA/1.2.3');
    assert.match(c.inviteB.body, /^m=audio \d+ RTP\/AVP 0 101\r$/m);
    assert.doesNotMatch(c.inviteB.body, /o=ua/); // our SDP, not a copy
    await until(() => server.calls()[0]?.['state'] === 'confirmed', 'call confirmed by the ACK');
    assert.equal(server.counters().dialogs, 2);
    alice.send(alice.inDialog(c.dA, 'BYE'));
    await alice.response(200, 'BYE');
    const bye = await bob.request('BYE');
    assert.equal(bye.callId, c.inviteB.callId);
    bob.send(bob.answer(bye, 200, 'OK'));
    await settled();
    assert.deepEqual(ended.map((e) => e.reason), ['caller-bye']);
    assert.ok(ended[0]!.mediaReport);
    // and a BYE on the dead dialog is refused, not crashing anything
    alice.send(alice.inDialog(c.dA, 'BYE'));
    await alice.response(481, 'BYE');
  });

  it('works over IPv6: SIP on [::1], SDP and media addresses IN IP6 ::1', async () => {
    await setup({}, undefined, '::1');
    const c = await establish({ sdpA: offerSdp(4000).replace(/IN IP4 127\.0\.0\.1/g, 'IN IP6 ::1') });
    assert.match(c.inviteB.get('via')!, /^SIP\/2\.0\/UDP \[::1\]:\d+;/);
    assert.match(c.inviteB.body, /^c=IN IP6 ::1\r$/m);
    assert.match(c.okA.body, /^c=IN IP6 ::1\r$/m);
    alice.send(alice.inDialog(c.dA, 'BYE'));
    await alice.response(200, 'BYE');
    const bye = await bob.request('BYE');
    bob.send(bob.answer(bye, 200, 'OK'));
    await settled();
  });

  it('leg A over TCP: our requests to it reuse its connection (its Contact is unreachable); leg B over UDP', async () => {
    await setup({ transport: 'sip:127.0.0.1:0;transport=tcp', maxCallDuration: 0.5 });
    const tcp = await streamPeer(serverPort, false);
    try {
      const invite = alice.invite('sip:bob@example.org', offerSdp(4000));
      invite.set('via', `SIP/2.0/TCP 127.0.0.1:${tcp.port};branch=z9hG4bK${tok()}`);
      invite.set('contact', '<sip:alice@127.0.0.1:9;transport=tcp>');
      tcp.send(invite.toString());
      const inviteB = await bob.request('INVITE');
      assert.match(inviteB.get('via')!, /^SIP\/2\.0\/UDP /);
      bob.send(bob.answer(inviteB, 200, 'OK', { sdp: offerSdp(5000) }), inviteB.vias[0]!.port);
      const ok = await tcp.expect(/^SIP\/2\.0 200 OK/);
      const toTag = /^To: .*;tag=([^;\r]+)/m.exec(ok)![1]!;
      const ack = new SipRequest('ACK', 'sip:b2bua@127.0.0.1');
      for (const n of ['from', 'call-id', 'max-forwards']) ack.set(n, invite.get(n));
      ack.set('via', `SIP/2.0/TCP 127.0.0.1:${tcp.port};branch=z9hG4bK${tok()}`);
      ack.set('to', `${invite.get('to')};tag=${toTag}`);
      ack.set('cseq', '1 ACK');
      tcp.send(ack.toString());
      await tcp.expect(/^BYE sip:alice@127\.0\.0\.1:9;transport=tcp SIP\/2\.0/, 3000);
      await bob.request('BYE');
    } finally {
      await tcp.close();
    }
  });

  it('keeps the display name with quotes and backslashes correctly escaped', async () => {
    await setup();
    await establish({ fromHeader: `"Al \\"the\\" \\\\ Zoë" <sip:al@127.0.0.1>;tag=${tok()}` });
    const inviteB = bob.log.find((m) => m instanceof SipRequest && m.method === 'INVITE') as SipRequest;
    assert.equal(inviteB.from.displayName, 'Al "the" \\ Zoë');
    assert.match(inviteB.get('from')!, /^"Al \\"the\\" \\\\ Zoë" <sip:al@127\.0\.0\.1>;tag=/);
  });

  it('does not propagate unknown SDP attributes and forces audio-codec on both legs', async () => {
    await setup({ audioCodec: 'PCMA/8000' });
    const sdp = offerSdp(4000).replace('RTP/AVP 0 101', 'RTP/AVP 0 8 101').concat('a=x-secret:42\r\n');
    const c = await establish({ sdpA: sdp });
    assert.doesNotMatch(c.inviteB.body, /x-secret/);
    assert.match(c.inviteB.body, /^m=audio \d+ RTP\/AVP 8 101\r$/m);
  });

  it('forked 2xx: the first 200 wins, the other is ACKed and BYEd, leg A sees one 200', async () => {
    await setup();
    const inviteA = alice.invite('sip:bob@example.org', offerSdp(4000));
    alice.send(inviteA);
    const inviteB = await bob.request('INVITE');
    const first = bob.answer(inviteB, 200, 'OK', { tag: 'fork1', sdp: offerSdp(5000) });
    const second = bob.answer(inviteB, 200, 'OK', { tag: 'fork2', sdp: offerSdp(5002) });
    bob.send(first);
    bob.send(second);
    const acks = [await bob.request('ACK'), await bob.request('ACK')];
    assert.deepEqual(acks.map((a) => a.toTag).sort(), ['fork1', 'fork2']);
    const bye = await bob.request('BYE');
    assert.equal(bye.toTag, 'fork2');
    bob.send(bob.answer(bye, 200, 'OK'));
    await alice.response(200);
    await new Promise((r) => setTimeout(r, 300));
    const okTags = new Set(alice.log.filter((m): m is SipResponse => m instanceof SipResponse && m.status === 200 && m.cseq.method === 'INVITE').map((m) => m.toTag));
    assert.equal(okTags.size, 1);
    assert.equal(server.counters().calls, 1);
  });

  it('CANCEL on leg A cancels leg B; a leg B 200 racing the CANCEL is ACKed then BYEd', async () => {
    await setup();
    const inviteA = alice.invite('sip:bob@example.org', offerSdp(4000));
    alice.send(inviteA);
    const inviteB = await bob.request('INVITE');
    const tag = tok();
    bob.send(bob.answer(inviteB, 180, 'Ringing', { tag }));
    await alice.response(180);
    alice.send(alice.cancel(inviteA));
    await alice.response(200, 'CANCEL');
    await alice.response(487);
    const cancelB = await bob.request('CANCEL');
    assert.equal(cancelB.branch, inviteB.branch);
    bob.send(bob.answer(cancelB, 200, 'OK'));
    bob.send(bob.answer(inviteB, 200, 'OK', { tag, sdp: offerSdp(5000) })); // too late: the race
    await bob.request('ACK');
    const bye = await bob.request('BYE');
    assert.equal(bye.toTag, tag);
    bob.send(bob.answer(bye, 200, 'OK'));
    await settled();
    assert.deepEqual(ended.map((e) => e.reason), ['cancelled']);
  });

  for (const [status, reason] of [[486, 'Busy Here'], [603, 'Decline'], [404, 'Not Found'], [408, 'Request Timeout'], [480, 'Temporarily Unavailable'], [488, 'Not Acceptable Here'], [503, 'Service Unavailable'], [500, 'Oops Custom']] as const) {
    it(`leg B ${status} reaches leg A with its code and reason`, async () => {
      await setup();
      alice.send(alice.invite('sip:bob@example.org', offerSdp(4000)));
      const inviteB = await bob.request('INVITE');
      bob.send(bob.answer(inviteB, status, reason));
      const ack = await bob.request('ACK');
      assert.equal(ack.branch, inviteB.branch);
      const res = await alice.response(status);
      assert.equal(res.reason, reason);
      await settled();
      assert.deepEqual(ended.map((e) => e.reason), [`rejected ${status}`]);
    });
  }

  it('a CallRejection from a hook answers leg A with its status; any other throw gives 500 and the server goes on', async () => {
    let mode: 'reject' | 'throw' = 'reject';
    await setup({}, (h) => h.incomingCall.tapPromise('p', async () => {
      if (mode === 'reject') throw new CallRejection(403, 'Forbidden By Plugin');
      throw new Error('plugin bug');
    }));
    alice.send(alice.invite('sip:bob@example.org', offerSdp(4000)));
    assert.equal((await alice.response(403)).reason, 'Forbidden By Plugin');
    mode = 'throw';
    alice.send(alice.invite('sip:bob@example.org', offerSdp(4000)));
    await alice.response(500);
    await settled();
    assert.deepEqual(ended.map((e) => e.reason), ['rejected 403', 'rejected 500']);
    await bob.none((m) => m instanceof SipRequest, 'request to the callee');
  });

  it('legBTarget decides Request-URI, From, To, proxy and extra headers', async () => {
    await setup({}, (h) => h.legBTarget.tap('p', (t) => ({ ...t, requestUri: 'sip:+331234@trunk.example', to: 'sip:+331234@trunk.example', from: 'sip:account@trunk.example', headers: { 'X-Line': '7' } })));
    const c = await establish();
    assert.equal(c.inviteB.uri, 'sip:+331234@trunk.example');
    assert.equal(c.inviteB.from.uri, 'sip:account@trunk.example');
    assert.equal(c.inviteB.get('x-line'), '7');
  });

  it('leg B challenges with 407: the INVITE is sent again with a correct digest', async () => {
    await setup({}, (h) => h.legBTarget.tap('p', (t) => ({ ...t, credentials: { username: 'acc', password: 'secret' } })));
    alice.send(alice.invite('sip:bob@example.org', offerSdp(4000)));
    const first = await bob.request('INVITE');
    bob.send(bob.answer(first, 407, 'Proxy Authentication Required', { headers: { 'proxy-authenticate': 'Digest realm="trunk", nonce="abc123", qop="auth"' } }));
    await bob.request('ACK');
    const second = await bob.request('INVITE');
    assert.equal(second.callId, first.callId);
    assert.equal(second.cseq.seq, first.cseq.seq + 1);
    const auth = second.get('proxy-authorization')!;
    const p = Object.fromEntries([...auth.matchAll(/(\w+)="?([^",]+)"?/g)].map((m) => [m[1], m[2]]));
    const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
    const expected = md5(`${md5('acc:trunk:secret')}:abc123:${p['nc']}:${p['cnonce']}:auth:${md5(`INVITE:${p['uri']}`)}`);
    assert.equal(p['response'], expected);
    bob.send(bob.answer(second, 200, 'OK', { sdp: offerSdp(5000) }));
    await alice.response(200);
  });

  it('refuses with 488 an encryption the media engine cannot do, before any leg B', async () => {
    await setup();
    const key = Buffer.alloc(30, 1).toString('base64');
    alice.send(alice.invite('sip:bob@example.org', offerSdp(4000, { proto: 'RTP/SAVP', extra: `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${key}` })));
    const res = await alice.response(488);
    assert.match(res.reason, /sdes/);
    await bob.none((m) => m instanceof SipRequest, 'INVITE to the callee');
  });

  it('bad SDP gets 400 and an INVITE whose body is not SDP gets 488, and the server keeps serving', async () => {
    await setup();
    alice.send(alice.invite('sip:bob@example.org', 'v=0\r\ngarbage\r\n'));
    await alice.response(400);
    const notSdp = alice.invite('sip:bob@example.org', undefined, { 'content-type': 'text/plain' });
    notSdp.body = 'hello';
    alice.send(notSdp);
    await alice.response(488);
    await establish();
  });

  it('forks of one INVITE (same Call-ID and From tag, other branch and Request-URI) are two calls, as Flexisip (reject_duplicated_calls=false)', async () => {
    await setup();
    const first = alice.invite('sip:bob@example.org', offerSdp(4000));
    const second = alice.invite('sip:bob-mobile@example.org', offerSdp(4002));
    second.set('call-id', first.callId);
    second.set('from', first.get('from'));
    assert.notEqual(second.branch, first.branch);
    alice.send(first);
    alice.send(second);
    const legsB = [await bob.request('INVITE'), await bob.request('INVITE')];
    assert.deepEqual(legsB.map((i) => i.uri).sort(), ['sip:bob-mobile@example.org', 'sip:bob@example.org']);
    assert.equal(new Set([first.callId, ...legsB.map((i) => i.callId)]).size, 3, 'each fork has its own leg B Call-ID');
    const okB = legsB.map((i) => bob.answer(i, 200, 'OK', { sdp: offerSdp(i.uri.includes('mobile') ? 5002 : 5000) }));
    for (const ok of okB) bob.send(ok);
    const okA = [await alice.response(200), await alice.response(200)];
    assert.notEqual(okA[0]!.toTag, okA[1]!.toTag, 'two dialogs with leg A, told apart by our tag');
    const dialogs = okA.map((ok) => alice.uacDialog(first, ok));
    for (const d of dialogs) alice.send(alice.inDialog(d, 'ACK'));
    await bob.request('ACK');
    await bob.request('ACK');
    for (const d of dialogs) alice.send(alice.inDialog(d, 'BYE', { seq: 2 }));
    for (let i = 0; i < 2; i++) { const bye = await bob.request('BYE'); bob.send(bob.answer(bye, 200, 'OK')); }
    await alice.response(200, 'BYE');
    await alice.response(200, 'BYE');
    await settled();
    assert.deepEqual(ended.map((e) => e.reason), ['caller-bye', 'caller-bye']);
  });

  it('late offer: an INVITE without SDP is bridged; an ACK without the answer ends the call with BYE on both legs', async () => {
    await setup();
    const inviteA = alice.invite('sip:bob@example.org', undefined);
    alice.send(inviteA);
    const inviteB = await bob.request('INVITE');
    assert.match(inviteB.body, /^m=audio \d+ RTP\/AVP 0 8 101/m, 'leg B gets our G.711 offer');
    const okB = bob.answer(inviteB, 200, 'OK', { sdp: offerSdp(5000) });
    bob.send(okB);
    const okA = await alice.response(200);
    assert.match(okA.body, /^m=audio [1-9]\d* RTP\/AVP 0/m, 'the 200 to leg A carries an offer');
    await bob.request('ACK');
    const dA = alice.uacDialog(inviteA, okA);
    alice.send(alice.inDialog(dA, 'ACK'));
    const [byeA, byeB] = await Promise.all([alice.request('BYE', 3000), bob.request('BYE', 3000)]);
    alice.send(alice.answer(byeA, 200, 'OK'));
    bob.send(bob.answer(byeB, 200, 'OK'));
    await settled();
    assert.deepEqual(ended.map((e) => e.reason), ['bad-answer']);
  });

  it('ringing timeout: leg A gets 408, leg B a CANCEL', async () => {
    await setup({ ringingTimeout: 0.4 });
    alice.send(alice.invite('sip:bob@example.org', offerSdp(4000)));
    const inviteB = await bob.request('INVITE');
    bob.send(bob.answer(inviteB, 180, 'Ringing'));
    await alice.response(408, 'INVITE', 3000);
    const cancel = await bob.request('CANCEL');
    bob.send(bob.answer(cancel, 200, 'OK'));
    bob.send(bob.answer(inviteB, 487, 'Request Terminated'));
    await settled();
    assert.deepEqual(ended.map((e) => e.reason), ['ringing-timeout']);
  });

  it('max-call-duration hangs up both legs', async () => {
    await setup({ maxCallDuration: 0.5 });
    await establish();
    const [byeA, byeB] = await Promise.all([alice.request('BYE', 3000), bob.request('BYE', 3000)]);
    alice.send(alice.answer(byeA, 200, 'OK'));
    bob.send(bob.answer(byeB, 200, 'OK'));
    await settled();
    assert.deepEqual(ended.map((e) => e.reason), ['max-call-duration']);
  });

  it('max-calls: the next INVITE gets 486 while the first call goes on', async () => {
    await setup({ maxCalls: 1 });
    await establish();
    alice.send(alice.invite('sip:bob@example.org', offerSdp(4002)));
    await alice.response(486);
    assert.equal(server.counters().calls, 1);
  });

  it('hold is forwarded with its direction and answered when the other side answers; a port change is answered locally', async () => {
    await setup();
    const c = await establish();
    alice.send(alice.inDialog(c.dA, 'INVITE', { sdp: offerSdp(4000, { dir: 'sendonly', version: 2 }) }));
    const reinvite = await bob.request('INVITE');
    assert.match(reinvite.body, /a=sendonly/);
    await alice.none((m) => m instanceof SipResponse && m.status === 200 && m.cseq.method === 'INVITE' && m.cseq.seq === c.dA.cseq, '200 before the callee answered', 150);
    bob.send(bob.answer(reinvite, 200, 'OK', { sdp: offerSdp(5000, { dir: 'recvonly', version: 2 }) }));
    await bob.request('ACK');
    const ok = await alice.response(200);
    assert.match(ok.body, /a=recvonly/);
    alice.send(alice.inDialog(c.dA, 'ACK'));
    // same media, new port: answered here, the callee sees nothing
    alice.send(alice.inDialog(c.dA, 'INVITE', { sdp: offerSdp(4010, { dir: 'sendonly', version: 3 }) }));
    const local = await alice.response(200);
    assert.match(local.body, /a=recvonly/);
    alice.send(alice.inDialog(c.dA, 'ACK'));
    await bob.none((m) => m instanceof SipRequest && m.method === 'INVITE', 'forwarded re-INVITE');
  });

  it('glare: a re-INVITE while one is in progress gets 491', async () => {
    await setup();
    const c = await establish();
    bob.send(bob.inDialog(c.dB, 'INVITE', { sdp: offerSdp(5000, { video: 5002, version: 2 }) }));
    const toAlice = await alice.request('INVITE');
    assert.match(toAlice.body, /^m=video [1-9]\d* /m);
    alice.send(alice.inDialog(c.dA, 'INVITE', { sdp: offerSdp(4000, { dir: 'sendonly', version: 2 }) }));
    await alice.response(491);
    alice.send(alice.answer(toAlice, 200, 'OK', { sdp: offerSdp(4000, { video: 4002, version: 3 }) }));
    await alice.request('ACK');
    const ok = await bob.response(200);
    assert.match(ok.body, /^m=video [1-9]\d* /m);
  });

  it('UPDATE with SDP is forwarded; INFO (dtmf-relay) is relayed with its body', async () => {
    await setup();
    const c = await establish();
    bob.send(bob.inDialog(c.dB, 'UPDATE', { sdp: offerSdp(5000, { dir: 'inactive', version: 2 }) }));
    const update = await alice.request('UPDATE');
    // a pause with a=inactive puts the other leg on hold with a=sendonly, as Flexisip's B2BUA; the pauser gets inactive back
    assert.match(update.body, /a=sendonly/);
    alice.send(alice.answer(update, 200, 'OK', { sdp: offerSdp(4000, { dir: 'recvonly', version: 2 }) }));
    assert.match((await bob.response(200, 'UPDATE')).body, /a=inactive/);
    alice.send(alice.inDialog(c.dA, 'INFO', { body: 'Signal=5\r\nDuration=160\r\n', contentType: 'application/dtmf-relay' }));
    const info = await bob.request('INFO');
    assert.equal(info.get('content-type'), 'application/dtmf-relay');
    assert.equal(info.body, 'Signal=5\r\nDuration=160\r\n');
    bob.send(bob.answer(info, 200, 'OK'));
    await alice.response(200, 'INFO');
  });

  it('offerless re-INVITE: we offer our SDP in the 200, the answer comes in the ACK', async () => {
    await setup();
    const c = await establish();
    bob.send(bob.inDialog(c.dB, 'INVITE'));
    const ok = await bob.response(200);
    assert.match(ok.body, /^m=audio \d+ RTP\/AVP/m);
    bob.send(bob.inDialog(c.dB, 'ACK', { sdp: offerSdp(5000) }));
    await alice.none((m) => m instanceof SipRequest && m.method === 'INVITE', 'forwarded re-INVITE');
  });

  it('session timers: we refresh leg B when it makes us the refresher', async () => {
    await setup({ sessionExpires: 2 });
    const c = await establish({ okHeaders: { 'session-expires': '2;refresher=uac', require: 'timer' } });
    assert.equal(c.inviteB.get('session-expires'), '2');
    const refresh = await bob.request('INVITE', 3000);
    assert.match(refresh.get('session-expires') ?? '', /^2;refresher=uac/);
    bob.send(bob.answer(refresh, 200, 'OK', { sdp: offerSdp(5000), headers: { 'session-expires': '2;refresher=uac' } }));
    await bob.request('ACK');
    await alice.none((m) => m instanceof SipRequest, 'request to the caller', 100);
  });

  it('session timers: leg A that never refreshes is hung up', async () => {
    await setup({ sessionExpires: 2 });
    await establish({ inviteHeaders: { 'session-expires': '2;refresher=uac', supported: 'timer' } });
    const ok = alice.log.find((m) => m instanceof SipResponse && m.status === 200) as SipResponse;
    assert.equal(ok.get('session-expires'), '2;refresher=uac');
    const byeA = await alice.request('BYE', 4000);
    alice.send(alice.answer(byeA, 200, 'OK'));
    const byeB = await bob.request('BYE');
    bob.send(bob.answer(byeB, 200, 'OK'));
    await settled();
    assert.deepEqual(ended.map((e) => e.reason), ['session-expired']);
  });

  it('blind REFER: 202 + NOTIFY 100 to the transferor, REFER to the transferee, NOTIFY 200 when it succeeds', async () => {
    await setup();
    const c = await establish();
    alice.send(alice.inDialog(c.dA, 'REFER', { headers: { 'refer-to': '<sip:carol@example.org>' } }));
    await alice.response(202, 'REFER');
    const n1 = await alice.request('NOTIFY');
    assert.equal(n1.body, 'SIP/2.0 100 Trying\r\n');
    alice.send(alice.answer(n1, 200, 'OK'));
    const refer = await bob.request('REFER');
    assert.equal(refer.get('refer-to'), '<sip:carol@example.org>');
    bob.send(bob.answer(refer, 202, 'Accepted'));
    const notify = bob.inDialog(c.dB, 'NOTIFY', { body: 'SIP/2.0 200 OK\r\n', contentType: 'message/sipfrag;version=2.0', headers: { event: 'refer', 'subscription-state': 'terminated;reason=noresource' } });
    bob.send(notify);
    await bob.response(200, 'NOTIFY');
    const n2 = await alice.request('NOTIFY');
    assert.equal(n2.body, 'SIP/2.0 200 OK\r\n');
    assert.match(n2.get('subscription-state')!, /^terminated/);
  });

  it('attended REFER: Replaces is rewritten to the dialog the target has with us', async () => {
    await setup();
    const c1 = await establish();
    const c2 = await establish();
    // alice refers bob (call 1) to the other party of call 2, replacing her call-2 dialog with us
    const replaces = `${c2.dA.callId};to-tag=${c2.dA.remoteTag};from-tag=${c2.dA.localTag}`;
    alice.send(alice.inDialog(c1.dA, 'REFER', { headers: { 'refer-to': `<sip:bob@example.org?Replaces=${encodeURIComponent(replaces)}>` } }));
    await alice.response(202, 'REFER');
    const refer = await bob.request('REFER');
    const m = /Replaces=([^>]+)>/.exec(refer.get('refer-to')!);
    assert.ok(m, refer.get('refer-to'));
    assert.equal(decodeURIComponent(m[1]!), `${c2.dB.callId};to-tag=${c2.dB.localTag};from-tag=${c2.dB.remoteTag}`);
  });

  it('leg B 422: the INVITE is sent again with its Min-SE', async () => {
    await setup({ sessionExpires: 100 });
    alice.send(alice.invite('sip:bob@example.org', offerSdp(4000)));
    const first = await bob.request('INVITE');
    assert.equal(first.get('session-expires'), '100');
    bob.send(bob.answer(first, 422, 'Session Interval Too Small', { headers: { 'min-se': '600' } }));
    const second = await bob.request('INVITE');
    assert.equal(second.get('session-expires'), '600');
    assert.equal(second.cseq.seq, first.cseq.seq + 1);
    await alice.none((m) => m instanceof SipResponse && m.status === 422, '422 to the caller');
  });

  it('refuses an INVITE requiring an extension we lack (420) and one with Max-Forwards 0 (483)', async () => {
    await setup();
    alice.send(alice.invite('sip:bob@example.org', offerSdp(4000), { require: '100rel' }));
    assert.equal((await alice.response(420)).get('unsupported'), '100rel');
    alice.send(alice.invite('sip:bob@example.org', offerSdp(4000), { 'max-forwards': '0' }));
    await alice.response(483);
    alice.send(alice.invite('sip:bob@example.org', offerSdp(4000), { 'max-forwards': '5' }));
    assert.equal((await bob.request('INVITE')).get('max-forwards'), '4');
  });

  it('Record-Route: our 200 copies it and our in-dialog requests follow the route set', async () => {
    await setup({ maxCallDuration: 0.3 });
    const proxy = `<sip:proxy@127.0.0.1:${alice.port};lr>`;
    const c = await establish({ inviteHeaders: { 'record-route': proxy } });
    assert.equal(c.okA.get('record-route'), proxy);
    const bye = await alice.request('BYE', 3000); // sent to the Record-Route address (alice's port here)
    assert.equal(bye.get('route'), proxy);
    assert.equal(bye.uri, alice.uri);
  });

  it('malformed requests get 400 or are dropped; the server keeps answering', async () => {
    await setup();
    const bad = alice.invite('sip:bob@example.org', offerSdp(4000));
    bad.set('cseq', '1 BYE');
    alice.send(bad);
    assert.match((await alice.response(400, 'BYE')).reason, /CSeq method BYE does not match INVITE/);
    alice.sendRaw(Buffer.from('OPTIONS sip:x SIP/2.0\r\n\r\n'));
    alice.send(alice.options(serverUri));
    await alice.response(200, 'OPTIONS');
  });
});
