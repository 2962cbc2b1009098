/**
 * The subscription bridge (core/b2bua/subscriptions.ts) on loopback: a raw UDP subscriber (leg A), the server with a
 * subscribeTarget tap, a raw UDP notifier (leg B). Answers, relays (NOTIFY with Priority), refresh, un-SUBSCRIBE,
 * digest on leg B, hostile input.
 */
import assert from 'node:assert/strict';
import { createB2buaServer, type B2buaServer } from '../../../core/b2bua/index.js';
import { messageSummaryPriority as mwiPriority } from '../../../core/b2bua/subscription-mwi.js';
import { readExpires, readSubscriptionState } from '../../../core/b2bua/subscription-uac.js';
import { Subscriptions } from '../../../core/b2bua/subscriptions.js';
import { SipStack } from '../../../core/sip/stack.js';
import { silentLogger } from '../../../core/log/index.js';
import { createHooks, rejectCall, type B2buaHooks, type IncomingSubscribe, type SubscribeTarget } from '../../../core/plugin-api/index.js';
import { noMedia, testConfig, token, udpPeer, type RawPeer } from './helpers.js';

const MWI_BODY = 'Messages-Waiting: yes\r\nMessage-Account: sip:line1@itsp.example.net\r\nVoice-Message: 4/8 (1/2)\r\n';

function header(msg: string, name: string): string | undefined {
  return new RegExp(`^${name}\\s*:\\s*(.*?)\\r?$`, 'im').exec(msg)?.[1]?.trim();
}

function request(method: string, uri: string, peer: RawPeer, h: Record<string, string>, body = ''): string {
  const lines = [`${method} ${uri} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK${token()};rport`];
  if (!('Max-Forwards' in h)) lines.push('Max-Forwards: 70');
  for (const [k, v] of Object.entries(h)) lines.push(`${k}: ${v}`);
  lines.push(`Content-Length: ${Buffer.byteLength(body)}`, '', body);
  return lines.join('\r\n');
}

/** A response to a received request: Via, From, To (+ tag), Call-ID, CSeq copied. */
function reply(req: string, status: string, extra: Record<string, string> = {}, toTag?: string): string {
  const to = header(req, 'To')!;
  const lines = [`SIP/2.0 ${status}`];
  for (const v of req.split('\r\n').filter((l) => /^Via:/i.test(l))) lines.push(v);
  lines.push(`From: ${header(req, 'From')}`, `To: ${toTag && !/;tag=/.test(to) ? `${to};tag=${toTag}` : to}`, `Call-ID: ${header(req, 'Call-ID')}`, `CSeq: ${header(req, 'CSeq')}`);
  for (const [k, v] of Object.entries(extra)) lines.push(`${k}: ${v}`);
  lines.push('Content-Length: 0', '', '');
  return lines.join('\r\n');
}

describe('b2bua subscriptions: SUBSCRIBE bridged to a notifier', function () {
  this.timeout(15000);
  let server: B2buaServer;
  let hooks: B2buaHooks;
  let serverUri: string;
  let a: RawPeer;
  let b: RawPeer;
  const offered: IncomingSubscribe[] = [];
  let target: ((s: IncomingSubscribe) => SubscribeTarget | undefined) | undefined;

  beforeEach(async () => {
    hooks = createHooks();
    offered.length = 0;
    target = undefined;
    hooks.subscribeTarget.tapPromise('test', async (t, s) => { offered.push(s); return target ? target(s) : t; });
    server = createB2buaServer({ config: testConfig(), hooks, log: silentLogger(), media: noMedia, version: '9.9.9' });
    const { transports } = await server.start();
    serverUri = transports[0]!;
    const port = Number(/:(\d+);/.exec(serverUri)![1]);
    a = await udpPeer(port);
    b = await udpPeer(port);
  });
  afterEach(async () => {
    await a.close();
    await b.close();
    await server.close();
  });

  function subscribe(h: Record<string, string> = {}, body = ''): { callId: string; fromTag: string; text: string } {
    const callId = token();
    const fromTag = token();
    const text = request('SUBSCRIBE', 'sip:mwi@itsp.example.net', a, {
      From: `<sip:alice@company.example.org>;tag=${fromTag}`, To: '<sip:mwi@itsp.example.net>', 'Call-ID': callId, 'CSeq': '1 SUBSCRIBE',
      Contact: `<sip:alice@127.0.0.1:${a.port}>`, Event: 'message-summary', Expires: '600', Accept: 'application/simple-message-summary', ...h,
    }, body);
    a.send(text);
    return { callId, fromTag, text };
  }

  const toB = (): SubscribeTarget => ({
    requestUri: 'sip:mwi@itsp.example.net', from: '<sip:line1@itsp.example.net>', to: '<sip:line1@itsp.example.net>',
    outboundProxy: `sip:127.0.0.1:${b.port};transport=udp`, headers: {},
    credentials: { username: 'line1', password: 'pw1' },
  });

  it('with no plugin taking it, answers 488 as Flexisip\'s default application', async () => {
    subscribe();
    const res = await a.expect(/^SIP\/2\.0 /);
    assert.match(res, /^SIP\/2\.0 488 /);
    assert.equal(offered.length, 1);
    assert.equal(offered[0]!.event, 'message-summary');
    assert.equal(offered[0]!.expires, 600);
    assert.equal(server.counters().subscriptions, 0);
  });

  it('refuses a SUBSCRIBE without Expires or with garbage (488), without Event (489), with a huge body (413); a stray NOTIFY gets 481', async () => {
    target = toB;
    const noExpires = subscribe({ Expires: '' });
    assert.match(await a.expect(new RegExp(`Call-ID: ${noExpires.callId}`)), /^SIP\/2\.0 488 /);
    const garbage = subscribe({ Expires: 'soon' });
    assert.match(await a.expect(new RegExp(`Call-ID: ${garbage.callId}`)), /^SIP\/2\.0 488 /);
    const negative = subscribe({ Expires: '-5' });
    assert.match(await a.expect(new RegExp(`Call-ID: ${negative.callId}`)), /^SIP\/2\.0 488 /);
    const noEvent = subscribe({ Event: '' });
    assert.match(await a.expect(new RegExp(`Call-ID: ${noEvent.callId}`)), /^SIP\/2\.0 489 /);
    const huge = subscribe({ 'Content-Type': 'text/plain' }, 'x'.repeat(20000));
    assert.match(await a.expect(new RegExp(`Call-ID: ${huge.callId}`)), /^SIP\/2\.0 413 /);
    a.send(request('NOTIFY', serverUri, a, {
      From: `<sip:x@127.0.0.1>;tag=${token()}`, To: '<sip:b2bua@127.0.0.1>', 'Call-ID': token(), CSeq: '1 NOTIFY', Event: 'message-summary',
      'Subscription-State': 'active', 'Content-Type': 'application/simple-message-summary',
    }, MWI_BODY));
    assert.match(await a.expect(/CSeq: 1 NOTIFY/), /^SIP\/2\.0 481 /);
    a.send(request('NOTIFY', serverUri, a, {
      From: `<sip:x@127.0.0.1>;tag=${token()}`, To: `<sip:b2bua@127.0.0.1>;tag=${token()}`, 'Call-ID': token(), CSeq: '2 NOTIFY', Event: 'message-summary',
    }));
    assert.match(await a.expect(/CSeq: 2 NOTIFY/), /^SIP\/2\.0 481 /);
    assert.equal(offered.length, 0, 'refused before any plugin is asked');
    assert.equal(b.received.length, 0, 'nothing reached the notifier');
    assert.equal(server.counters().subscriptions, 0);
  });

  it('a plugin\'s rejectCall(403) answers 403', async () => {
    target = () => rejectCall(403, 'Forbidden (no account)');
    subscribe();
    assert.match(await a.expect(/^SIP\/2\.0 /), /^SIP\/2\.0 403 Forbidden \(no account\)/);
  });

  it('bridges: leg B challenged and authenticated, leg A answered with leg B\'s 200, NOTIFY relayed with Priority, refresh and un-SUBSCRIBE relayed', async () => {
    target = toB;
    const sub = subscribe();
    const first = await b.expect(/^SUBSCRIBE /);
    assert.match(first, /^SUBSCRIBE sip:mwi@itsp\.example\.net SIP\/2\.0/, 'Request-URI = leg A\'s');
    assert.match(header(first, 'From')!, /^<sip:line1@itsp\.example\.net>;tag=/);
    assert.equal(header(first, 'To'), '<sip:line1@itsp.example.net>');
    assert.equal(header(first, 'Event'), 'message-summary');
    assert.equal(header(first, 'Expires'), '600');
    assert.equal(header(first, 'Accept'), 'application/simple-message-summary');
    assert.notEqual(header(first, 'Call-ID'), sub.callId, 'leg B is a dialog of its own');
    assert.equal(a.received.length, 0, 'leg A waits for leg B\'s answer');
    b.send(reply(first, '401 Unauthorized', { 'WWW-Authenticate': 'Digest realm="itsp.example.net", nonce="abc", algorithm=MD5, qop="auth"' }, 'n401'));
    const second = await b.expect(/^SUBSCRIBE [\s\S]*Authorization: Digest/);
    assert.match(header(second, 'Authorization')!, /username="line1"/);
    assert.equal(header(second, 'CSeq'), '2 SUBSCRIBE');
    const notifierTag = 'ntag1';
    b.send(reply(second, '200 OK', { Expires: '300', Contact: `<sip:mwi@127.0.0.1:${b.port}>` }, notifierTag));
    const okA = await a.expect(/^SIP\/2\.0 200 /);
    assert.equal(header(okA, 'Expires'), '300', 'leg A gets what leg B granted');
    const tagA = /;tag=([^;\s]+)/.exec(header(okA, 'To')!)![1]!;
    assert.equal(server.counters().subscriptions, 1);

    // NOTIFY from the notifier → answered 200 on leg B, relayed to leg A with Priority: urgent (1 new urgent)
    const callIdB = header(second, 'Call-ID')!;
    const ourTagB = /;tag=([^;\s]+)/.exec(header(second, 'From')!)![1]!;
    const notifyB = (cseq: number, state: string, body = MWI_BODY): void => b.send(request('NOTIFY', 'sip:b2bua@127.0.0.1', b, {
      From: `<sip:line1@itsp.example.net>;tag=${notifierTag}`, To: `<sip:line1@itsp.example.net>;tag=${ourTagB}`, 'Call-ID': callIdB,
      CSeq: `${cseq} NOTIFY`, Contact: `<sip:mwi@127.0.0.1:${b.port}>`, Event: 'message-summary', 'Subscription-State': state,
      ...(body ? { 'Content-Type': 'application/simple-message-summary' } : {}),
    }, body));
    notifyB(1, 'active;expires=300');
    assert.match(await b.expect(/^SIP\/2\.0 200 [\s\S]*CSeq: 1 NOTIFY/), /^SIP\/2\.0 200/);
    const relayed = await a.expect(/^NOTIFY /);
    assert.match(relayed, new RegExp(`^NOTIFY sip:alice@127\\.0\\.0\\.1:${a.port} SIP/2\\.0`), 'sent to the subscriber\'s Contact');
    assert.equal(header(relayed, 'Call-ID'), sub.callId);
    assert.match(header(relayed, 'From')!, new RegExp(`;tag=${tagA}`));
    assert.equal(header(relayed, 'Priority'), 'urgent');
    assert.equal(header(relayed, 'Event'), 'message-summary');
    assert.equal(header(relayed, 'Subscription-State'), 'active;expires=300');
    assert.ok(relayed.endsWith(MWI_BODY), `body relayed unchanged:\n${relayed}`);
    a.send(reply(relayed, '200 OK'));

    // refresh from leg A → in leg B's dialog
    const inDialogA = (cseq: number, expires: string): void => a.send(request('SUBSCRIBE', 'sip:b2bua@127.0.0.1', a, {
      From: `<sip:alice@company.example.org>;tag=${sub.fromTag}`, To: `<sip:mwi@itsp.example.net>;tag=${tagA}`, 'Call-ID': sub.callId,
      CSeq: `${cseq} SUBSCRIBE`, Contact: `<sip:alice@127.0.0.1:${a.port}>`, Event: 'message-summary', Expires: expires,
    }));
    inDialogA(2, '600');
    const refresh = await b.expect(/^SUBSCRIBE [\s\S]*CSeq: 3 SUBSCRIBE/);
    assert.match(refresh, new RegExp(`^SUBSCRIBE sip:mwi@127\\.0\\.0\\.1:${b.port} SIP/2\\.0`), 'to the notifier\'s Contact');
    assert.match(header(refresh, 'To')!, new RegExp(`;tag=${notifierTag}`));
    assert.equal(header(refresh, 'Expires'), '600');
    b.send(reply(refresh, '200 OK', { Expires: '600' }));
    const refreshed = await a.expect(/^SIP\/2\.0 200 [\s\S]*CSeq: 2 SUBSCRIBE/);
    assert.equal(header(refreshed, 'Expires'), '600');

    // un-SUBSCRIBE → Expires: 0 on leg B; leg B's final NOTIFY relayed; everything released
    inDialogA(3, '0');
    const unsub = await b.expect(/^SUBSCRIBE [\s\S]*CSeq: 4 SUBSCRIBE/);
    assert.equal(header(unsub, 'Expires'), '0');
    b.send(reply(unsub, '200 OK', { Expires: '0' }));
    assert.equal(header(await a.expect(/^SIP\/2\.0 200 [\s\S]*CSeq: 3 SUBSCRIBE/), 'Expires'), '0');
    notifyB(2, 'terminated;reason=timeout', 'Messages-Waiting: no\r\nVoice-Message: 0/8 (0/2)\r\n');
    const last = await a.expect(/^NOTIFY [\s\S]*terminated/);
    assert.equal(header(last, 'Priority'), 'non-urgent');
    a.send(reply(last, '200 OK'));
    assert.equal(server.counters().subscriptions, 0, 'released once the notifier terminated it');
    // leg A's dialog is gone: a late refresh gets 481
    inDialogA(4, '600');
    assert.match(await a.expect(/CSeq: 4 SUBSCRIBE/), /^SIP\/2\.0 481 /);
  });

  it('leg B\'s refusal is relayed to leg A (404 → 404; a challenge without credentials → 403)', async () => {
    target = toB;
    subscribe();
    b.send(reply(await b.expect(/^SUBSCRIBE /), '404 Not Found', {}, 'x'));
    assert.match(await a.expect(/^SIP\/2\.0 /), /^SIP\/2\.0 404 /);
    target = () => ({ ...toB(), credentials: undefined });
    subscribe();
    b.send(reply(await b.expect(/^SUBSCRIBE /), '407 Proxy Authentication Required', { 'Proxy-Authenticate': 'Digest realm="x", nonce="n"' }, 'y'));
    const res = await a.expect(/^SIP\/2\.0 /);
    assert.match(res, /^SIP\/2\.0 403 /);
    assert.doesNotMatch(res, /Authenticate/i, 'leg B\'s challenge is not passed on');
    assert.equal(server.counters().subscriptions, 0);
  });

  it('a NOTIFY flood from leg B: one NOTIFY at a time towards leg A, at most 8 waiting, the latest always delivered', async () => {
    target = toB;
    subscribe();
    const s1 = await b.expect(/^SUBSCRIBE /);
    b.send(reply(s1, '200 OK', { Expires: '600', Contact: `<sip:mwi@127.0.0.1:${b.port}>` }, 'fl'));
    await a.expect(/^SIP\/2\.0 200 /);
    const ourTagB = /;tag=([^;\s]+)/.exec(header(s1, 'From')!)![1]!;
    for (let i = 1; i <= 20; i++) {
      b.send(request('NOTIFY', 'sip:b2bua@127.0.0.1', b, {
        From: '<sip:line1@itsp.example.net>;tag=fl', To: `<sip:line1@itsp.example.net>;tag=${ourTagB}`, 'Call-ID': header(s1, 'Call-ID')!,
        CSeq: `${i} NOTIFY`, Contact: `<sip:mwi@127.0.0.1:${b.port}>`, Event: 'message-summary', 'Subscription-State': 'active;expires=600',
        'Content-Type': 'application/simple-message-summary',
      }, `Messages-Waiting: yes\r\nVoice-Message: ${i}/0 (0/0)\r\n`));
    }
    for (let i = 1; i <= 20; i++) await b.expect(new RegExp(`^SIP/2\\.0 200 [\\s\\S]*CSeq: ${i} NOTIFY`));
    await new Promise((r) => setTimeout(r, 200));
    const seen = (): Set<string> => new Set(a.received.filter((m) => m.startsWith('NOTIFY ')).map((m) => header(m, 'CSeq')!));
    assert.equal(seen().size, 1, 'the next NOTIFY waits for leg A\'s answer to the previous one');
    const bodies: string[] = [];
    for (;;) {
      const n = await a.expect(/^NOTIFY /).catch(() => undefined);
      if (!n) break;
      bodies.push(/Voice-Message: (\d+)/.exec(n)![1]!);
      a.send(reply(n, '200 OK'));
    }
    const distinct = [...new Set(bodies)];
    assert.ok(distinct.length <= 9, `at most 1 in flight + 8 waiting reach leg A, got ${distinct.join(',')}`);
    assert.equal(distinct[distinct.length - 1], '20', 'the latest state is delivered');
  });

  it('server shutdown: leg A told terminated;reason=noresource, leg B un-SUBSCRIBEd; new SUBSCRIBEs get 503', async () => {
    target = toB;
    subscribe();
    const s1 = await b.expect(/^SUBSCRIBE /);
    b.send(reply(s1, '200 OK', { Expires: '600', Contact: `<sip:mwi@127.0.0.1:${b.port}>` }, 'sd'));
    await a.expect(/^SIP\/2\.0 200 /);
    server.stopAccepting();
    const late = subscribe();
    assert.match(await a.expect(new RegExp(`Call-ID: ${late.callId}`)), /^SIP\/2\.0 503 /);
    const closing = server.close();
    const n = await a.expect(/^NOTIFY /);
    assert.equal(header(n, 'Subscription-State'), 'terminated;reason=noresource');
    a.send(reply(n, '200 OK'));
    const unsub = await b.expect(/^SUBSCRIBE [\s\S]*Expires: 0/);
    assert.match(header(unsub, 'To')!, /;tag=sd/);
    b.send(reply(unsub, '200 OK'));
    await closing;
    assert.equal(server.counters().subscriptions, 0);
  });

  it('through an account transport (host API 1.7.0): leg B\'s SUBSCRIBE and its un-SUBSCRIBE at drain() (before the plugins\' shutdown hooks close it) leave from it, Via and Contact on its port', async () => {
    const t = await server.sip.openAccountTransport!('udp');
    try {
      target = () => ({ ...toB(), transport: t });
      subscribe();
      const s1 = await b.expect(/^SUBSCRIBE /);
      assert.match(header(s1, 'Via')!, new RegExp(`^SIP/2\\.0/UDP [^:]+:${t.port};`), `Via on the account transport's port ${t.port}:\n${s1}`);
      assert.equal(/<([^>]+)>/.exec(header(s1, 'Contact')!)![1], t.contact, 'Contact = the account transport\'s');
      b.send(reply(s1, '200 OK', { Expires: '600', Contact: `<sip:mwi@127.0.0.1:${b.port}>` }, 'acct'));
      await a.expect(/^SIP\/2\.0 200 /);
      server.stopAccepting();
      const draining = server.drain(2000);
      const n = await a.expect(/^NOTIFY /);
      assert.equal(header(n, 'Subscription-State'), 'terminated;reason=noresource');
      a.send(reply(n, '200 OK'));
      const unsub = await b.expect(/^SUBSCRIBE [\s\S]*Expires: 0/);
      assert.match(header(unsub, 'Via')!, new RegExp(`^SIP/2\\.0/UDP [^:]+:${t.port};`), `un-SUBSCRIBE from the account transport:\n${unsub}`);
      assert.match(header(unsub, 'To')!, /;tag=acct/);
      b.send(reply(unsub, '200 OK'));
      await draining;
      assert.equal(server.counters().subscriptions, 0, 'drain() ended the bridged subscription');
    } finally {
      await t.close();
    }
  });

  it('a refresh flood from leg A: one refresh relayed, the others answered here with the time left', async () => {
    target = toB;
    const sub = subscribe();
    const s1 = await b.expect(/^SUBSCRIBE /);
    b.send(reply(s1, '200 OK', { Expires: '600', Contact: `<sip:mwi@127.0.0.1:${b.port}>` }, 'rf'));
    const okA = await a.expect(/^SIP\/2\.0 200 /);
    const tagA = /;tag=([^;\s]+)/.exec(header(okA, 'To')!)![1]!;
    for (let cseq = 2; cseq <= 11; cseq++) {
      a.send(request('SUBSCRIBE', 'sip:b2bua@127.0.0.1', a, {
        From: `<sip:alice@company.example.org>;tag=${sub.fromTag}`, To: `<sip:mwi@itsp.example.net>;tag=${tagA}`, 'Call-ID': sub.callId,
        CSeq: `${cseq} SUBSCRIBE`, Event: 'message-summary', Expires: '600',
      }));
    }
    const relayed = await b.expect(/^SUBSCRIBE [\s\S]*;tag=rf/);
    for (let cseq = 3; cseq <= 11; cseq++) {
      const local = await a.expect(new RegExp(`^SIP/2\\.0 200 [\\s\\S]*CSeq: ${cseq} SUBSCRIBE`));
      assert.ok(Number(header(local, 'Expires')) > 590, `answered with the time left: ${header(local, 'Expires')}`);
    }
    b.send(reply(relayed, '200 OK', { Expires: '600' }));
    await a.expect(/^SIP\/2\.0 200 [\s\S]*CSeq: 2 SUBSCRIBE/);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(b.received.filter((m) => m.startsWith('SUBSCRIBE ')).length, 2, 'the initial SUBSCRIBE and one refresh reached the notifier');
  });

  it('our own leg B SUBSCRIBE routed back to us is refused 482 (no loop); Max-Forwards: 0 gets 483', async () => {
    target = toB;
    const sub = subscribe();
    const legB = await b.expect(/^SUBSCRIBE /);
    // a proxy that routes it back: the same request, arriving with its own Via
    b.send(legB.replace(/^Via: .*$/m, `Via: SIP/2.0/UDP 127.0.0.1:${b.port};branch=z9hG4bK${token()};rport`));
    const looped = await b.expect(/^SIP\/2\.0 482 /);
    assert.equal(header(looped, 'Call-ID'), header(legB, 'Call-ID'));
    assert.equal(offered.length, 1, 'the plugin was asked once only');
    b.send(reply(legB, '603 Decline', {}, 'z'));
    assert.match(await a.expect(new RegExp(`Call-ID: ${sub.callId}`)), /^SIP\/2\.0 603 /);
    const hops = subscribe({ 'Max-Forwards': '0' });
    assert.match(await a.expect(new RegExp(`Call-ID: ${hops.callId}`)), /^SIP\/2\.0 483 /);
  });

  it('a NOTIFY that arrives before leg B\'s 200 is relayed once leg A is answered; leg A answering 481 ends both', async () => {
    target = toB;
    subscribe();
    const s = await b.expect(/^SUBSCRIBE /);
    const ourTagB = /;tag=([^;\s]+)/.exec(header(s, 'From')!)![1]!;
    b.send(request('NOTIFY', 'sip:b2bua@127.0.0.1', b, {
      From: '<sip:line1@itsp.example.net>;tag=early', To: `<sip:line1@itsp.example.net>;tag=${ourTagB}`, 'Call-ID': header(s, 'Call-ID')!,
      CSeq: '7 NOTIFY', Contact: `<sip:mwi@127.0.0.1:${b.port}>`, Event: 'message-summary', 'Subscription-State': 'active;expires=600',
      'Content-Type': 'application/simple-message-summary',
    }, 'Messages-Waiting: yes\r\nVoice-Message: 2/0 (0/0)\r\n'));
    await b.expect(/^SIP\/2\.0 200 [\s\S]*CSeq: 7 NOTIFY/);
    assert.equal(a.received.length, 0, 'not relayed before leg A is answered');
    b.send(reply(s, '200 OK', { Expires: '600' }, 'early'));
    await a.expect(/^SIP\/2\.0 200 /);
    const n = await a.expect(/^NOTIFY /);
    assert.equal(header(n, 'Priority'), 'non-urgent');
    a.send(reply(n, '481 Call/Transaction Does Not Exist'));
    const unsub = await b.expect(/^SUBSCRIBE [\s\S]*Expires: 0/);
    assert.match(header(unsub, 'To')!, /;tag=early/);
    b.send(reply(unsub, '200 OK'));
    assert.equal(server.counters().subscriptions, 0);
  });
});

describe('b2bua subscriptions: bounds', function () {
  this.timeout(20000);

  it('at most maxSubscriptions alive (503 beyond); each has an expiry timer: not refreshed, leg A is told terminated;reason=timeout and leg B un-SUBSCRIBEd', async () => {
    const stack = new SipStack(silentLogger(), 'Test');
    const transport = await stack.listen('udp', '127.0.0.1', 0);
    const hooks = createHooks();
    const peers: RawPeer[] = [];
    try {
      const notifier = await udpPeer(transport.local.port);
      const a = await udpPeer(transport.local.port);
      peers.push(notifier, a);
      hooks.subscribeTarget.tapPromise('test', async () => ({
        requestUri: 'sip:mwi@x', from: '<sip:line1@x>', to: '<sip:line1@x>', outboundProxy: `sip:127.0.0.1:${notifier.port}`, headers: {},
      }));
      const subs = new Subscriptions({ stack, hooks, log: silentLogger(), contact: () => `sip:b2bua@127.0.0.1:${transport.local.port}`, accepting: () => true, maxSubscriptions: 2 });
      stack.onRequest = (req, tx) => { if (!req.toTag) subs.onSubscribe(req, tx); else if (!subs.inDialog(req, tx)) tx.send(tx.response(481)); };
      const send = (expires: string): string => {
        const callId = token();
        a.send(request('SUBSCRIBE', 'sip:mwi@x', a, {
          From: `<sip:alice@x>;tag=${token()}`, To: '<sip:mwi@x>', 'Call-ID': callId, CSeq: '1 SUBSCRIBE', Contact: `<sip:alice@127.0.0.1:${a.port}>`,
          Event: 'message-summary', Expires: expires,
        }));
        return callId;
      };
      send('1');
      send('1');
      const third = send('1');
      assert.match(await a.expect(new RegExp(`Call-ID: ${third}`)), /^SIP\/2\.0 503 /, 'the third is refused while two are alive');
      assert.equal(subs.counters().subscriptions, 2);
      for (let i = 0; i < 2; i++) notifier.send(reply(await notifier.expect(/^SUBSCRIBE /), '200 OK', { Expires: '1', Contact: `<sip:mwi@127.0.0.1:${notifier.port}>` }, `n${i}`));
      await a.expect(/^SIP\/2\.0 200 /);
      await a.expect(/^SIP\/2\.0 200 /);
      assert.equal(stack.timers.count >= 2, true, 'an expiry timer each');
      // not refreshed: 1 s + grace → NOTIFY terminated;reason=timeout to leg A, un-SUBSCRIBE to leg B
      const n = await a.expect(/^NOTIFY [\s\S]*terminated;reason=timeout/, 5000);
      a.send(reply(n, '200 OK'));
      const unsub = await notifier.expect(/^SUBSCRIBE [\s\S]*Expires: 0/, 5000);
      notifier.send(reply(unsub, '200 OK'));
      a.send(reply(await a.expect(/^NOTIFY [\s\S]*terminated;reason=timeout/, 5000), '200 OK'));
      notifier.send(reply(await notifier.expect(/^SUBSCRIBE [\s\S]*Expires: 0/, 5000), '200 OK'));
      assert.equal(subs.counters().subscriptions, 0);
      // refused by leg B: nothing routed is left behind
      const refused = send('600');
      notifier.send(reply(await notifier.expect(/^SUBSCRIBE /), '404 Not Found', {}, 'nf'));
      assert.match(await a.expect(new RegExp(`Call-ID: ${refused}`)), /^SIP\/2\.0 404 /);
      await new Promise((r) => setTimeout(r, 5200)); // the ended legs stop answering their NOTIFYs after 5 s
      assert.equal(subs.routedDialogs, 0, 'every dialog unrouted');
      await subs.close();
    } finally {
      await Promise.all(peers.map((p) => p.close()));
      await stack.close();
    }
  });
});

describe('b2bua subscriptions: a plugin\'s own subscription (host.sip.subscribe)', function () {
  this.timeout(15000);
  let server: B2buaServer;
  let notifier: RawPeer;
  beforeEach(async () => {
    server = createB2buaServer({ config: testConfig(), hooks: createHooks(), log: silentLogger(), media: noMedia, version: '9.9.9' });
    const { transports } = await server.start();
    notifier = await udpPeer(Number(/:(\d+);/.exec(transports[0]!)![1]));
  });
  afterEach(async () => {
    await notifier.close();
    await server.close();
  });

  it('challenged and authenticated, NOTIFYs handed to the plugin, refreshed before expiry, terminate() un-SUBSCRIBEs', async () => {
    const sub = server.sip.subscribe({
      uri: 'sip:mwi@itsp.example.net', event: 'message-summary', from: '<sip:line1@itsp.example.net>', to: '<sip:line1@itsp.example.net>',
      expires: 86400, headers: { accept: 'application/simple-message-summary' }, outboundProxy: `sip:127.0.0.1:${notifier.port};transport=udp`,
      credentials: { username: 'line1', password: 'pw1' },
    });
    const notifies: string[] = [];
    const ended: string[] = [];
    sub.onNotify((n) => notifies.push(`${n.state} ${n.header('event')} ${n.body}`));
    sub.onTerminated((why) => ended.push(why.reason));
    const first = await notifier.expect(/^SUBSCRIBE /);
    assert.equal(header(first, 'Expires'), '86400');
    assert.equal(header(first, 'Accept'), 'application/simple-message-summary');
    notifier.send(reply(first, '407 Proxy Authentication Required', { 'Proxy-Authenticate': 'Digest realm="itsp.example.net", nonce="n1", algorithm=MD5' }, 'c1'));
    const second = await notifier.expect(/^SUBSCRIBE [\s\S]*Proxy-Authorization: Digest/);
    // grants 4 s: refreshed half-way
    notifier.send(reply(second, '200 OK', { Expires: '4', Contact: `<sip:mwi@127.0.0.1:${notifier.port}>` }, 'srv'));
    const ourTag = /;tag=([^;\s]+)/.exec(header(second, 'From')!)![1]!;
    notifier.send(request('NOTIFY', 'sip:b2bua@127.0.0.1', notifier, {
      From: '<sip:line1@itsp.example.net>;tag=srv', To: `<sip:line1@itsp.example.net>;tag=${ourTag}`, 'Call-ID': header(second, 'Call-ID')!,
      CSeq: '1 NOTIFY', Contact: `<sip:mwi@127.0.0.1:${notifier.port}>`, Event: 'message-summary', 'Subscription-State': 'active;expires=4',
      'Content-Type': 'application/simple-message-summary',
    }, MWI_BODY));
    await notifier.expect(/^SIP\/2\.0 200 [\s\S]*CSeq: 1 NOTIFY/);
    assert.deepEqual(notifies, [`active message-summary ${MWI_BODY}`]);
    assert.equal(sub.state, 'active');
    const refresh = await notifier.expect(/^SUBSCRIBE [\s\S]*;tag=srv/, 4000);
    assert.match(refresh, new RegExp(`^SUBSCRIBE sip:mwi@127\\.0\\.0\\.1:${notifier.port} SIP/2\\.0`));
    notifier.send(reply(refresh, '200 OK', { Expires: '4' }));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(server.counters().subscriptions, 1);
    const done = sub.terminate();
    const unsub = await notifier.expect(/^SUBSCRIBE [\s\S]*Expires: 0/);
    notifier.send(reply(unsub, '200 OK', { Expires: '0' }));
    await done;
    assert.deepEqual(ended, ['terminated by the plugin']);
    assert.equal(sub.state, 'terminated');
    assert.equal(server.counters().subscriptions, 0);
  });

  it('a refusal ends it with the status', async () => {
    const sub = server.sip.subscribe({
      uri: 'sip:mwi@itsp.example.net', event: 'message-summary', from: '<sip:line1@itsp.example.net>', expires: 600,
      outboundProxy: `sip:127.0.0.1:${notifier.port};transport=udp`,
    });
    const ended = new Promise<{ reason: string; status?: number }>((resolve) => sub.onTerminated(resolve));
    const s = await notifier.expect(/^SUBSCRIBE /);
    assert.equal(header(s, 'To'), '<sip:mwi@itsp.example.net>', 'To defaults to the Request-URI');
    notifier.send(reply(s, '489 Bad Event', {}, 'x'));
    const why = await ended;
    assert.equal(why.status, 489);
    assert.equal(server.counters().subscriptions, 0);
  });
});

describe('b2bua subscriptions: header readers', () => {
  it('reads Expires as std::stoi does; Subscription-State; MWI urgency', () => {
    assert.equal(readExpires('3600'), 3600);
    assert.equal(readExpires(' 60abc'), 60);
    assert.equal(readExpires(''), undefined);
    assert.equal(readExpires(undefined), undefined);
    assert.equal(readExpires('abc'), undefined);
    assert.equal(readExpires('99999999999'), undefined);
    assert.deepEqual(readSubscriptionState('Active;expires=30'), { state: 'active', expires: 30, reason: undefined });
    assert.deepEqual(readSubscriptionState('terminated;reason=timeout'), { state: 'terminated', expires: undefined, reason: 'timeout' });
    assert.equal(mwiPriority(MWI_BODY), 'urgent');
    assert.equal(mwiPriority('Messages-Waiting: yes\r\nVoice-Message: 4/8 (0/2)\r\nFax-Message: 1/0 (1/0)\r\n'), 'urgent');
    assert.equal(mwiPriority('Messages-Waiting: yes\r\nVoice-Message: 4/8 (0/2)\r\n'), 'non-urgent');
    assert.equal(mwiPriority('garbage'), 'non-urgent');
  });
});
