/**
 * Kamailio as the front proxy of the b2bua (trenscrypter, outbound-proxy = kamailio), as operators deploy it:
 * caller sipp -> kamailio -> b2bua -> kamailio -> callee sipp. Kamailio tells leg B from leg A by the B2BUA's
 * User-Agent, exactly as Flexisip's module::B2bua does (src/module-b2bua.cc:118-131 in Flexisip 2.5.2), and
 * record-routes both passes. With a fixed user-agent the proxy recognises leg B; with the default
 * Flexisip-B2BUA/{version}, which a Flexisip proxy expands to its own version, it does not: leg B comes back to
 * the b2bua, which answers 482 Loop Detected (core/b2bua/loop.ts) instead of calling again.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Context } from 'mocha';
import { createRunDir, tail } from '../../harness/run-dir.js';
import { standardTones } from '../../harness/call-pair.js';
import { startSipp, received, waitForListening, type SippResult, type SippRun } from '../../harness/sipp.js';
import { startB2bua, LIVE_COUNTERS, REPO_ROOT, type B2buaDaemon } from '../../harness/b2bua.js';
import { startKamailio, type Kamailio } from '../../harness/kamailio.js';
import { startCapture, portsFilter } from '../../harness/capture.js';
import { describeFlows, packetsTo, summarizeFlows, toneSecondsIn } from '../../harness/flows.js';
import type { IpPacket } from '../../harness/pcap.js';
import { freePorts } from '../../harness/ports.js';
import { stopAllStarted } from '../../harness/processes.js';
import { requireTools } from '../../harness/tools.js';
import { resultWithin } from '../../harness/sipp-grace.js';

/** Completed UDP transactions linger a few seconds after a call. */
const SETTLE_MS = 12000;
const CALL_SECONDS = 25;

interface ProxiedCall {
  readonly runDir: string;
  readonly caller: SippResult;
  readonly callee: SippResult;
  readonly callerRun: SippRun;
  readonly calleeRun: SippRun;
  readonly b2bua: B2buaDaemon;
  readonly kamailio: Kamailio;
  readonly userAgent: string;
  readonly packets: IpPacket[];
  readonly report: string;
}

/** What the failure report of the running test shows. */
const live: { runDir?: string; b2bua?: B2buaDaemon; kamailio?: Kamailio; runs: SippRun[] } = { runs: [] };

/** One basic call (caller BYE after 3 s of tones both ways) through kamailio and the b2bua; b2bua<->kamailio over `hop`. */
async function callThroughProxy(name: string, hop: 'udp' | 'tcp'): Promise<ProxiedCall> {
  const runDir = createRunDir(name);
  live.runDir = runDir;
  live.runs = [];
  const tones = standardTones(runDir);
  const [proxyPort] = await freePorts(1);
  const [callerPort] = await freePorts(1);
  const [callerMedia] = await freePorts(4);
  const [calleePort] = await freePorts(1);
  const [calleeMedia] = await freePorts(4);
  // what a Flexisip deployment writes: a fixed value, which the proxy (module::B2bua or this kamailio rule) matches
  const userAgent = 'Flexisip-B2BUA/2.5.2';

  const calleeRun = await startSipp({
    name: 'callee', runDir, scenario: 'uas_answer.xml', port: calleePort, mediaPort: calleeMedia,
    pauseMs: 500, keys: { rtp: `${tones.callee.ulaw},-1,0` }, maxSeconds: CALL_SECONDS,
  });
  live.runs.push(calleeRun);
  await waitForListening(calleePort!, 'udp');
  // the b2bua sends leg B to kamailio, which is started right after (it needs the b2bua's port)
  const b2bua = await startB2bua({
    runDir, transport: hop, outboundProxy: `sip:127.0.0.1:${proxyPort};transport=${hop}`, settings: { 'user-agent': userAgent }, maxSeconds: 60,
  });
  live.b2bua = b2bua;
  const kamailio = await startKamailio({
    runDir, port: proxyPort!, b2buaUserAgent: userAgent,
    b2bua: `sip:${b2bua.address};transport=${hop}`, callee: `sip:127.0.0.1:${calleePort};transport=udp`, maxSeconds: 60,
  });
  live.kamailio = kamailio;
  const capture = await startCapture(
    path.join(runDir, 'call.pcap'),
    portsFilter([callerPort!, callerMedia!, callerMedia! + 1, calleePort!, calleeMedia!, calleeMedia! + 1, proxyPort!, b2bua.port]),
    CALL_SECONDS + 10,
  );
  const callerRun = await startSipp({
    name: 'caller', runDir, scenario: 'uac_call.xml', remote: kamailio.address, port: callerPort, mediaPort: callerMedia,
    pauseMs: 3000, keys: { rtp: `${tones.caller.ulaw},-1,0`, to_user: 'bob' }, maxSeconds: CALL_SECONDS,
  });
  live.runs.push(callerRun);
  const caller = await callerRun.result();
  const callee = await resultWithin(calleeRun, 6000);
  const packets = await capture.stop();
  const report = [caller.summary, callee.summary, `flows:\n${describeFlows(summarizeFlows(packets, [440, 880]))}`, `run dir: ${runDir}`].join('\n');
  return { runDir, caller, callee, callerRun, calleeRun, b2bua, kamailio, userAgent, packets, report };
}

/** SIP requests `method` captured from one port to another (UDP datagrams or TCP segments starting a request). */
function hops(packets: readonly IpPacket[], method: string, match: (p: IpPacket) => boolean): IpPacket[] {
  return packets.filter((p) => match(p) && p.payload.toString('latin1').startsWith(`${method} `));
}

/** INVITE transactions that reached `port` (UDP retransmissions counted once: same top Via branch). */
function invitesTo(packets: readonly IpPacket[], port: number): string[] {
  const byBranch = new Map<string, string>();
  for (const p of hops(packets, 'INVITE', (q) => q.dstPort === port)) {
    const text = p.payload.toString('latin1');
    byBranch.set(/;branch=([^;\s]+)/i.exec(topVia(p))?.[1] ?? text, text);
  }
  return [...byBranch.values()];
}

function headerOf(text: string, name: string): string {
  return new RegExp(`^${name}:\\s*(.*?)\\s*$`, 'im').exec(text)?.[1] ?? '';
}

/** First Via of a SIP message: who sent this hop (TCP source ports are ephemeral, Via names the proxy). */
function topVia(p: IpPacket): string {
  return /^Via:\s*(.*)$/im.exec(p.payload.toString('latin1'))?.[1] ?? '';
}

function assertThroughProxyTwice(r: ProxiedCall, method: 'INVITE' | 'BYE'): void {
  const k = r.kamailio.port;
  const viaProxy = new RegExp(`^SIP/2\\.0/(UDP|TCP) 127\\.0\\.0\\.1:${k}\\b`, 'i');
  const ua = new RegExp(`^User-Agent:\\s*${escape(r.userAgent)}\\s*$`, 'im');
  const seen = {
    callerToProxy: hops(r.packets, method, (p) => p.srcPort === r.callerRun.port && p.dstPort === k).length,
    proxyToB2bua: hops(r.packets, method, (p) => p.dstPort === r.b2bua.port && viaProxy.test(topVia(p))).length,
    b2buaToProxy: hops(r.packets, method, (p) => p.dstPort === k && ua.test(p.payload.toString('latin1'))).length,
    proxyToCallee: hops(r.packets, method, (p) => p.srcPort === k && p.dstPort === r.calleeRun.port && viaProxy.test(topVia(p))).length,
  };
  for (const [hop, n] of Object.entries(seen)) {
    assert.ok(n >= 1, `${method} hop ${hop} not seen on the wire: ${JSON.stringify(seen)}\n${r.report}`);
  }
}

describe('kamailio front proxy: caller -> kamailio -> b2bua -> kamailio -> callee', function () {
  this.timeout(60000);
  before(() => requireTools(['sipp', 'dumpcap', 'ss', 'kamailio']));
  afterEach(async function (this: Context) {
    if (this.currentTest?.state === 'failed') {
      const lines = [`--- run dir: ${live.runDir}`];
      if (live.b2bua) lines.push(`--- b2bua log tail (${live.b2bua.logFile}):`, live.b2bua.logTail(30));
      if (live.kamailio) lines.push(`--- kamailio log tail (${live.kamailio.logFile}):`, live.kamailio.logTail(30));
      for (const r of live.runs) lines.push(`--- ${r.name} errors:`, tail(r.files.errors, 10));
      console.log(lines.join('\n'));
    }
    await stopAllStarted();
    live.b2bua = undefined;
    live.kamailio = undefined;
  });

  for (const hop of ['udp', 'tcp'] as const) {
    it(`call through the proxy on both legs (b2bua<->kamailio over ${hop}): tones both ways, caller BYE ends both legs, counters back to 0`, async () => {
      const r = await callThroughProxy(`proxy-kamailio-${hop}`, hop);
      assert.equal(r.caller.code, 0, `caller\n${r.report}`);
      assert.equal(r.callee.code, 0, `callee\n${r.report}`);

      // kamailio routed the caller's INVITE to the b2bua once, and the b2bua's own INVITE to the callee once (no loop)
      const routes = r.kamailio.routeLines();
      const aSide = routes.filter((l) => /^E2E A-side INVITE /.test(l));
      const bSide = routes.filter((l) => /^E2E B-side INVITE /.test(l));
      assert.equal(aSide.length, 1, `A-side routing decisions:\n${routes.join('\n')}`);
      assert.equal(bSide.length, 1, `B-side routing decisions:\n${routes.join('\n')}`);
      assert.match(aSide[0]!, new RegExp(`from 127\\.0\\.0\\.1:${r.callerRun.port} ua=\\[[^\\]]*\\] to sip:${escape(r.b2bua.address)}`));
      assert.match(bSide[0]!, new RegExp(`ua=\\[${escape(r.userAgent)}\\] to sip:127\\.0\\.0\\.1:${r.calleeRun.port}`));
      assertThroughProxyTwice(r, 'INVITE');
      const atB2bua = invitesTo(r.packets, r.b2bua.port);
      assert.equal(atB2bua.length, 1, `the b2bua received the caller's INVITE only (leg B recognised, not routed back):\n${atB2bua.join('\n---\n')}`);

      // both dialogs are record-routed through kamailio: the in-dialog BYE crosses it on each side too
      const proxyRoute = new RegExp(`^Record-Route:.*sip:127\\.0\\.0\\.1:${r.kamailio.port}\\b[^\\n]*;lr`, 'im');
      const calleeInvite = received(r.callee.messages, /^INVITE /)[0] ?? '';
      assert.match(calleeInvite, proxyRoute, `callee's INVITE:\n${calleeInvite}`);
      assert.match(calleeInvite, new RegExp(`^User-Agent:\\s*${escape(r.userAgent)}`, 'im'), 'leg B comes from the b2bua');
      assert.match(calleeInvite, /^X-Flexisip-B2BUA: ignore\r?$/m, "leg B carries Flexisip's marker (b2bua-server.cc:158)");
      const callerOk = received(r.caller.messages, /^SIP\/2.0 200 /)[0] ?? '';
      assert.match(callerOk, proxyRoute, `caller's 200:\n${callerOk}`);
      const inDialogByes = routes.filter((l) => /^E2E in-dialog BYE /.test(l));
      assert.equal(inDialogByes.length, 2, `BYE routed by kamailio on the A side then the B side:\n${routes.join('\n')}`);
      assertThroughProxyTwice(r, 'BYE');
      assert.equal(received(r.callee.messages, /^BYE /).length >= 1, true, `the caller's BYE ended leg B\n${r.report}`);

      const atCallee = toneSecondsIn(packetsTo(r.packets, r.calleeRun.mediaPort), 440);
      const atCaller = toneSecondsIn(packetsTo(r.packets, r.callerRun.mediaPort), 880);
      assert.ok(atCallee >= 2, `callee received ${atCallee} s of the caller's 440 Hz\n${r.report}`);
      assert.ok(atCaller >= 2, `caller received ${atCaller} s of the callee's 880 Hz\n${r.report}`);
      assert.ok(packetsTo(r.packets, r.calleeRun.mediaPort).every((p) => p.srcPort !== r.callerRun.mediaPort), `media bypassed the b2bua\n${r.report}`);

      const counters = await r.b2bua.waitForCounters(LIVE_COUNTERS, SETTLE_MS);
      assert.equal(counters.loopsDetected, 0);
      await r.b2bua.stop();
      const k = await r.kamailio.stop();
      assert.equal(k.timedOut, false, `kamailio outlived its time budget\n${r.kamailio.logTail(10)}`);
    });
  }

  it('default user-agent Flexisip-B2BUA/{version} while the proxy matches Flexisip-B2BUA/2.5.2: leg B comes back and gets 482, exactly 2 INVITEs reach the b2bua', async () => {
    const runDir = createRunDir('proxy-kamailio-loop');
    live.runDir = runDir;
    live.runs = [];
    const [proxyPort, callerPort, calleePort] = await freePorts(3);
    const [callerMedia] = await freePorts(4);
    // [b2bua-server] user-agent left to its default: we send Flexisip-B2BUA/<our version>
    const b2bua = await startB2bua({ runDir, transport: 'udp', outboundProxy: `sip:127.0.0.1:${proxyPort};transport=udp`, maxSeconds: 60 });
    live.b2bua = b2bua;
    const ours = `Flexisip-B2BUA/${JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')).version as string}`;
    const proxyUserAgent = 'Flexisip-B2BUA/2.5.2'; // what a Flexisip 2.5.2 proxy makes of the same {version}
    assert.notEqual(ours, proxyUserAgent);
    const kamailio = await startKamailio({
      runDir, port: proxyPort!, b2buaUserAgent: proxyUserAgent,
      b2bua: `sip:${b2bua.address};transport=udp`, callee: `sip:127.0.0.1:${calleePort};transport=udp`, maxSeconds: 60,
    });
    live.kamailio = kamailio;
    const capture = await startCapture(path.join(runDir, 'loop.pcap'), portsFilter([callerPort!, calleePort!, proxyPort!, b2bua.port]), 30);
    const callerRun = await startSipp({
      name: 'caller', runDir, scenario: 'uac_expect_error.xml', remote: kamailio.address, port: callerPort, mediaPort: callerMedia,
      template: { CODE: 482 }, keys: { to_user: 'bob' }, maxSeconds: 20,
    });
    live.runs.push(callerRun);
    const caller = await callerRun.result();
    await new Promise((r) => setTimeout(r, 3000)); // anything still looping would show up meanwhile
    const packets = await capture.stop();
    const routes = kamailio.routeLines();
    const report = [caller.summary, `kamailio:\n${routes.join('\n')}`, `run dir: ${runDir}`].join('\n');
    assert.equal(caller.code, 0, `the caller gets 482\n${report}`);
    const final = received(caller.messages, /^SIP\/2\.0 482 /)[0] ?? '';
    assert.match(final, /^SIP\/2\.0 482 Loop Detected \(our own leg B INVITE of call c1-\S+ came back: the proxy did not recognise User-Agent Flexisip-B2BUA\/\S+\)/,
      `the reason reaches the caller:\n${final}`);

    const atB2bua = invitesTo(packets, b2bua.port);
    assert.equal(atB2bua.length, 2, `the caller's INVITE and our own leg B once, nothing more:\n${atB2bua.join('\n---\n')}`);
    const [legA, looped] = atB2bua as [string, string];
    const legB = invitesTo(packets, proxyPort!).find((t) => headerOf(t, 'User-Agent') === ours) ?? '';
    assert.equal(headerOf(looped, 'Call-ID'), headerOf(legB, 'Call-ID'), 'the second INVITE is our leg B (its Call-ID)');
    assert.notEqual(headerOf(legA, 'Call-ID'), headerOf(legB, 'Call-ID'));
    assert.equal(headerOf(looped, 'X-Flexisip-B2BUA'), 'ignore');
    assert.equal(headerOf(looped, 'User-Agent'), ours);
    assert.equal(invitesTo(packets, calleePort!).length, 0, 'the callee is never called');
    assert.equal(routes.filter((l) => /^E2E A-side INVITE /.test(l)).length, 2, report);
    assert.equal(routes.filter((l) => /^E2E B-side INVITE /.test(l)).length, 0, report);

    const logs = b2bua.logLines();
    assert.equal(logs.filter((l) => l['code'] === 'B2BUA_SIP_LOOP').length, 1, 'one loop logged');
    assert.equal(logs.filter((l) => l['msg'] === 'incoming call').length, 1, 'one call made');
    assert.ok(logs.some((l) => l['code'] === 'B2BUA_CONFIG_WARNING' && /\{version\}/.test(String(l['msg']))), 'start-up warned about {version}');
    const counters = await b2bua.waitForCounters(LIVE_COUNTERS, SETTLE_MS);
    assert.equal(counters.loopsDetected, 1);
    assert.equal(counters.callsTotal, 1);
    await b2bua.stop();
    assert.equal((await kamailio.stop()).timedOut, false);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
