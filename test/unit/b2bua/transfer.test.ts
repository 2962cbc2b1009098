/**
 * core/b2bua/transfer.ts with fakes for the call and its dialogs: the transferTarget hook decides the Refer-To the other
 * leg gets; Replaces is rewritten by core after the hook; a failing hook or a value that is not a SIP URI keeps the REFER's own.
 */
import { strict as assert } from 'node:assert';
import { Transfers } from '../../../core/b2bua/transfer.js';
import type { CallInDialog } from '../../../core/b2bua/call-context.js';
import { createHooks } from '../../../core/plugin-api/index.js';
import type { B2buaHooks, IncomingCall, TransferRequest } from '../../../core/plugin-api/index.js';
import { SipRequest, SipResponse } from '../../../core/sip/message.js';
import type { ServerTransaction } from '../../../core/sip/stack.js';
import type { LegId } from '../../../core/vocabulary/index.js';

interface Sent { leg: LegId; req: SipRequest }

const REMOTE = { a: '"Carrier" <sip:+33612@trunk.example.net>', b: '<sip:alice@internal.example.org>' } as const;
const DIALOGS = {
  a: { callId: 'call-a', localTag: 'ta', remoteTag: 'ra' },
  b: { callId: 'call-b', localTag: 'tb', remoteTag: 'rb' },
} as const;

interface FakeDialog { callId: string; localTag: string; remoteTag: string; remoteAddr: string; request(method: string): SipRequest }

function fakeDialog(leg: LegId): FakeDialog {
  return { ...DIALOGS[leg], remoteAddr: REMOTE[leg], request: (method: string) => new SipRequest(method, `sip:${leg}@127.0.0.1`) };
}

function setUp(hooks: B2buaHooks = createHooks(), extra: { other?: Record<LegId, FakeDialog> } = {}) {
  const sent: Sent[] = [];
  const logs: { level: string; fields: Record<string, unknown>; msg: string }[] = [];
  const logger = (level: string) => (fields: Record<string, unknown>, msg: string) => logs.push({ level, fields, msg });
  const incoming = { id: 'c1', legA: { requestUri: 'sip:line1@127.0.0.1:5070', callId: 'call-a' }, data: new Map() } as unknown as IncomingCall;
  const dialogs = { a: fakeDialog('a'), b: fakeDialog('b') };
  const call = {
    log: { info: logger('info'), warn: logger('warn'), error: logger('error'), debug: logger('debug') },
    state: 'confirmed', ended: false, bridge: undefined, sessionTimers: {},
    incoming, target: { requestUri: 'sip:alice@internal.example.org', to: REMOTE.b, from: '', outboundProxy: undefined, headers: {} },
    dialogOf: (leg: LegId) => dialogs[leg],
    sendInDialog: async (leg: LegId, req: SipRequest) => { sent.push({ leg, req }); return new SipResponse(202, 'Accepted'); },
    end: async () => {}, addTimer: () => {},
  } as unknown as CallInDialog;
  // Replaces names our dialog `other.a` (leg A of another call): its leg B dialog is what the target has with us.
  const findByDialog = (callId: string) =>
    extra.other && callId === 'consult-a' ? { call: { dialogOf: (l: LegId) => extra.other![l] }, leg: 'a' as LegId } : undefined;
  const transfers = new Transfers(call, { hooks, contact: () => 'sip:127.0.0.1:5070', findByDialog } as never);
  return { transfers, sent, logs };
}

function refer(referTo: string): { req: SipRequest; tx: ServerTransaction; answers: SipResponse[] } {
  const req = new SipRequest('REFER', 'sip:b2bua@127.0.0.1');
  req.set('refer-to', referTo);
  req.set('referred-by', '<sip:+33612@trunk.example.net>');
  const answers: SipResponse[] = [];
  const tx = { response: (status: number, reason = '') => new SipResponse(status, reason), send: (r: SipResponse) => answers.push(r), final: false };
  return { req, tx: tx as unknown as ServerTransaction, answers };
}

const refersTo = (sent: Sent[]) => sent.filter((s) => s.req.method === 'REFER').map((s) => ({ leg: s.leg, referTo: s.req.get('refer-to'), referredBy: s.req.get('referred-by') }));

describe('core transfers: the transferTarget hook', () => {
  it('no hook: the other leg gets the Refer-To as received, Referred-By copied', async () => {
    const { transfers, sent } = setUp();
    const r = refer('<sip:+33699@trunk.example.net;user=phone>');
    await transfers.onRefer('a', r.req, r.tx);
    assert.equal(r.answers[0]?.status, 202);
    assert.deepEqual(refersTo(sent), [{ leg: 'b', referTo: '<sip:+33699@trunk.example.net;user=phone>', referredBy: '<sip:+33612@trunk.example.net>' }]);
  });

  it('a hook gets the call, the leg, its Request-URI and remote party, the Refer-To and Referred-By; its value is the new Refer-To', async () => {
    const hooks = createHooks();
    const seen: TransferRequest[] = [];
    hooks.transferTarget.tapPromise('t', async (value, request) => {
      seen.push(request);
      assert.deepEqual(value, { uri: 'sip:+33699@trunk.example.net', displayName: 'Target' });
      return { uri: 'sip:bob@internal.example.org', displayName: undefined };
    });
    const { transfers, sent, logs } = setUp(hooks);
    const r = refer('"Target" <sip:+33699@trunk.example.net>');
    await transfers.onRefer('a', r.req, r.tx);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.leg, 'a');
    assert.equal(seen[0]!.call.id, 'c1');
    assert.equal(seen[0]!.legRequestUri, 'sip:line1@127.0.0.1:5070');
    assert.equal(seen[0]!.legRemote.uri, 'sip:+33612@trunk.example.net');
    assert.equal(seen[0]!.referTo.uri, 'sip:+33699@trunk.example.net');
    assert.equal(seen[0]!.referredBy, '<sip:+33612@trunk.example.net>');
    assert.deepEqual(refersTo(sent), [{ leg: 'b', referTo: '<sip:bob@internal.example.org>', referredBy: '<sip:+33612@trunk.example.net>' }]);
    const line = logs.find((l) => l.msg === 'REFER forwarded to the transferee');
    assert.equal(line?.fields['rewrittenTo'], 'sip:bob@internal.example.org');
  });

  it('a REFER on leg B gives the hook leg B\'s Request-URI and To', async () => {
    const hooks = createHooks();
    const seen: TransferRequest[] = [];
    hooks.transferTarget.tapPromise('t', async (value, request) => { seen.push(request); return value; });
    const { transfers, sent } = setUp(hooks);
    const r = refer('<sip:carol@internal.example.org>');
    await transfers.onRefer('b', r.req, r.tx);
    assert.equal(seen[0]!.leg, 'b');
    assert.equal(seen[0]!.legRequestUri, 'sip:alice@internal.example.org');
    assert.equal(seen[0]!.legRemote.uri, 'sip:alice@internal.example.org');
    assert.deepEqual(refersTo(sent).map((s) => [s.leg, s.referTo]), [['a', '<sip:carol@internal.example.org>']]);
  });

  it('attended: Replaces is rewritten after the hook, any Replaces the hook put is dropped', async () => {
    const hooks = createHooks();
    hooks.transferTarget.tapPromise('t', async () => ({ uri: 'sip:bob@internal.example.org?Replaces=forged%3Bto-tag%3Dx%3Bfrom-tag%3Dy', displayName: undefined }));
    const other = { a: { ...fakeDialog('a'), callId: 'consult-a' }, b: { ...fakeDialog('b'), callId: 'consult-b', localTag: 'cl', remoteTag: 'cr' } };
    const { transfers, sent } = setUp(hooks, { other });
    const r = refer('<sip:+33699@trunk.example.net?Replaces=consult-a%3Bto-tag%3Dta%3Bfrom-tag%3Dra>');
    await transfers.onRefer('a', r.req, r.tx);
    assert.equal(r.answers[0]?.status, 202);
    const [out] = refersTo(sent);
    assert.equal(out?.referTo, '<sip:bob@internal.example.org?Replaces=consult-b%3Bto-tag%3Dcr%3Bfrom-tag%3Dcl>');
  });

  it('attended, no hook changing it: the Refer-To is the target as our dialog with it knows it (the transferee can reach that)', async () => {
    const other = {
      a: { ...fakeDialog('a'), callId: 'consult-a' },
      b: { ...fakeDialog('b'), callId: 'consult-b', localTag: 'cl', remoteTag: 'cr', remoteAddr: '"Target" <sip:+33699@trunk.example.net>' },
    };
    const { transfers, sent } = setUp(createHooks(), { other });
    const r = refer('<sip:carol@internal.example.org?Replaces=consult-a%3Bto-tag%3Dta%3Bfrom-tag%3Dra>');
    await transfers.onRefer('a', r.req, r.tx);
    assert.equal(refersTo(sent)[0]?.referTo, '"Target" <sip:+33699@trunk.example.net?Replaces=consult-b%3Bto-tag%3Dcr%3Bfrom-tag%3Dcl>');
  });

  it('attended with Replaces naming no dialog of ours: 403, nothing sent', async () => {
    const { transfers, sent } = setUp();
    const r = refer('<sip:carol@internal.example.org?Replaces=unknown%3Bto-tag%3Dx%3Bfrom-tag%3Dy>');
    await transfers.onRefer('a', r.req, r.tx);
    assert.equal(r.answers[0]?.status, 403);
    assert.equal(sent.length, 0);
  });

  it('a hook that throws or returns something that is not a SIP URI: the REFER goes on with its own Refer-To, logged', async () => {
    for (const tap of [async () => { throw new Error('boom'); }, async () => ({ uri: 'http://evil.example.com/', displayName: undefined })]) {
      const hooks = createHooks();
      hooks.transferTarget.tapPromise('t', tap);
      const { transfers, sent, logs } = setUp(hooks);
      const r = refer('<sip:+33699@trunk.example.net>');
      await transfers.onRefer('a', r.req, r.tx);
      assert.deepEqual(refersTo(sent).map((s) => s.referTo), ['<sip:+33699@trunk.example.net>']);
      assert.ok(logs.some((l) => (l.level === 'error' || l.level === 'warn') && /transferTarget hook/.test(l.msg)), JSON.stringify(logs));
    }
  });

  it('a Refer-To that is not a SIP URI is refused 400 before any hook runs', async () => {
    const hooks = createHooks();
    let ran = false;
    hooks.transferTarget.tapPromise('t', async (v) => { ran = true; return v; });
    const { transfers, sent } = setUp(hooks);
    const r = refer('<http://evil.example.com/>');
    await transfers.onRefer('a', r.req, r.tx);
    assert.equal(r.answers[0]?.status, 400);
    assert.equal(ran, false);
    assert.equal(sent.length, 0);
  });
});
