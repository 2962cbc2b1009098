/**
 * Kamailio as the front proxy of the b2bua (trenscrypter, outbound-proxy = kamailio), as operators deploy it:
 * caller sipp -> kamailio -> b2bua -> kamailio -> callee sipp. Kamailio tells leg B from leg A by the B2BUA's
 * User-Agent (Flexisip's loop avoidance) and record-routes both passes.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import type { Context } from 'mocha';
import { createRunDir, tail } from '../../harness/run-dir.js';
import { standardTones } from '../../harness/call-pair.js';
import { startSipp, received, waitForListening, type SippResult, type SippRun } from '../../harness/sipp.js';
import { startB2bua, LIVE_COUNTERS, type B2buaDaemon } from '../../harness/b2bua.js';
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
  const userAgent = `b2bua-e2e-proxy-${process.pid}/1.0`;

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

      // both dialogs are record-routed through kamailio: the in-dialog BYE crosses it on each side too
      const proxyRoute = new RegExp(`^Record-Route:.*sip:127\\.0\\.0\\.1:${r.kamailio.port}\\b[^\\n]*;lr`, 'im');
      const calleeInvite = received(r.callee.messages, /^INVITE /)[0] ?? '';
      assert.match(calleeInvite, proxyRoute, `callee's INVITE:\n${calleeInvite}`);
      assert.match(calleeInvite, new RegExp(`^User-Agent:\\s*${escape(r.userAgent)}`, 'im'), 'leg B comes from the b2bua');
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

      await r.b2bua.waitForCounters(LIVE_COUNTERS, SETTLE_MS);
      await r.b2bua.stop();
      const k = await r.kamailio.stop();
      assert.equal(k.timedOut, false, `kamailio outlived its time budget\n${r.kamailio.logTail(10)}`);
    });
  }
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
