/**
 * sip-bridge trunk calls both ways and transfers through the provider, against the compiled daemon, with the provider
 * pair of Flexisip's call-transfer-tester.cc: "Outbound" (FindInPool by alias, source {from}) and "Inbound" (FindInPool
 * by uri, source {to}, outgoingInvite.to {account.alias}, outboundProxy = the internal side).
 *
 * Peers: a sipp ITSP (scenarios/sip-bridge/uas_itsp_trunk.xml: digest on REGISTER; INVITE challenged 401, or 407 when the
 * Request-URI user starts with 407), sipp callers on the trunk side (the ITSP's calls to our lines' Contact), and sipp
 * UAs on the internal side (at the Inbound provider's outboundProxy). Two lines: line1 (alias sip:alice@internal...)
 * and line2, whose alias is the transfer target's own address sip:bob@127.0.0.1:TARGET.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Context } from 'mocha';
import { startB2bua, LIVE_COUNTERS, type B2buaDaemon } from '../../harness/b2bua.js';
import { standardTones } from '../../harness/call-pair.js';
import type { Tones } from '../../harness/call-scenarios.js';
import { startCapture, portsFilter } from '../../harness/capture.js';
import { describeFlows, packetsTo, summarizeFlows, toneSecondsIn } from '../../harness/flows.js';
import { freePorts } from '../../harness/ports.js';
import { stopAllStarted } from '../../harness/processes.js';
import { createRunDir, tail } from '../../harness/run-dir.js';
import { received, sipMessages, startSipp, waitForListening, type SippResult, type SippRun } from '../../harness/sipp.js';
import { requireTools } from '../../harness/tools.js';
import { StopWaiting, readIfExists, waitUntil } from '../../harness/wait.js';
import { providerPair } from '../../harness/sip-bridge-providers.js';
import { headerOf, registrationChanges, startInboundPeers } from './bridge-env.js';

const USER = 'line1';
const PASSWORD = 'pw1';
const REALM = 'itsp.example.net';
const LINE1 = 'sip:line1@itsp.example.net';
const LINE2 = 'sip:line2@itsp.example.net';
const ALICE = 'sip:alice@internal.example.org';
/** A number calling in from the PSTN through the ITSP. */
const PSTN_CALLER = '+33600000001';
const CALL_SECONDS = 25;
const SETTLE_MS = 12000;

interface TrunkEnv {
  readonly runDir: string;
  readonly tones: Tones;
  readonly itsp: SippRun;
  readonly b2bua: B2buaDaemon;
  /** Where the Inbound provider sends (the internal side's sipp UA). */
  readonly internalPort: number;
  /** The transfer target on the internal side: line2's alias is sip:bob@127.0.0.1:targetPort. */
  readonly targetPort: number;
}

function providers(itspPort: number, internalPort: number, targetPort: number): unknown {
  const line = (user: string, alias: string) => ({
    uri: `sip:${user}@itsp.example.net`, alias, userid: USER, secretType: 'clrtxt', secret: PASSWORD,
    registrar: `127.0.0.1:${itspPort}`, protocol: 'udp',
  });
  return {
    schemaVersion: 2,
    providers: providerPair({ internal: 'Flexisip', external: 'ITSP' }, 'lines', `<sip:127.0.0.1:${internalPort};transport=udp>`),
    accountPools: {
      lines: {
        outboundProxy: `<sip:127.0.0.1:${itspPort};transport=udp>`,
        registrationRequired: true,
        maxCallsPerLine: 4,
        // both lines authenticate as USER (the ITSP's verifyauth knows one user)
        loader: [line('line1', ALICE), line('line2', `sip:bob@127.0.0.1:${targetPort}`)],
      },
    },
  };
}

async function startTrunkEnv(runDir: string): Promise<TrunkEnv> {
  const tones = standardTones(runDir);
  const [itspPort, internalPort, targetPort] = await freePorts(3);
  const [itspMedia] = await freePorts(4);
  const itsp = await startSipp({
    name: 'itsp', runDir, scenario: 'sip-bridge/uas_itsp_trunk.xml', template: { ITSP_USER: USER }, port: itspPort, mediaPort: itspMedia,
    calls: 1000, concurrent: 4, pauseMs: 300,
    keys: { user: USER, pass: PASSWORD, realm: REALM, rtp: `${tones.callee.ulaw},-1,0` },
    maxSeconds: 150,
    extraArgs: ['-deadcall_wait', '100'],
  });
  await waitForListening(itsp.port, 'udp');
  const file = path.join(runDir, 'providers.json');
  fs.writeFileSync(file, JSON.stringify(providers(itsp.port, internalPort!, targetPort!), null, 2));
  const b2bua = await startB2bua({
    runDir,
    outboundProxy: `sip:127.0.0.1:${itsp.port};transport=udp`,
    settings: { application: 'sip-bridge' },
    extraIni: `[b2bua-server::sip-bridge]\nproviders=${file}`,
    maxSeconds: 150,
  });
  return { runDir, tones, itsp, b2bua, internalPort: internalPort!, targetPort: targetPort! };
}

function waitRegistered(b2bua: B2buaDaemon, account: string): Promise<unknown> {
  return waitUntil(`${account} registered in ${b2bua.logFile}`, () => {
    if (!b2bua.process.isRunning()) throw new StopWaiting(`b2bua-server exited:\n${b2bua.logTail(20)}`);
    return registrationChanges(b2bua).find((l) => l.account === account && l.state === 'registered');
  }, 10000, 100);
}

/** The Contact our line REGISTERed at the ITSP: where the ITSP sends the calls to that line. */
function registeredContact(itsp: SippRun, account: string): string {
  const register = received(readIfExists(itsp.files.messages), /^REGISTER /).find((m) => (headerOf(m, 'To') ?? '').includes(account));
  const contact = /<([^>]+)>/.exec(headerOf(register ?? '', 'Contact') ?? '')?.[1];
  assert.ok(contact, `no REGISTER of ${account} with a Contact at the ITSP`);
  return contact;
}

/** RFC 2617 digest with qop=auth, checked here (sipp 3.6 verifyauth reads only Authorization, not Proxy-Authorization). */
function digestIsValid(header: string, method: string, password: string): boolean {
  const p = Object.fromEntries([...header.matchAll(/(\w+)=(?:"([^"]*)"|([^\s,]+))/g)].map((m) => [m[1]!, m[2] ?? m[3]!]));
  const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
  const ha1 = md5(`${p['username']}:${p['realm']}:${password}`);
  const ha2 = md5(`${method}:${p['uri']}`);
  return p['response'] === md5(`${ha1}:${p['nonce']}:${p['nc']}:${p['cnonce']}:${p['qop']}:${ha2}`);
}

const rtpKey = (file: string): string => `${file},-1,0`;
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function report(env: TrunkEnv | undefined, ...results: SippResult[]): string {
  if (!env) return '';
  return [...results.map((r) => r.summary), `run dir: ${env.runDir}`, `--- b2bua log tail (${env.b2bua.logFile}):`, env.b2bua.logTail(30),
    '--- itsp errors:', tail(env.itsp.files.errors, 10)].join('\n');
}

function logged(b2bua: B2buaDaemon, msg: string): Record<string, unknown>[] {
  return b2bua.logLines().filter((l) => l['msg'] === msg);
}

describe('sip-bridge: trunk calls both ways and transfers through the provider', function () {
  this.timeout(60000);
  let env: TrunkEnv | undefined;
  before(async function () {
    requireTools(['sipp', 'dumpcap', 'ss']);
    env = await startTrunkEnv(createRunDir('sip-bridge-trunk'));
    await waitRegistered(env.b2bua, LINE1);
    await waitRegistered(env.b2bua, LINE2);
  });
  afterEach(async function (this: Context) {
    if (this.currentTest?.state === 'failed') console.log(report(env));
    await env?.b2bua.waitForCounters(['calls', 'mediaSessions'], SETTLE_MS).catch(() => undefined);
  });
  after(() => stopAllStarted());

  it('(a) a call from the trunk to a line\'s Contact reaches the line\'s alias (Inbound provider), media both ways', async () => {
    const { b2bua, itsp, tones, runDir, internalPort } = env!;
    const contact = registeredContact(itsp, LINE1);
    assert.equal(contact, `sip:line1@${b2bua.host}:${b2bua.port}`, 'the line registered our listening address with its own user');
    const { callerPort, callerMedia, internalMedia, capture, internal } = await startInboundPeers({ runDir, name: 'alice-a', internalPort, rtp: rtpKey(tones.callee.ulaw), seconds: CALL_SECONDS });
    await waitForListening(internalPort, 'udp');
    const invitesAtItsp = received(readIfExists(itsp.files.messages), /^INVITE /).length;
    const caller = await startSipp({
      name: 'pstn-a', runDir, scenario: 'sip-bridge/uac_trunk.xml', remote: b2bua.address, port: callerPort, mediaPort: callerMedia,
      pauseMs: 4000, maxSeconds: CALL_SECONDS,
      keys: { ruri: contact, from_uri: `sip:${PSTN_CALLER}@itsp.example.net`, to_uri: LINE1, rtp: rtpKey(tones.caller.ulaw) },
    });
    const rc = await caller.result();
    const ri = await internal.result();
    const packets = await capture.stop();
    const info = `flows:\n${describeFlows(summarizeFlows(packets, [440, 880]))}\n${report(env, rc, ri)}`;
    assert.equal(rc.code, 0, `trunk caller: ${info}`);
    assert.equal(ri.code, 0, `internal alias: ${info}`);
    const [leg] = received(ri.messages, /^INVITE /);
    assert.match(leg ?? '', new RegExp(`^INVITE ${escape(ALICE)} SIP/2.0`, 'm'), `Request-URI = {account.alias}:\n${leg}`);
    assert.match(headerOf(leg!, 'To') ?? '', new RegExp(`^<${escape(ALICE)}>$`), `To = {account.alias}:\n${leg}`);
    assert.match(headerOf(leg!, 'From') ?? '', new RegExp(`^<sip:${escape(PSTN_CALLER)}@internal\\.example\\.org>;tag=`), `From = the caller on the alias host:\n${leg}`);
    assert.doesNotMatch(leg!, /^(Proxy-)?Authorization:/im, 'the internal side gets no trunk credentials');
    assert.equal(received(readIfExists(itsp.files.messages), /^INVITE /).length, invitesAtItsp, 'nothing went back to the ITSP');
    const bridged = logged(b2bua, 'call bridged').at(-1);
    assert.equal(bridged?.['provider'], 'ITSP -> Flexisip (Inbound)');
    assert.equal(bridged?.['account'], LINE1);
    const atInternal = toneSecondsIn(packetsTo(packets, internalMedia), 440);
    const atCaller = toneSecondsIn(packetsTo(packets, callerMedia), 880);
    assert.ok(atInternal >= 2, `the alias received ${atInternal} s of the trunk caller's 440 Hz\n${info}`);
    assert.ok(atCaller >= 2, `the trunk caller received ${atCaller} s of the alias's 880 Hz\n${info}`);
  });

  for (const challenge of [401, 407] as const) {
    it(`(${challenge === 401 ? 'b' : 'c'}) an outbound call challenged ${challenge} is answered with the line's credentials; media both ways`, async () => {
      const { b2bua, itsp, tones, runDir } = env!;
      const dialed = `${challenge}0612345678`;
      const [callerPort] = await freePorts(1);
      const [callerMedia] = await freePorts(4);
      const capture = await startCapture(path.join(runDir, `outbound-${challenge}.pcap`),
        portsFilter([callerPort!, callerMedia!, callerMedia! + 1, itsp.port, itsp.mediaPort, itsp.mediaPort + 1]), CALL_SECONDS + 10);
      const caller = await startSipp({
        name: `alice-${challenge}`, runDir, scenario: 'sip-bridge/uac_trunk.xml', remote: b2bua.address, port: callerPort, mediaPort: callerMedia,
        pauseMs: 4000, maxSeconds: CALL_SECONDS,
        keys: { ruri: `sip:${dialed}@internal.example.org`, from_uri: ALICE, to_uri: `sip:${dialed}@internal.example.org`, rtp: rtpKey(tones.caller.ulaw) },
      });
      const rc = await caller.result();
      const packets = await capture.stop();
      const info = `flows:\n${describeFlows(summarizeFlows(packets, [440, 880]))}\n${report(env, rc)}`;
      assert.equal(rc.code, 0, `internal caller: ${info}`);
      const messages = readIfExists(itsp.files.messages);
      const invites = received(messages, new RegExp(`^INVITE sip:${dialed}@`));
      assert.equal(invites.length, 2, `the ITSP challenged the INVITE once and got it back with credentials\n${info}`);
      assert.doesNotMatch(invites[0]!, /^(Proxy-)?Authorization:/im, 'first INVITE without credentials');
      const header = challenge === 401 ? 'Authorization' : 'Proxy-Authorization';
      const other = challenge === 401 ? 'Proxy-Authorization' : 'Authorization';
      const auth = headerOf(invites[1]!, header) ?? '';
      assert.match(auth, new RegExp(`^Digest .*username="${USER}"`), `${header} with the line's user:\n${invites[1]}`);
      assert.match(auth, new RegExp(`realm="${escape(REALM)}"`));
      assert.equal(headerOf(invites[1]!, other), undefined, `no ${other} for a ${challenge}`);
      assert.ok(digestIsValid(auth, 'INVITE', PASSWORD), `the digest response is right for the line's password: ${auth}`);
      assert.match(invites[1]!, new RegExp(`^INVITE sip:${dialed}@itsp\\.example\\.net SIP/2.0`, 'm'), 'To rendered on the account host');
      assert.match(headerOf(invites[1]!, 'From') ?? '', new RegExp(`^<${escape(LINE1)}>;tag=`), 'From = {account.uri}');
      const sentOk = sipMessages(messages).filter((m) => m.direction === 'sent' && /^SIP\/2.0 200 /.test(m.text) && m.text.includes(invites[1]!.match(/^Call-ID:.*$/im)![0]));
      assert.ok(sentOk.some((m) => /CSeq:\s*\d+ INVITE/i.test(m.text)), `the ITSP accepted the credentials (200 to the INVITE)\n${info}`);
      const atItsp = toneSecondsIn(packetsTo(packets, itsp.mediaPort), 440);
      const atCaller = toneSecondsIn(packetsTo(packets, callerMedia!), 880);
      assert.ok(atItsp >= 2, `the ITSP received ${atItsp} s of the caller's 440 Hz\n${info}`);
      assert.ok(atCaller >= 2, `the caller received ${atCaller} s of the ITSP's 880 Hz\n${info}`);
      assert.equal(logged(b2bua, 'call bridged').at(-1)?.['provider'], 'Flexisip -> ITSP (Outbound)');
    });
  }

  it('(d) a REFER from the trunk side to another line\'s number reaches the internal side as that line\'s alias; the transferee calls it there', async () => {
    const { b2bua, itsp, tones, runDir, internalPort, targetPort } = env!;
    const target = await startSipp({
      name: 'bob-d', runDir, scenario: 'uas_answer.xml', port: targetPort, pauseMs: 200, keys: { rtp: rtpKey(tones.callee.ulaw) }, maxSeconds: CALL_SECONDS,
    });
    const bob = `sip:bob@127.0.0.1:${targetPort}`;
    const transferee = await startSipp({
      name: 'alice-d', runDir, scenario: 'sip-bridge/uas_trunk_transferee.xml', port: internalPort, maxSeconds: CALL_SECONDS,
      keys: { rtp: rtpKey(tones.callee.ulaw), b2bua_host: b2bua.host, b2bua_port: b2bua.port },
    });
    await waitForListening(targetPort, 'udp');
    await waitForListening(internalPort, 'udp');
    const transferor = await startSipp({
      name: 'pstn-d', runDir, scenario: 'sip-bridge/uac_trunk_refer.xml', remote: b2bua.address, maxSeconds: CALL_SECONDS,
      keys: { ruri: registeredContact(itsp, LINE1), from_uri: `sip:${PSTN_CALLER}@itsp.example.net`, to_uri: LINE1, rtp: rtpKey(tones.caller.ulaw), refer_to: LINE2 },
    });
    const [r1, r2, r3] = await Promise.all([transferor.result(), transferee.result(), target.result()]);
    const info = report(env, r1, r2, r3);
    assert.equal(r1.code, 0, `transferor (trunk side): ${info}`);
    assert.equal(r2.code, 0, `transferee (internal side): ${info}`);
    assert.equal(r3.code, 0, `transfer target: ${info}`);
    const [refer] = received(r2.messages, /^REFER /);
    assert.equal(headerOf(refer!, 'Refer-To'), `<${bob}>`, `the Refer-To in the internal form (Inbound: {account.alias} of line2):\n${refer}`);
    assert.equal(headerOf(refer!, 'Referred-By'), `<sip:${PSTN_CALLER}@itsp.example.net>`, 'Referred-By copied');
    const [invite] = received(r3.messages, /^INVITE /);
    assert.match(invite ?? '', new RegExp(`^INVITE ${escape(bob)} SIP/2.0`, 'm'), `the transferee's new INVITE went where the Refer-To says:\n${invite}`);
    const notifies = received(r1.messages, /^NOTIFY /).map((n) => n.split(/\r?\n\r?\n/)[1]?.trim());
    assert.deepEqual(notifies, ['SIP/2.0 100 Trying', 'SIP/2.0 200 OK'], 'the transferor heard the progress as sipfrag');
    const rewritten = logged(b2bua, 'transfer: Refer-To rewritten').at(-1);
    assert.deepEqual([rewritten?.['provider'], rewritten?.['account'], rewritten?.['rewrittenTo']], ['ITSP -> Flexisip (Inbound)', LINE2, bob]);
  });

  it('(e) a REFER from the internal side reaches the trunk in the trunk\'s form (Outbound: the number on the line\'s host)', async () => {
    const { b2bua, itsp, tones, runDir, internalPort } = env!;
    const transferor = await startSipp({
      name: 'alice-e', runDir, scenario: 'sip-bridge/uas_trunk_transferor.xml', port: internalPort, maxSeconds: CALL_SECONDS,
      keys: { rtp: rtpKey(tones.callee.ulaw), refer_to: 'sip:0612345678@internal.example.org;user=phone' },
    });
    await waitForListening(internalPort, 'udp');
    const expected = 'sip:0612345678@itsp.example.net;user=phone';
    const transferee = await startSipp({
      name: 'pstn-e', runDir, scenario: 'sip-bridge/uac_trunk_transferee.xml', remote: b2bua.address, maxSeconds: CALL_SECONDS,
      keys: { ruri: registeredContact(itsp, LINE1), from_uri: `sip:${PSTN_CALLER}@itsp.example.net`, to_uri: LINE1, rtp: rtpKey(tones.caller.ulaw) },
    });
    const [r1, r2] = await Promise.all([transferor.result(), transferee.result()]);
    const info = report(env, r1, r2);
    assert.equal(r1.code, 0, `transferor (internal side): ${info}`);
    assert.equal(r2.code, 0, `transferee (trunk side): ${info}`);
    const [refer] = received(r2.messages, /^REFER /);
    assert.equal(headerOf(refer!, 'Refer-To'), `<${expected}>`, `Refer-To in the trunk's form:\n${refer}`);
    assert.equal(headerOf(refer!, 'Referred-By'), `<${ALICE}>`, 'Referred-By copied');
    const notifies = received(r1.messages, /^NOTIFY /).map((n) => n.split(/\r?\n\r?\n/)[1]?.trim());
    assert.deepEqual(notifies, ['SIP/2.0 100 Trying', 'SIP/2.0 200 OK'], 'the transferor heard the progress as sipfrag');
    const rewritten = logged(b2bua, 'transfer: Refer-To rewritten').at(-1);
    assert.deepEqual([rewritten?.['provider'], rewritten?.['account'], rewritten?.['leg']], ['Flexisip -> ITSP (Outbound)', LINE1, 'b']);
  });

  it('(f) hostile: a Refer-To naming a third-party host nobody configured is passed on untouched and we send it nothing', async () => {
    const { b2bua, itsp, tones, runDir, internalPort } = env!;
    const [evilPort] = await freePorts(1);
    const evil = `sip:evil@127.0.0.1:${evilPort}`;
    const capture = await startCapture(path.join(runDir, 'evil.pcap'), portsFilter([evilPort!]), CALL_SECONDS + 10);
    const internal = await startSipp({
      name: 'alice-f', runDir, scenario: 'uas_refer.xml', port: internalPort, maxSeconds: CALL_SECONDS,
      keys: { rtp: rtpKey(tones.callee.ulaw), refer_user: escape(evil) },
    });
    await waitForListening(internalPort, 'udp');
    const transferor = await startSipp({
      name: 'pstn-f', runDir, scenario: 'sip-bridge/uac_trunk_refer.xml', remote: b2bua.address, maxSeconds: CALL_SECONDS,
      keys: { ruri: registeredContact(itsp, LINE1), from_uri: `sip:${PSTN_CALLER}@itsp.example.net`, to_uri: LINE1, rtp: rtpKey(tones.caller.ulaw), refer_to: evil },
    });
    const [r1, r2] = await Promise.all([transferor.result(), internal.result()]);
    const packets = await capture.stop();
    const info = report(env, r1, r2);
    assert.equal(r1.code, 0, `transferor: ${info}`);
    assert.equal(r2.code, 0, `transferee: ${info}`);
    assert.equal(headerOf(received(r2.messages, /^REFER /)[0] ?? '', 'Refer-To'), `<${evil}>`, 'no provider knows it: the Refer-To is passed on as it is');
    assert.equal(packets.length, 0, `we never contact the Refer-To ourselves: ${packets.length} packets to ${evil}`);
    const kept = logged(b2bua, 'transfer: Refer-To left as it is').at(-1);
    assert.equal(kept?.['referTo'], evil);
  });

  it('shutdown: nothing left; every INVITE the ITSP saw with credentials was accepted (no 403)', async () => {
    const { b2bua, itsp } = env!;
    await b2bua.waitForCounters(LIVE_COUNTERS, SETTLE_MS);
    await b2bua.stop();
    const sent = sipMessages(readIfExists(itsp.files.messages)).filter((m) => m.direction === 'sent');
    assert.equal(sent.filter((m) => /^SIP\/2.0 403 /.test(m.text)).length, 0, 'the ITSP refused no credentials');
  });
});
