/**
 * sip-bridge end to end: a sipp caller -> b2bua-server (application=sip-bridge) -> a sipp fake ITSP that challenges
 * REGISTER and INVITE with digest (401) and checks the credentials (verifyauth).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import type { Context } from 'mocha';
import { createRunDir, tail } from '../../harness/run-dir.js';
import { startSipp, received, sipMessages, type SippRun } from '../../harness/sipp.js';
import { startCapture, portsFilter } from '../../harness/capture.js';
import { describeFlows, packetsTo, summarizeFlows, toneSecondsIn } from '../../harness/flows.js';
import { freePorts } from '../../harness/ports.js';
import { stopAllStarted } from '../../harness/processes.js';
import { requireTools } from '../../harness/tools.js';
import { resultWithin } from '../../harness/sipp-grace.js';
import { readIfExists } from '../../harness/wait.js';
import { LIVE_COUNTERS } from '../../harness/b2bua.js';
import {
  ACCOUNT_URI, ITSP_PASSWORD, ITSP_REALM, ITSP_USER, headerOf, registrationChanges, startBridgeEnv, waitForRegistration, type BridgeEnv,
} from './bridge-env.js';

/** A number the provider's MatchRegex (sip:\+?[0-9]+@.*) routes to the ITSP. */
const DIALED = '+33123456789';
const CALL_SECONDS = 20;
/** Calls must release everything; completed UDP transactions linger a few seconds after a call. */
const SETTLE_MS = 12000;

const rtpKey = (file: string): string => `${file},-1,0`;

function readMessages(itsp: SippRun): string {
  return readIfExists(itsp.files.messages);
}

function reportOn(env: BridgeEnv | undefined): string {
  if (!env) return '';
  return [`run dir: ${env.runDir}`, `--- b2bua log tail (${env.b2bua.logFile}):`, env.b2bua.logTail(30), '--- itsp errors:', tail(env.itsp.files.errors, 10)].join('\n');
}

describe('sip-bridge: calls through a fake ITSP with digest authentication', function () {
  this.timeout(45000);
  before(() => requireTools(['sipp', 'dumpcap', 'ss']));

  describe('account with the right password', function () {
    let env: BridgeEnv | undefined;
    before(async () => {
      env = await startBridgeEnv({
        runDir: createRunDir('sip-bridge-itsp'),
        accountSecret: ITSP_PASSWORD,
        // REGISTER, call (b), first call of (c), un-REGISTER at shutdown: the second call of (c) never reaches the ITSP
        itspCalls: 4,
        maxSeconds: 80,
      });
    });
    afterEach(function (this: Context) {
      if (this.currentTest?.state === 'failed') console.log(reportOn(env));
    });
    after(() => stopAllStarted());

    it('(a) the account REGISTERs with digest credentials; the ITSP answers 200 and the plugin logs it registered', async () => {
      const { b2bua, itsp } = env!;
      await waitForRegistration(b2bua, 'registered', 10000);
      const registers = received(readMessages(itsp), /^REGISTER /);
      assert.ok(registers.length >= 2, `the ITSP should have received a REGISTER and its authenticated retry, got ${registers.length}\n${reportOn(env)}`);
      assert.ok(!/^Authorization:/im.test(registers[0]!), 'the first REGISTER has no credentials yet (challenge first)');
      const auth = headerOf(registers[1]!, 'Authorization') ?? '';
      assert.match(auth, /^Digest /, `authenticated REGISTER: ${registers[1]}`);
      assert.match(auth, new RegExp(`username="${ITSP_USER}"`));
      assert.match(auth, new RegExp(`realm="${ITSP_REALM}"`));
      assert.match(auth, /qop=("?)auth\1/, 'the challenge asked qop=auth');
      assert.match(headerOf(registers[1]!, 'To') ?? '', new RegExp(`<${ACCOUNT_URI}>`));
      // Flexisip's forms (providers-itsp.template.json): the pool's "<sip:127.0.0.1:PORT;transport=udp>" outbound proxy
      // carried it; the account's "registrar": "127.0.0.1:PORT" with "protocol": "udp" is its Request-URI (account.hh:194-202)
      assert.match(registers[1]!, new RegExp(`^REGISTER sip:127\\.0\\.0\\.1:${itsp.port} SIP/2.0`, 'm'), 'registrar host:port with the account protocol');
      const sentOk = sipMessages(readMessages(itsp)).filter((m) => m.direction === 'sent' && /^SIP\/2.0 200 /.test(m.text) && /CSeq:\s*\d+ REGISTER/i.test(m.text));
      assert.equal(sentOk.length, 1, 'the ITSP accepted the credentials (verifyauth) and answered 200 once');
      const states = registrationChanges(b2bua).map((l) => l.state);
      assert.deepEqual(states, ['registering', 'registered'], `registration states logged: ${states.join(',')}`);
      const info = await sipBridgeInfo(b2bua);
      const account = info.providers.flatMap((p) => p.accounts).find((a) => a.address === ACCOUNT_URI);
      assert.equal(account?.status, 'OK', `SIP_BRIDGE INFO: ${JSON.stringify(info)}`);
      assert.equal(account?.freeSlots, 1, 'one free line slot while no call is up');
    });

    it('(b) a call is bridged with the templated To/From and carries RTP tones both ways', async () => {
      const { b2bua, itsp, tones, runDir } = env!;
      await waitForRegistration(b2bua, 'registered', 10000);
      const [callerPort] = await freePorts(1);
      const [callerMedia] = await freePorts(4);
      const capture = await startCapture(
        path.join(runDir, 'call-b.pcap'),
        portsFilter([callerPort!, callerMedia!, callerMedia! + 1, itsp.port, itsp.mediaPort, itsp.mediaPort + 1]),
        CALL_SECONDS + 10,
      );
      const caller = await startSipp({
        name: 'caller-b', runDir, scenario: 'uac_call.xml', remote: b2bua.address, port: callerPort, mediaPort: callerMedia,
        pauseMs: 3000, keys: { rtp: rtpKey(tones.caller.ulaw), to_user: DIALED }, maxSeconds: CALL_SECONDS,
      });
      const rc = await caller.result();
      const packets = await capture.stop();
      const flows = describeFlows(summarizeFlows(packets, [440, 880]));
      const info = `${rc.summary}\nflows:\n${flows}\n${reportOn(env)}`;
      assert.equal(rc.code, 0, `caller: ${info}`);

      const invites = received(readMessages(itsp), /^INVITE /);
      assert.equal(invites.length, 2, `the ITSP challenged the INVITE once and got it back with credentials\n${info}`);
      assert.ok(!/^Authorization:/im.test(invites[0]!), 'first INVITE without credentials');
      const leg = invites[1]!;
      assert.match(headerOf(leg, 'Authorization') ?? '', new RegExp(`^Digest .*username="${ITSP_USER}"`), 'INVITE answered the challenge with the account');
      // outgoingInvite.to = sip:{incoming.requestUri.user}@{account.uri.hostport}{incoming.requestUri.uriParameters}
      const expectedTo = `sip:${DIALED}@itsp.example.net`;
      assert.match(leg, new RegExp(`^INVITE ${escape(expectedTo)} SIP/2.0`, 'm'), `Request-URI of leg B:\n${leg}`);
      assert.match(headerOf(leg, 'To') ?? '', new RegExp(`^<${escape(expectedTo)}>$`), `To of leg B:\n${leg}`);
      // outgoingInvite.from = {incoming.from.displayName} <{account.uri}> (the name renders quoted); the caller is "Alice" <sip:alice@...>
      assert.match(headerOf(leg, 'From') ?? '', new RegExp(`^"Alice" <${escape(ACCOUNT_URI)}>;tag=`), `From of leg B:\n${leg}`);
      assert.doesNotMatch(leg, /sip:alice@/, 'the caller\'s own address does not leak to the provider');
      // outgoingInvite.enableAvpf = true: the caller offered RTP/AVP, leg B's offer is RTP/AVPF (Flexisip's InviteTweaker)
      assert.match(leg, /^m=audio \d+ RTP\/AVPF /m, `leg B's profile:\n${leg}`);

      const atItsp = toneSecondsIn(packetsTo(packets, itsp.mediaPort), 440);
      const atCaller = toneSecondsIn(packetsTo(packets, callerMedia!), 880);
      assert.ok(atItsp >= 2, `the ITSP received ${atItsp} s of the caller's 440 Hz\n${info}`);
      assert.ok(atCaller >= 2, `the caller received ${atCaller} s of the ITSP's 880 Hz\n${info}`);
      assert.ok(packetsTo(packets, itsp.mediaPort).every((p) => p.srcPort !== callerMedia), `media bypassed the b2bua\n${info}`);
      assert.equal(received(readMessages(itsp), /^BYE /).length, 1, 'the caller\'s BYE reached the ITSP');
      await b2bua.waitForCounters(['calls', 'mediaSessions'], SETTLE_MS);
    });

    it('(c) maxCallsPerLine=1: a second call while the line is busy gets 488, the first goes on', async () => {
      const { b2bua, itsp, tones, runDir } = env!;
      await b2bua.waitForCounters(['calls'], SETTLE_MS); // the slot of (b) is free again
      const invitesBefore = received(readMessages(itsp), /^INVITE /).length;
      const first = await startSipp({
        name: 'caller-c1', runDir, scenario: 'uac_call.xml', remote: b2bua.address,
        pauseMs: 4000, keys: { rtp: rtpKey(tones.caller.ulaw), to_user: DIALED }, maxSeconds: CALL_SECONDS,
      });
      await first.waitForMessage(/^SIP\/2.0 200 /m, 10000); // established: the line's only slot is taken
      const second = await startSipp({
        name: 'caller-c2', runDir, scenario: 'uac_expect_error.xml', template: { CODE: 488 }, remote: b2bua.address,
        keys: { to_user: DIALED }, maxSeconds: 10,
      });
      const r2 = await second.result();
      const firstStillUp = first.process.isRunning();
      const r1 = await first.result();
      const info = `${r1.summary}\n${r2.summary}\n${reportOn(env)}`;
      assert.equal(r2.code, 0, `second call must get 488: ${info}`);
      assert.ok(firstStillUp, `the 488 came while the first call was still up\n${info}`);
      assert.equal(r1.code, 0, `first call: ${info}`);
      const invitesAfter = received(readMessages(itsp), /^INVITE /).length;
      assert.equal(invitesAfter - invitesBefore, 2, `only the first call reached the ITSP (INVITE + authenticated INVITE)\n${info}`);
      const notBridged = b2bua.logLines().filter((l) => l['msg'] === 'call not bridged');
      assert.equal(notBridged.length, 1, `one call refused by the plugin: ${JSON.stringify(notBridged)}`);
      await b2bua.waitForCounters(['calls', 'mediaSessions'], SETTLE_MS);
    });

    it('shutdown: nothing left, un-REGISTER (Expires: 0) reaches the ITSP, every ITSP exchange succeeded', async () => {
      const { b2bua, itsp } = env!;
      await b2bua.waitForCounters(LIVE_COUNTERS, SETTLE_MS);
      await b2bua.stop();
      const ri = await resultWithin(itsp, 5000); // it exits by itself after its 4th exchange
      const registers = received(ri.messages, /^REGISTER /);
      const last = registers[registers.length - 1] ?? '';
      assert.equal(headerOf(last, 'Expires'), '0', `last REGISTER:\n${last}`);
      assert.match(headerOf(last, 'Authorization') ?? '', /^Digest /, 'the un-REGISTER answered its challenge too');
      assert.equal(ri.code, 0, `ITSP (REGISTER, 2 calls, un-REGISTER all verified): ${ri.summary}`);
    });
  });

  describe('account with a wrong password', function () {
    let env: BridgeEnv | undefined;
    before(async () => {
      env = await startBridgeEnv({ runDir: createRunDir('sip-bridge-itsp-badpw'), accountSecret: 'not-the-password', itspCalls: 1, maxSeconds: 40 });
    });
    afterEach(function (this: Context) {
      if (this.currentTest?.state === 'failed') console.log(reportOn(env));
    });
    after(() => stopAllStarted());

    it('(d) registration fails with 403 and a call gets 488 without reaching the ITSP', async () => {
      const { b2bua, itsp } = env!;
      const failed = await waitForRegistration(b2bua, 'failed', 10000);
      assert.match(failed.reason ?? '', /^403\b/, `failure reason: ${JSON.stringify(failed)}`);
      assert.ok(!registrationChanges(b2bua).some((l) => l.state === 'registered'), 'never registered');
      const info = await sipBridgeInfo(b2bua);
      const status = info.providers.flatMap((p) => p.accounts).find((a) => a.address === ACCOUNT_URI)?.status ?? '';
      assert.equal(status, 'Registration failed: Bad credentials', `SIP_BRIDGE INFO: ${JSON.stringify(info)}`);
      const caller = await startSipp({
        name: 'caller-d', runDir: env!.runDir, scenario: 'uac_expect_error.xml', template: { CODE: 488 }, remote: b2bua.address,
        keys: { to_user: DIALED }, maxSeconds: 10,
      });
      const rc = await caller.result();
      assert.equal(rc.code, 0, `the call must get 488 (no account available): ${rc.summary}\n${reportOn(env)}`);
      const ri = await resultWithin(itsp, 5000);
      // the ITSP's verifyauth refused the REGISTER: its only sipp call failed
      assert.equal(ri.code, 1, `ITSP: ${ri.summary}`);
      assert.equal(received(ri.messages, /^INVITE /).length, 0, 'no INVITE reached the ITSP');
      assert.match(headerOf(received(ri.messages, /^REGISTER /)[1] ?? '', 'Authorization') ?? '', new RegExp(`username="${ITSP_USER}"`));
      await b2bua.waitForCounters(LIVE_COUNTERS, SETTLE_MS);
      await b2bua.stop();
    });
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The admin interface's counterpart of Flexisip's `SIP_BRIDGE INFO`. */
async function sipBridgeInfo(b2bua: { adminAddress: string }): Promise<{ providers: { name: string; accounts: { address: string; status: string; freeSlots?: number }[] }[] }> {
  const res = await fetch(`http://${b2bua.adminAddress}/plugin/${encodeURIComponent('SIP_BRIDGE INFO')}`, { signal: AbortSignal.timeout(3000) });
  assert.equal(res.status, 200, `GET /plugin/SIP_BRIDGE INFO answered ${res.status}`);
  return (await res.json()) as { providers: { name: string; accounts: { address: string; status: string; freeSlots?: number }[] }[] };
}
