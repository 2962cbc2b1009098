/**
 * sip-bridge MWI end to end (Flexisip's mwiBridging and mwiB2buaSubscription, sip-bridge-tester.cc), through the daemon
 * with real sipp peers: a fake ITSP with a message-waiting server (scenarios/sip-bridge/uas_mwi_server.xml: digest on
 * REGISTER and SUBSCRIBE, NOTIFY Voice-Message 4/8 (1/2)); (a) an internal subscriber (uac_mwi_subscriber.xml) whose
 * SUBSCRIBE goes out as the account; (b) the pool's mwiServerUri subscribed by the account itself, its NOTIFY forwarded
 * out of dialog to the alias at outgoingNotify.outboundProxy (uas_mwi_notify.xml); hostile input (uac_mwi_hostile.xml);
 * (c) both with one-connection-per-account=true, the ITSP over UDP, then over TCP: a dumpcap capture of the ITSP's port
 * shows every SUBSCRIBE (initial, authenticated, refresh, un-SUBSCRIBE, of both subscriptions) leaving from the
 * account's own socket / connection (the port its REGISTERs come from, not the server's), Contact and Via as its
 * REGISTERs' (UDP: that port; TCP: its own listener, ;transport=tcp), the ITSP's NOTIFYs sent there and answered from
 * it, and the NOTIFYs reaching the subscriber and the alias.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Context } from 'mocha';
import { LIVE_COUNTERS, startB2bua, type B2buaDaemon } from '../../harness/b2bua.js';
import { freePorts } from '../../harness/ports.js';
import { stopAllStarted } from '../../harness/processes.js';
import { createRunDir, tail } from '../../harness/run-dir.js';
import { received, sipMessages, startSipp, waitForListening, type SippRun } from '../../harness/sipp.js';
import { resultWithin } from '../../harness/sipp-grace.js';
import { startCapture, portsFilter } from '../../harness/capture.js';
import { requireTools } from '../../harness/tools.js';
import { readIfExists } from '../../harness/wait.js';
import { ACCOUNT_URI, ITSP_PASSWORD, ITSP_REALM, ITSP_USER, headerOf, sipMessagesOf, waitForRegistration } from './bridge-env.js';

const ALIAS_USER = 'alice';
const ALIAS_DOMAIN = 'company.example.org';
const ALIAS = `sip:${ALIAS_USER}@${ALIAS_DOMAIN}`;
const MWI_SERVER = `sip:mwi@${ITSP_REALM}`;
const SETTLE_MS = 12000;

/** Flexisip's tester providers (Outbound: {from} by alias; Inbound: {to} by uri, with outgoingNotify) for our ITSP. */
function providers(itspPort: number, o: { mwiServerUri?: string; notifyProxyPort?: number; protocol?: 'udp' | 'tcp' }): unknown {
  const protocol = o.protocol ?? 'udp';
  return {
    schemaVersion: 2,
    providers: [
      {
        name: 'Company -> ITSP (Outbound)', triggerCondition: { strategy: 'Always' },
        accountToUse: { strategy: 'FindInPool', source: '{from}', by: 'alias' }, onAccountNotFound: 'nextProvider',
        outgoingInvite: { to: 'sip:{incoming.to.user}@{account.uri.hostport}{incoming.to.uriParameters}', from: '{account.uri}' },
        accountPool: 'itsp',
      },
      {
        name: 'ITSP -> Company (Inbound)', triggerCondition: { strategy: 'Always' },
        accountToUse: { strategy: 'FindInPool', source: '{to}', by: 'uri' }, onAccountNotFound: 'nextProvider',
        outgoingInvite: { to: '{account.alias}', from: 'sip:{incoming.from.user}@{account.alias.hostport}{incoming.from.uriParameters}' },
        ...(o.notifyProxyPort ? { outgoingNotify: { outboundProxy: `<sip:127.0.0.1:${o.notifyProxyPort};transport=udp>` } } : {}),
        accountPool: 'itsp',
      },
    ],
    accountPools: {
      itsp: {
        outboundProxy: `<sip:127.0.0.1:${itspPort};transport=${protocol}>`, registrationRequired: true, maxCallsPerLine: 10,
        loader: [{ uri: ACCOUNT_URI, alias: ALIAS, secretType: 'clrtxt', secret: ITSP_PASSWORD, registrar: `127.0.0.1:${itspPort}`, protocol }],
        ...(o.mwiServerUri ? { mwiServerUri: o.mwiServerUri } : {}),
      },
    },
  };
}

interface MwiEnv {
  readonly runDir: string;
  readonly itsp: SippRun;
  readonly b2bua: B2buaDaemon;
}

interface MwiEnvOptions {
  readonly mwiServer: boolean;
  readonly notifyProxyPort?: number;
  /** [b2bua-server] one-connection-per-account=true. */
  readonly oneConnection?: boolean;
  /** The ITSP's protocol and the account's outbound proxy's (default udp). */
  readonly protocol?: 'udp' | 'tcp';
  readonly runDir?: string;
  /** Runs once the ITSP listens, before the daemon starts (a capture of the ITSP's port). */
  readonly beforeB2bua?: (itsp: SippRun) => Promise<void>;
}

async function startMwiEnv(name: string, itspCalls: number, o: MwiEnvOptions): Promise<MwiEnv> {
  const protocol = o.protocol ?? 'udp';
  const runDir = o.runDir ?? createRunDir(name);
  const [itspPort] = await freePorts(1);
  const itsp = await startSipp({
    name: 'itsp', runDir, scenario: 'sip-bridge/uas_mwi_server.xml', port: itspPort, calls: itspCalls, concurrent: 4,
    keys: { user: ITSP_USER, pass: ITSP_PASSWORD, realm: ITSP_REALM }, maxSeconds: 60, transport: protocol,
    // a later REGISTER of the line reuses its Call-ID (RFC 3261 10.2.4): sipp must not swallow it as a "dead call"
    extraArgs: ['-deadcall_wait', '100'],
  });
  await waitForListening(itsp.port, protocol);
  const providersFile = path.join(runDir, 'providers.json');
  const spec = { protocol, ...(o.mwiServer ? { mwiServerUri: MWI_SERVER } : {}), ...(o.notifyProxyPort ? { notifyProxyPort: o.notifyProxyPort } : {}) };
  fs.writeFileSync(providersFile, JSON.stringify(providers(itsp.port, spec), null, 2));
  await o.beforeB2bua?.(itsp);
  const b2bua = await startB2bua({
    runDir,
    outboundProxy: `sip:127.0.0.1:${itsp.port};transport=${protocol}`,
    settings: { application: 'sip-bridge', ...(o.oneConnection ? { 'one-connection-per-account': true } : {}) },
    extraIni: `[b2bua-server::sip-bridge]\nproviders=${providersFile}`,
    maxSeconds: 60,
  });
  return { runDir, itsp, b2bua };
}

function report(env: MwiEnv | undefined, ...peers: (SippRun | undefined)[]): string {
  if (!env) return '';
  return [
    `run dir: ${env.runDir}`, `--- b2bua log tail (${env.b2bua.logFile}):`, env.b2bua.logTail(30), '--- itsp errors:', tail(env.itsp.files.errors, 10),
    ...peers.filter((p): p is SippRun => p !== undefined).map((p) => `--- ${p.name} errors:\n${tail(p.files.errors, 10)}`),
  ].join('\n');
}

const subscribes = (itsp: SippRun): string[] => received(readIfExists(itsp.files.messages), /^SUBSCRIBE /);

describe('sip-bridge MWI through the daemon (sipp subscriber, ITSP MWI server, internal proxy)', function () {
  this.timeout(60000);
  before(() => requireTools(['sipp', 'ss']));

  describe('(a) an internal user\'s SUBSCRIBE bridged as the account', function () {
    let env: MwiEnv | undefined;
    let subscriber: SippRun | undefined;
    before(async () => {
      // REGISTER, the SUBSCRIBE dialog, un-REGISTER at shutdown
      env = await startMwiEnv('sip-bridge-mwi-bridging', 3, { mwiServer: false });
    });
    afterEach(function (this: Context) {
      if (this.currentTest?.state === 'failed') console.log(report(env, subscriber));
    });
    after(() => stopAllStarted());

    it('SUBSCRIBE → the ITSP as the account (digest answered); its NOTIFY reaches the subscriber with Priority: urgent; refresh and un-SUBSCRIBE reach the ITSP', async () => {
      const { b2bua, itsp, runDir } = env!;
      await waitForRegistration(b2bua, 'registered', 10000);
      subscriber = await startSipp({
        name: 'subscriber', runDir, scenario: 'sip-bridge/uac_mwi_subscriber.xml', remote: b2bua.address,
        keys: { from_user: ALIAS_USER, domain: ALIAS_DOMAIN, to_uri: MWI_SERVER }, maxSeconds: 20,
      });
      const rs = await subscriber.result();
      assert.equal(rs.code, 0, `subscriber (200 Expires 600, NOTIFY Priority urgent with 4/8 (1/2), refresh 200, un-SUBSCRIBE 200, NOTIFY terminated): ${rs.summary}\n${report(env, subscriber)}`);

      const subs = subscribes(itsp);
      assert.equal(subs.length, 4, `initial, authenticated, refresh, un-SUBSCRIBE at the ITSP; got:\n${subs.join('\n---\n')}`);
      const [first, authed, refresh, unsub] = subs as [string, string, string, string];
      assert.ok(!/^Authorization:/im.test(first), 'challenge first');
      assert.match(headerOf(authed, 'Authorization') ?? '', new RegExp(`^Digest .*username="${ITSP_USER}"`));
      for (const m of [first, authed]) {
        assert.match(m, new RegExp(`^SUBSCRIBE ${MWI_SERVER} SIP/2.0`, 'm'), `Request-URI = the subscriber's:\n${m}`);
        assert.match(headerOf(m, 'From') ?? '', new RegExp(`^<${ACCOUNT_URI}>;tag=`), 'From = the account');
        assert.equal(headerOf(m, 'To'), `<${ACCOUNT_URI}>`, 'To = the account (Flexisip: the resource is the account identity)');
        assert.equal(headerOf(m, 'Event'), 'message-summary');
        assert.equal(headerOf(m, 'Expires'), '600');
        assert.equal(headerOf(m, 'Accept'), 'application/simple-message-summary', 'Accept copied from leg A');
        assert.doesNotMatch(m, new RegExp(ALIAS), 'the internal address does not leak to the provider');
      }
      assert.match(headerOf(refresh, 'To') ?? '', /;tag=/, 'the refresh is in the dialog');
      assert.equal(headerOf(refresh, 'Expires'), '600');
      assert.equal(headerOf(unsub, 'Expires'), '0', `un-SUBSCRIBE:\n${unsub}`);

      const notifies = received(rs.messages, /^NOTIFY /);
      assert.equal(notifies.length, 2, 'the MWI NOTIFY and the final one');
      assert.equal(headerOf(notifies[0]!, 'Priority'), 'urgent');
      assert.match(notifies[0]!, /Voice-Message: 4\/8 \(1\/2\)/);
      assert.equal(headerOf(notifies[0]!, 'Content-Type'), 'application/simple-message-summary');
      assert.match(headerOf(notifies[1]!, 'Subscription-State') ?? '', /^terminated/);
      const okFromItsp = sipMessages(readIfExists(itsp.files.messages)).filter((m) => m.direction === 'received' && /^SIP\/2.0 200 /.test(m.text) && /CSeq:\s*\d+ NOTIFY/i.test(m.text));
      assert.equal(okFromItsp.length, 2, 'the B2BUA answered both NOTIFYs of the ITSP with 200');
      await b2bua.waitUntilCounters('subscriptions back to 0', (c) => c.subscriptions === 0, 8000);
    });

    it('hostile input: SUBSCRIBE without Expires / garbage Expires (488), without Event (489), from a user with no account (488); stray NOTIFYs (481); still serving', async () => {
      const { b2bua, itsp, runDir } = env!;
      const before = subscribes(itsp).length;
      const hostile = await startSipp({
        name: 'hostile', runDir, scenario: 'sip-bridge/uac_mwi_hostile.xml', remote: b2bua.address,
        keys: { from_user: ALIAS_USER, domain: ALIAS_DOMAIN, to_uri: MWI_SERVER }, maxSeconds: 20,
      });
      const rh = await hostile.result();
      assert.equal(rh.code, 0, `each answer as expected: ${rh.summary}\n${report(env, hostile)}`);
      assert.equal(subscribes(itsp).length, before, 'none of them reached the ITSP');
      assert.ok(b2bua.process.isRunning(), 'no crash');
      const c = await b2bua.counters();
      assert.equal(c.subscriptions, 0, `nothing kept: ${JSON.stringify(c)}`);
    });

    it('shutdown: nothing left, un-REGISTER reaches the ITSP, every ITSP exchange succeeded', async () => {
      const { b2bua, itsp } = env!;
      await b2bua.waitForCounters(LIVE_COUNTERS, SETTLE_MS);
      await b2bua.stop();
      const ri = await resultWithin(itsp, 5000);
      assert.equal(ri.code, 0, `ITSP (REGISTER, SUBSCRIBE dialog, un-REGISTER, all verified): ${ri.summary}`);
    });
  });

  describe('(b) the pool\'s mwiServerUri: the account subscribes, its NOTIFY is forwarded to the alias', function () {
    let env: MwiEnv | undefined;
    let proxy: SippRun | undefined;
    before(async () => {
      const runDir = createRunDir('sip-bridge-mwi-notify');
      proxy = await startSipp({ name: 'proxy', runDir, scenario: 'sip-bridge/uas_mwi_notify.xml', calls: 1, maxSeconds: 40 });
      await waitForListening(proxy.port, 'udp');
      // REGISTER, the account's SUBSCRIBE dialog (un-SUBSCRIBEd at shutdown), un-REGISTER
      env = await startMwiEnv('sip-bridge-mwi-account', 3, { mwiServer: true, notifyProxyPort: proxy.port });
    });
    afterEach(function (this: Context) {
      if (this.currentTest?.state === 'failed') console.log(report(env, proxy));
    });
    after(() => stopAllStarted());

    it('after REGISTER the account SUBSCRIBEs to mwiServerUri; the NOTIFY goes out of dialog to the alias via outgoingNotify.outboundProxy, Message-Account rewritten', async () => {
      const { b2bua, itsp } = env!;
      await waitForRegistration(b2bua, 'registered', 10000);
      const rp = await proxy!.result();
      assert.equal(rp.code, 0, `the internal proxy received the NOTIFY (Priority urgent, 4/8 (1/2)): ${rp.summary}\n${report(env, proxy)}`);
      const [n] = received(rp.messages, /^NOTIFY /);
      assert.ok(n, 'a NOTIFY reached the proxy');
      assert.match(n, new RegExp(`^NOTIFY ${ALIAS} SIP/2.0`, 'm'), `Request-URI = the alias:\n${n}`);
      assert.equal(headerOf(n, 'To'), `<${ALIAS}>`);
      assert.match(headerOf(n, 'From') ?? '', new RegExp(`^<${ALIAS}>;tag=`));
      assert.equal(headerOf(n, 'Event'), 'message-summary');
      assert.equal(headerOf(n, 'Priority'), 'urgent');
      assert.match(n, new RegExp(`^Message-Account: ${ALIAS}\\r?$`, 'm'), 'Message-Account rewritten to the alias');
      assert.doesNotMatch(n, new RegExp(`Message-Account: ${ACCOUNT_URI}`));

      const subs = subscribes(itsp);
      assert.ok(subs.length >= 2, `SUBSCRIBE and its authenticated retry:\n${subs.join('\n---\n')}`);
      const authed = subs[1]!;
      assert.match(authed, new RegExp(`^SUBSCRIBE ${MWI_SERVER} SIP/2.0`, 'm'), 'Request-URI = mwiServerUri');
      assert.match(headerOf(authed, 'From') ?? '', new RegExp(`^<${ACCOUNT_URI}>;tag=`));
      assert.equal(headerOf(authed, 'To'), `<${ACCOUNT_URI}>`);
      assert.equal(headerOf(authed, 'Expires'), '86400', 'liblinphone\'s mwi_expires');
      assert.equal(headerOf(authed, 'Accept'), 'application/simple-message-summary');
      assert.match(headerOf(authed, 'Authorization') ?? '', new RegExp(`username="${ITSP_USER}"`));
      const forwarded = b2bua.logLines().filter((l) => l['msg'] === 'MWI: NOTIFY forwarded to the alias');
      assert.equal(forwarded.length, 1, JSON.stringify(forwarded));
    });

    it('shutdown: the account un-SUBSCRIBEs (Expires: 0) then un-REGISTERs; every ITSP exchange succeeded', async () => {
      const { b2bua, itsp } = env!;
      // The un-REGISTER reuses the REGISTER's Call-ID: let the ITSP's REGISTER "call" finish its timewait first.
      await new Promise((r) => setTimeout(r, 1500));
      await b2bua.stop();
      const ri = await resultWithin(itsp, 5000);
      const subs = subscribes(itsp);
      assert.equal(headerOf(subs[subs.length - 1] ?? '', 'Expires'), '0', `last SUBSCRIBE:\n${subs[subs.length - 1]}`);
      assert.equal(ri.code, 0, `ITSP (REGISTER, SUBSCRIBE dialog ended by the un-SUBSCRIBE, un-REGISTER): ${ri.summary}`);
    });
  });

  for (const protocol of ['udp', 'tcp'] as const) describe(`(c) one-connection-per-account=true over ${protocol}: both subscriptions through the account's own socket`, function () {
    let env: MwiEnv | undefined;
    let proxy: SippRun | undefined;
    let subscriber: SippRun | undefined;
    let capture: Awaited<ReturnType<typeof startCapture>> | undefined;
    before(async () => {
      const runDir = createRunDir(`sip-bridge-mwi-one-connection-${protocol}`);
      proxy = await startSipp({ name: 'proxy', runDir, scenario: 'sip-bridge/uas_mwi_notify.xml', calls: 1, maxSeconds: 40 });
      await waitForListening(proxy.port, 'udp');
      // REGISTER, the account's SUBSCRIBE dialog (un-SUBSCRIBEd at shutdown), the bridged one, un-REGISTER
      env = await startMwiEnv('', 4, {
        runDir, mwiServer: true, notifyProxyPort: proxy.port, oneConnection: true, protocol,
        beforeB2bua: async (itsp) => { capture = await startCapture(path.join(runDir, 'itsp.pcap'), portsFilter([itsp.port]), 50); },
      });
    });
    afterEach(function (this: Context) {
      if (this.currentTest?.state === 'failed') console.log(report(env, proxy, subscriber));
    });
    after(async () => { await capture?.stop().catch(() => undefined); await stopAllStarted(); });

    it('every SUBSCRIBE of the account (its mwiServerUri subscription and a bridged one: initial, authenticated, refresh, un-SUBSCRIBE) leaves from the port its REGISTERs come from; the NOTIFYs arrive there and reach the alias and the subscriber', async () => {
      const { b2bua, itsp, runDir } = env!;
      await waitForRegistration(b2bua, 'registered', 10000);
      const rp = await proxy!.result();
      assert.equal(rp.code, 0, `the alias's proxy received the account subscription's NOTIFY: ${rp.summary}`);
      subscriber = await startSipp({
        name: 'subscriber', runDir, scenario: 'sip-bridge/uac_mwi_subscriber.xml', remote: b2bua.address,
        keys: { from_user: ALIAS_USER, domain: ALIAS_DOMAIN, to_uri: MWI_SERVER }, maxSeconds: 20,
      });
      const rs = await subscriber.result();
      assert.equal(rs.code, 0, `subscriber (200, NOTIFY urgent 4/8 (1/2), refresh, un-SUBSCRIBE, NOTIFY terminated): ${rs.summary}`);
      await new Promise((r) => setTimeout(r, 1500)); // the ITSP's REGISTER "call" ends its timewait before the un-REGISTER
      await b2bua.stop();
      const ri = await resultWithin(itsp, 5000);
      // The un-REGISTER is the last exchange, a few ms before the ITSP's exit: give the capture time to read it from
      // the kernel before it stops (a CI run once lost it).
      await new Promise((r) => setTimeout(r, 500));
      const packets = await capture!.stop();
      capture = undefined;
      if (protocol === 'udp') assert.equal(ri.code, 0, `ITSP (REGISTER, both SUBSCRIBE dialogs, un-REGISTER): ${ri.summary}`);
      // TCP: sipp counts as failed a "call" still in its closing 500 ms pause when the account's connection closes at
      // shutdown (the last un-SUBSCRIBE or un-REGISTER); every exchange itself is checked below, from the capture.
      else assert.match(ri.summary, /created=4 ok=[34] failed=[01]\b/, `ITSP (REGISTER, both SUBSCRIBE dialogs, un-REGISTER): ${ri.summary}`);

      const sent = sipMessagesOf(packets);
      assert.ok(sent.every((m) => /^(?:[A-Z]+ |SIP\/2\.0 )/.test(m.text)), 'every message starts with a start line (none split across TCP segments)');
      const toItsp = sent.filter((d) => d.dstPort === itsp.port);
      const registers = toItsp.filter((d) => d.text.startsWith('REGISTER '));
      const registerPorts = new Set(registers.map((d) => d.srcPort));
      assert.equal(registerPorts.size, 1, `REGISTERs from one port: ${[...registerPorts].join(' ')}`);
      // UDP: the account's socket; TCP: the account's connection (its Contact and Via name its own listener instead).
      const [accountPort] = [...registerPorts] as [number];
      assert.notEqual(accountPort, b2bua.port, 'the account REGISTERs from a socket of its own');
      const contactOf = (text: string): string | undefined => /<([^>]+)>/.exec(headerOf(text, 'Contact') ?? '')?.[1]?.replace(/^sip:[^@]*@/, '');
      const contact = contactOf(registers[0]!.text) ?? '';
      const m = new RegExp(`^${b2bua.host.replace(/\./g, '\\.')}:(\\d+)${protocol === 'tcp' ? ';transport=tcp' : ''}$`).exec(contact);
      assert.ok(m, `the REGISTER's Contact names our address and the account's port: ${contact}`);
      const contactPort = Number(m[1]);
      if (protocol === 'udp') assert.equal(contactPort, accountPort);
      assert.notEqual(contactPort, b2bua.port);

      const subs = toItsp.filter((d) => d.text.startsWith('SUBSCRIBE '));
      const callIds = new Set(subs.map((d) => headerOf(d.text, 'Call-ID')));
      assert.equal(callIds.size, 2, `two subscriptions (the account's, the bridged one): ${[...callIds].join(' ')}`);
      // account: SUBSCRIBE, authenticated, un-SUBSCRIBE at shutdown; bridged: SUBSCRIBE, authenticated, refresh, un-SUBSCRIBE
      assert.ok(subs.length >= 7, `${subs.length} SUBSCRIBEs:\n${subs.map((d) => d.text).join('\n---\n')}`);
      assert.equal(subs.filter((d) => headerOf(d.text, 'Expires') === '0').length, 2, 'both un-SUBSCRIBEd');
      for (const d of subs) {
        assert.equal(d.srcPort, accountPort, `SUBSCRIBE from the account's port ${accountPort}, not ${d.srcPort} (server: ${b2bua.port}):\n${d.text}`);
        assert.match(headerOf(d.text, 'Via') ?? '', new RegExp(`^SIP/2.0/${protocol.toUpperCase()} [^:]+:${contactPort};`), `Via on the account's port:\n${d.text}`);
        assert.equal(contactOf(d.text), contact, `Contact as the account's REGISTERs:\n${d.text}`);
      }
      const notifies = sent.filter((d) => d.srcPort === itsp.port && d.text.startsWith('NOTIFY '));
      assert.ok(notifies.length >= 3, `the ITSP's NOTIFYs (MWI of both, the bridged one's final): ${notifies.length}`);
      assert.ok(notifies.every((d) => d.dstPort === accountPort), `NOTIFYs to the account's port: ${notifies.map((d) => d.dstPort).join(' ')}`);
      const oks = toItsp.filter((d) => /^SIP\/2\.0 200 /.test(d.text) && /^CSeq:\s*\d+ NOTIFY/im.test(d.text));
      assert.ok(oks.length >= notifies.length - 1 && oks.length > 0 && oks.every((d) => d.srcPort === accountPort), `the NOTIFYs answered 200 from the account's port: ${oks.map((d) => d.srcPort).join(' ')}`);
      const unregister = toItsp.find((d) => d.text.startsWith('REGISTER ') && headerOf(d.text, 'Expires') === '0' && /^Authorization:/im.test(d.text));
      assert.ok(unregister, 'the authenticated un-REGISTER reached the ITSP');
      const answered = sent.some((d) => d.srcPort === itsp.port && d.text.startsWith('SIP/2.0 200 ') && headerOf(d.text, 'CSeq') === headerOf(unregister.text, 'CSeq'));
      assert.ok(answered, 'the un-REGISTER answered 200');
      assert.equal(received(rs.messages, /^NOTIFY /).length, 2, 'the subscriber got the MWI NOTIFY and the final one');
      assert.equal(b2bua.logLines().filter((l) => l['msg'] === 'MWI: NOTIFY forwarded to the alias').length, 1, 'the account subscription\'s NOTIFY forwarded to the alias');
    });
  });
});
