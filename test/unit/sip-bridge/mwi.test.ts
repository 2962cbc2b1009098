/**
 * sip-bridge MWI (plugins/sip-bridge/mwi.ts) with the providers of Flexisip's mwiBridging / mwiB2buaSubscription tests
 * (sip-bridge-tester.cc): the account chosen for a SUBSCRIBE, the NOTIFY forwarded to the alias, the account's own
 * subscription started and stopped from the registration events.
 */
import { strict as assert } from 'node:assert';
import { CallRejection, type IncomingSubscribe, type SubscribeTarget } from '../../../core/plugin-api/index.js';
import { buildPools } from '../../../plugins/sip-bridge/accounts.js';
import type { AccountPool } from '../../../plugins/sip-bridge/accounts.js';
import { compileBridgeConfig } from '../../../plugins/sip-bridge/bridge-config.js';
import { MWI_EXPIRES, Mwi, rewriteMessageSummary, routeNotify, routeSubscribe } from '../../../plugins/sip-bridge/mwi.js';
import { parseProvidersText } from '../../../plugins/sip-bridge/providers-file.js';
import { configOf, FakeSip, ManualTimers, response, settle, silentLog } from './fakes.js';

const ACCOUNT = 'sip:subscriber@jabiru.example.org';
const ALIAS = 'sip:subscriber@flexisip.example.org';
const MWI_SERVER = 'sip:subscribee@jabiru.example.org';
const BODY = 'Messages-Waiting: yes\r\nMessage-Account: sip:subscriber@jabiru.example.org\r\nVoice-Message: 4/8 (1/2)\r\n';

/** Flexisip's tester providers (Outbound {from} by alias, Inbound {to} by uri), with or without outgoingNotify / mwiServerUri. */
function flexisipProviders(o: { notify: boolean; mwiServer: boolean }): unknown {
  return {
    schemaVersion: 2,
    providers: [
      {
        name: 'Flexisip -> Jabiru (Outbound)', triggerCondition: { strategy: 'Always' },
        accountToUse: { strategy: 'FindInPool', source: '{from}', by: 'alias' }, onAccountNotFound: 'nextProvider',
        outgoingInvite: { to: 'sip:{incoming.to.user}@{account.uri.hostport}{incoming.to.uriParameters}', from: '{account.uri}' },
        accountPool: 'FlockOfJabirus',
      },
      {
        name: 'Jabiru -> Flexisip (Inbound)', triggerCondition: { strategy: 'Always' },
        accountToUse: { strategy: 'FindInPool', source: '{to}', by: 'uri' }, onAccountNotFound: 'nextProvider',
        outgoingInvite: { to: '{account.alias}', from: 'sip:{incoming.from.user}@{account.alias.hostport}{incoming.from.uriParameters}', outboundProxy: '<sip:127.0.0.1:5070;transport=tcp>' },
        ...(o.notify ? { outgoingNotify: { outboundProxy: '<sip:127.0.0.1:5070;transport=tcp>' } } : {}),
        accountPool: 'FlockOfJabirus',
      },
    ],
    accountPools: {
      FlockOfJabirus: {
        outboundProxy: '<sip:127.0.0.1:5080;transport=tcp>', registrationRequired: true, maxCallsPerLine: 3125,
        loader: [{ uri: ACCOUNT, alias: ALIAS, secretType: 'clrtxt', secret: 'pw' }],
        ...(o.mwiServer ? { mwiServerUri: MWI_SERVER } : {}),
      },
    },
  };
}

function registered(pools: Map<string, AccountPool>): Map<string, AccountPool> {
  for (const pool of pools.values()) for (const line of pool.lines) line.registration = { state: 'registered' };
  return pools;
}

function incomingSubscribe(from: string, to: string, requestUri = to): IncomingSubscribe {
  return {
    id: 'sub-1', event: 'message-summary', callId: 'c1', requestUri, from: { uri: from, params: { tag: 'a' } }, to: { uri: to, params: {} },
    expires: 3600, header: () => undefined, body: '', source: { address: '127.0.0.1', port: 5090 },
  };
}

describe('sip-bridge MWI', () => {
  it('(a) a SUBSCRIBE from the alias goes out as the account (From = To = account, Request-URI kept, account proxy and credentials)', () => {
    const config = configOf(flexisipProviders({ notify: false, mwiServer: false }));
    const pools = registered(buildPools(config.pools));
    const d = routeSubscribe(config.providers, pools, incomingSubscribe(ALIAS, MWI_SERVER));
    assert.equal(d.kind, 'route');
    assert.equal(d.provider.name, 'Flexisip -> Jabiru (Outbound)');
    assert.deepEqual(d.target, {
      requestUri: MWI_SERVER, from: `<${ACCOUNT}>`, to: `<${ACCOUNT}>`, outboundProxy: 'sip:127.0.0.1:5080;transport=tcp', headers: {},
      credentials: { username: 'subscriber', password: 'pw' },
    });
  });

  it('(a) no account for the subscriber → 488; an unregistered account → 488; a MatchRegex trigger reads the resource (To)', () => {
    const config = configOf(flexisipProviders({ notify: false, mwiServer: false }));
    const pools = buildPools(config.pools);
    const unknown = routeSubscribe(config.providers, registered(buildPools(config.pools)), incomingSubscribe('sip:stranger@flexisip.example.org', MWI_SERVER));
    assert.deepEqual([unknown.kind, unknown.kind === 'reject' && unknown.status], ['reject', 488]);
    const unregistered = routeSubscribe(config.providers, pools, incomingSubscribe(ALIAS, MWI_SERVER));
    assert.equal(unregistered.kind, 'reject');
    assert.match(unregistered.kind === 'reject' ? unregistered.why : '', /not available \(registration none\)/);

    const regex = configOf({
      schemaVersion: 2,
      providers: [{
        name: 'voicemail', triggerCondition: { strategy: 'MatchRegex', pattern: 'sip:voicemail@.*' }, accountToUse: { strategy: 'Random' },
        onAccountNotFound: 'decline', outgoingInvite: { to: '{incoming.to}' }, accountPool: 'p',
      }],
      accountPools: { p: { registrationRequired: false, maxCallsPerLine: 1, loader: [{ uri: 'sip:line@itsp.example.net' }] } },
    });
    const rp = buildPools(regex.pools);
    assert.equal(routeSubscribe(regex.providers, rp, incomingSubscribe(ALIAS, 'sip:voicemail@itsp.example.net', 'sip:other@x')).kind, 'route');
    assert.equal(routeSubscribe(regex.providers, rp, incomingSubscribe(ALIAS, 'sip:other@x', 'sip:voicemail@itsp.example.net')).kind, 'reject');
  });

  it('(a) the subscribeTarget tap: keeps another plugin\'s target, rejects with CallRejection 488', () => {
    const config = configOf(flexisipProviders({ notify: false, mwiServer: false }));
    const mwi = new Mwi({ providers: config.providers, pools: buildPools(config.pools), sip: new FakeSip(), log: silentLog, random: Math.random, timers: new ManualTimers() });
    const theirs = { requestUri: 'sip:x@y' } as SubscribeTarget;
    assert.equal(mwi.subscribeTarget(theirs, incomingSubscribe(ALIAS, MWI_SERVER)), theirs);
    assert.throws(() => mwi.subscribeTarget(undefined, incomingSubscribe(ALIAS, MWI_SERVER)), (e: unknown) => e instanceof CallRejection && e.status === 488);
  });

  it('(b) the NOTIFY for the account goes to its alias through outgoingNotify; none without outgoingNotify', () => {
    const config = configOf(flexisipProviders({ notify: true, mwiServer: true }));
    const pools = buildPools(config.pools);
    const notify = { to: { uri: ACCOUNT }, from: { uri: ACCOUNT }, requestUri: 'sip:b2bua@127.0.0.1:5060' };
    const d = routeNotify(config.providers, pools, notify);
    assert.equal(d.kind, 'send');
    assert.equal(d.provider.name, 'Jabiru -> Flexisip (Inbound)');
    assert.equal(d.alias, ALIAS);
    assert.equal(d.outboundProxy, 'sip:127.0.0.1:5070;transport=tcp');
    const without = configOf(flexisipProviders({ notify: false, mwiServer: true }));
    const none = routeNotify(without.providers, buildPools(without.pools), notify);
    assert.equal(none.kind, 'none');
    assert.match(none.kind === 'none' ? none.why : '', /no outgoingNotify/);
  });

  it('rewrites Message-Account as liblinphone writes the summary again', () => {
    assert.equal(rewriteMessageSummary(BODY, ALIAS), `Messages-Waiting: yes\r\nMessage-Account: ${ALIAS}\r\nVoice-Message: 4/8 (1/2)\r\n`);
    assert.equal(rewriteMessageSummary('Messages-Waiting: no\nFax-Message: 0/1\n\nTo: x\n', ALIAS), `Messages-Waiting: no\r\nMessage-Account: ${ALIAS}\r\nFax-Message: 0/1\r\n`);
  });

  it('(b) registered → SUBSCRIBE message-summary to mwiServerUri as the account; its NOTIFY forwarded; unregistered → terminated', async () => {
    const config = configOf(flexisipProviders({ notify: true, mwiServer: true }));
    const pools = buildPools(config.pools);
    const sip = new FakeSip();
    const timers = new ManualTimers();
    const mwi = new Mwi({ providers: config.providers, pools, sip, log: silentLog, random: Math.random, timers });
    const line = pools.get('FlockOfJabirus')!.get(ACCOUNT)!;
    line.registration = { state: 'registered' };
    mwi.registrationChanged({ plugin: 'sip-bridge', account: ACCOUNT, state: 'registered' });
    mwi.registrationChanged({ plugin: 'sip-bridge', account: ACCOUNT, state: 'registered' });
    assert.equal(sip.subscriptions.length, 1, 'one subscription per account');
    const sub = sip.subscriptions[0]!;
    assert.deepEqual(sub.options, {
      uri: MWI_SERVER, event: 'message-summary', from: `<${ACCOUNT}>`, to: `<${ACCOUNT}>`, expires: MWI_EXPIRES,
      headers: { accept: 'application/simple-message-summary' }, outboundProxy: 'sip:127.0.0.1:5080;transport=tcp', credentials: { username: 'subscriber', password: 'pw' },
    });

    sub.notify({ body: BODY, to: ACCOUNT, from: ACCOUNT });
    await settle();
    assert.equal(sip.sent.length, 1);
    const n = sip.sent[0]!;
    assert.equal(n.method, 'NOTIFY');
    assert.equal(n.uri, ALIAS);
    assert.equal(n.outboundProxy, 'sip:127.0.0.1:5070;transport=tcp');
    assert.equal(n.headers['priority'], 'urgent');
    assert.equal(n.headers['event'], 'message-summary');
    assert.equal(n.headers['to'], `<${ALIAS}>`);
    assert.equal(n.headers['content-type'], 'application/simple-message-summary');
    assert.match(n.body ?? '', new RegExp(`^Message-Account: ${ALIAS}\\r$`, 'm'));

    // the notifier ends it while the account is registered: tried again later
    sub.end('terminated by the notifier (deactivated)');
    assert.equal(sip.subscriptions.length, 1);
    await timers.advance(60_000);
    assert.equal(sip.subscriptions.length, 2, 'subscribed again');

    line.registration = { state: 'unregistered' };
    mwi.registrationChanged({ plugin: 'sip-bridge', account: ACCOUNT, state: 'unregistered' });
    assert.equal(sip.subscriptions[1]!.terminatedByPlugin, true);
    await mwi.stop();
    assert.deepEqual(timers.scheduled, []);
  });

  it('(b) no mwiServerUri → no subscription; a NOTIFY with no provider having outgoingNotify is not forwarded', async () => {
    const config = configOf(flexisipProviders({ notify: false, mwiServer: false }));
    const sip = new FakeSip();
    const mwi = new Mwi({ providers: config.providers, pools: buildPools(config.pools), sip, log: silentLog, random: Math.random, timers: new ManualTimers() });
    mwi.registrationChanged({ plugin: 'sip-bridge', account: ACCOUNT, state: 'registered' });
    assert.equal(sip.subscriptions.length, 0);
    const withServer = configOf(flexisipProviders({ notify: false, mwiServer: true }));
    const pools = buildPools(withServer.pools);
    const mwi2 = new Mwi({ providers: withServer.providers, pools, sip, log: silentLog, random: Math.random, timers: new ManualTimers() });
    mwi2.registrationChanged({ plugin: 'sip-bridge', account: ACCOUNT, state: 'registered' });
    sip.subscriptions[0]!.notify({ body: BODY, to: ACCOUNT, from: ACCOUNT });
    await settle();
    assert.equal(sip.sent.length, 0);
    await mwi2.stop();
    assert.equal(sip.subscriptions[0]!.terminatedByPlugin, true, 'stop() un-SUBSCRIBEs');
  });

  it('(b) an account\'s own mwiServerUri wins over the pool\'s; an unparsable one is refused at start-up', () => {
    const json = flexisipProviders({ notify: true, mwiServer: true }) as { accountPools: { FlockOfJabirus: { loader: Record<string, string>[]; mwiServerUri?: string } } };
    json.accountPools.FlockOfJabirus.loader[0]!['mwiServerUri'] = 'sip:voicemail@jabiru.example.org';
    const config = configOf(json);
    const sip = new FakeSip();
    const pools = buildPools(config.pools);
    const mwi = new Mwi({ providers: config.providers, pools, sip, log: silentLog, random: Math.random, timers: new ManualTimers() });
    mwi.registrationChanged({ plugin: 'sip-bridge', account: ACCOUNT, state: 'registered' });
    assert.equal(sip.subscriptions[0]?.options.uri, 'sip:voicemail@jabiru.example.org');

    json.accountPools.FlockOfJabirus.loader[0]!['mwiServerUri'] = 'not a uri';
    json.accountPools.FlockOfJabirus.mwiServerUri = 'also not';
    const file = parseProvidersText(JSON.stringify(json), '/test.json');
    assert.ok(file.ok);
    const { problems } = compileBridgeConfig(file.value);
    assert.equal(problems.length, 2, problems.join('\n'));
    assert.match(problems.join('\n'), /mwiServerUri: "also not" is neither a SIP URI/);
    assert.match(problems.join('\n'), /loader\[0\]\.mwiServerUri: "not a uri" is not a SIP URI/);
  });

  it('(b) a NOTIFY flood: one forwarded NOTIFY in flight per alias, then only the latest', async () => {
    const config = configOf(flexisipProviders({ notify: true, mwiServer: true }));
    const sip = new FakeSip();
    const answers: (() => void)[] = [];
    sip.answer = () => new Promise((resolve) => answers.push(() => resolve(response(200, 'OK'))));
    const mwi = new Mwi({ providers: config.providers, pools: buildPools(config.pools), sip, log: silentLog, random: Math.random, timers: new ManualTimers() });
    mwi.registrationChanged({ plugin: 'sip-bridge', account: ACCOUNT, state: 'registered' });
    for (let i = 1; i <= 50; i++) sip.subscriptions[0]!.notify({ body: `Messages-Waiting: yes\r\nVoice-Message: ${i}/0\r\n`, to: ACCOUNT, from: ACCOUNT });
    await settle();
    assert.equal(sip.sent.length, 1);
    answers.shift()!();
    await settle();
    assert.equal(sip.sent.length, 2);
    assert.match(sip.sent[1]!.body ?? '', /Voice-Message: 50\/0/, 'the latest summary');
    answers.shift()!();
    await settle();
    assert.equal(sip.sent.length, 2, 'nothing else waiting');
    await mwi.stop();
  });
});
