import { strict as assert } from 'node:assert';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import plugin, { startSipBridge } from '../../../plugins/sip-bridge/index.js';
import type { CallRoute, SipBridge, SipBridgeOptions } from '../../../plugins/sip-bridge/index.js';
import { CallRejection } from '../../../core/plugin-api/index.js';
import type { LegBTarget, RegistrationEvent } from '../../../core/plugin-api/index.js';
import { FakeSip, ManualTimers, fakeHost, incomingCall, response } from './fakes.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/sip-bridge');

function defaultTarget(to: string, from: string): LegBTarget {
  return { requestUri: to, to, from, outboundProxy: undefined, headers: { 'X-Kept': '1' } };
}

describe('sip-bridge plugin (hooks)', () => {
  let host: ReturnType<typeof fakeHost<SipBridgeOptions>>;
  let bridge: SipBridge;
  let sip: FakeSip;
  let timers: ManualTimers;
  let events: RegistrationEvent[];

  beforeEach(async () => {
    sip = new FakeSip();
    host = fakeHost<SipBridgeOptions>({ providers: 'providers-v2.json' }, FIXTURES, sip);
    timers = new ManualTimers();
    events = [];
    host.hooks.registrationChanged.tap('test', (e) => void events.push(e));
    bridge = await startSipBridge(host, { timers, random: () => 0 });
  });

  afterEach(async () => {
    await host.hooks.shutdown.promise();
  });

  async function registerTrunk(): Promise<void> {
    await host.hooks.ready.promise({ version: 'test', transports: ['udp'] });
    await timers.advance(10);
  }

  it('routes leg B: target from the provider templates, other fields kept, route stored in call.data', async () => {
    await registerTrunk();
    const call = incomingCall('sip:alice@internal.example.org', 'sip:0612@internal.example.org', 'sip:0612@internal.example.org', 'Alice');
    const target = await host.hooks.legBTarget.promise(defaultTarget('sip:0612@internal.example.org', '"Alice" <sip:alice@internal.example.org>'), call);
    assert.deepEqual(target, {
      requestUri: 'sip:0612@trunk.example.net', to: 'sip:0612@trunk.example.net', from: 'sip:line1@trunk.example.net',
      outboundProxy: 'sip:trunk.example.net;transport=udp', headers: { 'X-Kept': '1' },
      credentials: { username: 'line1', password: 'pw1' },
    });
    const route = call.data.get('sip-bridge') as CallRoute;
    assert.equal(route.provider, 'Outbound to trunk');
    assert.equal(route.account, 'sip:line1@trunk.example.net');
    assert.deepEqual(Object.fromEntries(call.decision), { provider: 'Outbound to trunk', account: 'sip:line1@trunk.example.net' }, 'the call detail record\'s decision');
  });

  it('holds the slot for the call\'s life and releases it exactly once on callEnded', async () => {
    const shared = () => bridge.info().providers.find((p) => p.name === 'Shared lines')!.accounts;
    const call = incomingCall('sip:x@y', 'sip:bob@x.org', 'sip:bob@x.org');
    await host.hooks.legBTarget.promise(defaultTarget('sip:bob@x.org', 'sip:x@y'), call);
    assert.deepEqual(shared().map((a) => a.freeSlots), [0, 1, 1]);
    host.hooks.callEnded.call({ call, reason: 'caller-bye', durationMs: 10 });
    host.hooks.callEnded.call({ call, reason: 'caller-bye', durationMs: 10 });
    assert.deepEqual(shared().map((a) => a.freeSlots), [1, 1, 1]);
    // a call that was never routed ends without touching any slot
    host.hooks.callEnded.call({ call: incomingCall('sip:a@b', 'sip:c@d', 'sip:c@d'), reason: 'rejected 488', durationMs: 0 });
    assert.deepEqual(shared().map((a) => a.freeSlots), [1, 1, 1]);
  });

  it('a call that already ended takes no slot if its legBTarget runs late', async () => {
    const call = incomingCall('sip:x@y', 'sip:bob@x.org', 'sip:bob@x.org');
    host.hooks.callEnded.call({ call, reason: 'cancelled', durationMs: 0 });
    await assert.rejects(host.hooks.legBTarget.promise(defaultTarget('sip:bob@x.org', 'sip:x@y'), call), CallRejection);
    assert.deepEqual(bridge.info().providers[2]!.accounts.map((a) => a.freeSlots), [1, 1, 1]);
  });

  it('rejects with CallRejection 488 Not Acceptable Here when no account is available', async () => {
    const calls = [1, 2, 3].map(() => incomingCall('sip:x@y', 'sip:bob@x.org', 'sip:bob@x.org'));
    for (const c of calls) await host.hooks.legBTarget.promise(defaultTarget('sip:bob@x.org', 'sip:x@y'), c);
    const fourth = incomingCall('sip:x@y', 'sip:bob@x.org', 'sip:bob@x.org');
    await assert.rejects(host.hooks.legBTarget.promise(defaultTarget('sip:bob@x.org', 'sip:x@y'), fourth), (e: unknown) => {
      assert.ok(e instanceof CallRejection);
      assert.equal(e.status, 488);
      assert.equal(e.reason, 'Not Acceptable Here');
      return true;
    });
    assert.equal(fourth.data.has('sip-bridge'), false);
  });

  it('an unregistered trunk account is not used: the call falls to the 488 of the busy/unregistered rule', async () => {
    // ready not fired: trunk accounts are not registered; FindInPool finds line1 (alias alice) but it is unavailable
    const call = incomingCall('sip:alice@internal.example.org', 'sip:0612@internal.example.org', 'sip:0612@internal.example.org');
    await assert.rejects(host.hooks.legBTarget.promise(defaultTarget('sip:0612@x', 'sip:alice@x'), call), CallRejection);
  });

  it('an internal error while routing becomes a 488, never another exception', async () => {
    const broken = { ...incomingCall('sip:a@b', 'sip:c@d', 'sip:c@d'), legA: undefined } as never;
    await assert.rejects(host.hooks.legBTarget.promise(defaultTarget('sip:c@d', 'sip:a@b'), broken), (e: unknown) => e instanceof CallRejection && e.status === 488);
  });

  it('forces the provider mediaEncryption and enableAvpf on leg B (sdes gets default suites when leg A had none)', async () => {
    await registerTrunk();
    const call = incomingCall('sip:bob@internal.example.org', 'sip:0612@internal.example.org', 'sip:0612@internal.example.org');
    await host.hooks.legBTarget.promise(defaultTarget('sip:0612@x', 'sip:bob@x'), call);
    assert.deepEqual(await host.hooks.legBMedia.promise({ encryption: 'none', srtpSuites: [] }, call), {
      encryption: 'sdes', srtpSuites: ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'], avpf: true,
    });
    const other = incomingCall('sip:x@y', 'sip:bob@x.org', 'sip:bob@x.org');
    await host.hooks.legBTarget.promise(defaultTarget('sip:bob@x.org', 'sip:x@y'), other);
    assert.deepEqual(await host.hooks.legBMedia.promise({ encryption: 'zrtp', srtpSuites: [] }, other), { encryption: 'zrtp', srtpSuites: [], avpf: false });
    const unrouted = incomingCall('sip:x@y', 'sip:z@x.org', 'sip:z@x.org');
    assert.deepEqual(await host.hooks.legBMedia.promise({ encryption: 'none', srtpSuites: [] }, unrouted), { encryption: 'none', srtpSuites: [] }, 'not routed: unchanged');
  });

  it('registers on ready, emits registrationChanged, un-registers on shutdown', async () => {
    await registerTrunk();
    assert.deepEqual(events.filter((e) => e.account === 'sip:line2@trunk.example.net').map((e) => [e.plugin, e.state]), [
      ['sip-bridge', 'registering'], ['sip-bridge', 'registered'],
    ]);
    sip.sent.length = 0;
    await host.hooks.shutdown.promise();
    assert.deepEqual(sip.sent.map((r) => r.headers.Expires), ['0', '0']);
    assert.ok(events.some((e) => e.state === 'unregistered'));
  });

  it('registers SIP_BRIDGE INFO as an admin command reading this bridge; empty once shut down', async () => {
    const command = host.admin.commands.get('SIP_BRIDGE INFO')!;
    const answer = command() as { providers: { name: string }[] };
    assert.deepEqual(answer.providers.map((p) => p.name), ['Inbound from trunk', 'Outbound to trunk', 'Shared lines']);
    assert.deepEqual(answer, bridge.info());
    await host.hooks.shutdown.promise();
    assert.deepEqual(command(), { providers: [] });
  });

  it('apply(host) registers the command on its own host (no state shared between instances)', async () => {
    const other = fakeHost<SipBridgeOptions>({ providers: 'providers-v1.json' }, FIXTURES);
    await plugin.apply(other);
    assert.deepEqual([...other.admin.commands.keys()], ['SIP_BRIDGE INFO']);
    assert.notDeepEqual(other.admin.commands.get('SIP_BRIDGE INFO')!(), host.admin.commands.get('SIP_BRIDGE INFO')!());
    assert.equal(plugin.adminCommands, undefined, 'no static (module-level) admin commands');
    await other.hooks.shutdown.promise();
  });

  it('info() reports Flexisip\'s SIP_BRIDGE INFO shape', async () => {
    sip.answer = (req) => (req.headers.From!.includes('line2') ? response(401, 'Unauthorized') : response(200, 'OK'));
    await registerTrunk();
    assert.deepEqual(bridge.info(), {
      providers: [
        { name: 'Inbound from trunk', accounts: [
          { address: 'sip:line1@trunk.example.net', status: 'OK', registerEnabled: true, freeSlots: 2 },
          { address: 'sip:line2@trunk.example.net', status: 'Registration failed: Unauthorized' },
        ] },
        { name: 'Outbound to trunk', accounts: [
          { address: 'sip:line1@trunk.example.net', status: 'OK', registerEnabled: true, freeSlots: 2 },
          { address: 'sip:line2@trunk.example.net', status: 'Registration failed: Unauthorized' },
        ] },
        { name: 'Shared lines', accounts: [
          { address: 'sip:shared1@shared.example.net', status: 'OK', registerEnabled: false, freeSlots: 1 },
          { address: 'sip:shared2@shared.example.net', status: 'OK', registerEnabled: false, freeSlots: 1 },
          { address: 'sip:shared3@shared.example.net', status: 'OK', registerEnabled: false, freeSlots: 1 },
        ] },
      ],
    });
  });
});

describe('sip-bridge plugin (contract)', () => {
  it('apply() refuses a configuration with problems', async () => {
    const host = fakeHost<SipBridgeOptions>({ providers: 'providers-sql-bad.json' }, FIXTURES);
    await assert.rejects(Promise.resolve(plugin.apply(host)), /invalid thread pool size \(0\) set in SQL Account loader/);
  });

  it('declares name and host API', () => {
    assert.equal(plugin.name, 'sip-bridge');
    assert.equal(plugin.hostApi, '^1.4.0', 'host.admin needs host API 1.1.0, validate() returning warnings 1.2.0, LegBMedia.avpf 1.3.0, IncomingCall.annotate 1.4.0');
  });
});
