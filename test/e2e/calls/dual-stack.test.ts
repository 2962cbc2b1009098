/**
 * IPv4 and IPv6 legs in one call: the daemon listens on 127.0.0.1 and [::1] (transport lists both); a sipp caller on one
 * family calls a sipp callee reached on the other. Each leg's SDP, Via and Contact are of its peer's family, and the tones
 * cross in both directions (captured on lo at each peer's media port).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { startB2bua } from '../../harness/b2bua.js';
import { current, standardTones } from '../../harness/call-pair.js';
import { startCapture, portsFilter } from '../../harness/capture.js';
import { packetsTo, toneSecondsIn } from '../../harness/flows.js';
import { freePorts } from '../../harness/ports.js';
import { createRunDir } from '../../harness/run-dir.js';
import { received, startSipp, waitForListening } from '../../harness/sipp.js';
import { assertCleanAndStop, callSuite } from './fixture.js';

const bracket = (ip: string): string => (ip.includes(':') ? `[${ip}]` : ip);
const ipType = (ip: string): string => (ip.includes(':') ? 'IP6' : 'IP4');

async function dualStackCall(name: string, callerIp: string, calleeIp: string, engine: 'relay' | 'gstreamer') {
  const runDir = createRunDir(name);
  current.runs = [];
  current.runDir = runDir;
  const tones = standardTones(runDir);
  const [callerPort, calleePort, port4, port6] = await freePorts(4);
  const [callerMedia] = await freePorts(4);
  const [calleeMedia] = await freePorts(4);
  const capture = await startCapture(path.join(runDir, 'call.pcap'), portsFilter([callerMedia!, calleeMedia!]), 60);
  const calleeRun = await startSipp({
    name: 'callee', runDir, scenario: 'uas_answer.xml', pauseMs: 500, keys: { rtp: `${tones.callee.ulaw},-1,0` }, maxSeconds: 25,
    ip: calleeIp, port: calleePort, mediaPort: calleeMedia,
  });
  current.runs.push(calleeRun);
  await waitForListening(calleePort!, 'udp');
  const b2bua = await startB2bua({
    runDir,
    outboundProxy: `sip:${bracket(calleeIp)}:${calleePort};transport=udp`,
    settings: {
      transport: `sip:127.0.0.1:${port4};transport=udp sip:[::1]:${port6};transport=udp`,
      'media-engine': engine,
    },
  });
  current.b2bua = b2bua;
  const callerRun = await startSipp({
    name: 'caller', runDir, scenario: 'uac_call.xml', pauseMs: 3000, keys: { rtp: `${tones.caller.ulaw},-1,0`, to_user: 'bob' }, maxSeconds: 25,
    ip: callerIp, port: callerPort, mediaPort: callerMedia, remote: `${bracket(callerIp)}:${callerIp.includes(':') ? port6 : port4}`,
  });
  current.runs.push(callerRun);
  const caller = await callerRun.result();
  const grace = setTimeout(() => void calleeRun.process.stop(1000), 6000);
  const callee = await calleeRun.result();
  clearTimeout(grace);
  const packets = await capture.stop();
  return { caller, callee, b2bua, packets, callerMedia: callerMedia!, calleeMedia: calleeMedia! };
}

function assertLeg(message: string, peerIp: string, what: string): void {
  const family = ipType(peerIp);
  const ours = peerIp.includes(':') ? '::1' : '127.0.0.1';
  assert.match(message, new RegExp(`^c=IN ${family} ${ours.replace(/\./g, '\\.')}\\r?$`, 'm'), `${what}: SDP in the peer's family\n${message}`);
  assert.match(message, new RegExp(`^Contact:.*@${bracket(ours).replace(/[.[\]]/g, '\\$&')}:`, 'mi'), `${what}: Contact in the peer's family\n${message}`);
}

describe('calls through the b2bua: an IPv4 leg and an IPv6 leg in one call', function () {
  callSuite(this, 60000);

  for (const engine of ['relay', 'gstreamer'] as const) {
    for (const [callerIp, calleeIp] of [['127.0.0.1', '::1'], ['::1', '127.0.0.1']] as const) {
      it(`${engine}: caller on ${callerIp}, callee on ${calleeIp}: each leg's SDP, Via, Contact in its peer's family, tones both ways`, async () => {
        const r = await dualStackCall(`dual-stack-${engine}-${callerIp.includes(':') ? 'v6-v4' : 'v4-v6'}`, callerIp, calleeIp, engine);
        assert.equal(r.caller.code, 0, r.caller.summary);
        assert.equal(r.callee.code, 0, r.callee.summary);
        const invite = received(r.callee.messages, /^INVITE /)[0] ?? '';
        assertLeg(invite, calleeIp, 'leg B INVITE');
        assert.match(invite, new RegExp(`^Via: SIP/2\\.0/UDP ${bracket(calleeIp.includes(':') ? '::1' : '127.0.0.1').replace(/[.[\]]/g, '\\$&')}:`, 'mi'), invite);
        const ok = received(r.caller.messages, /^SIP\/2\.0 200 /).find((m) => /application\/sdp/i.test(m)) ?? '';
        assertLeg(ok, callerIp, 'leg A 200 OK');
        const atCallee = toneSecondsIn(packetsTo(r.packets, r.calleeMedia), 440);
        const atCaller = toneSecondsIn(packetsTo(r.packets, r.callerMedia), 880);
        assert.ok(atCallee >= 1.5, `440 Hz at the callee: ${atCallee} s`);
        assert.ok(atCaller >= 1.5, `880 Hz at the caller: ${atCaller} s`);
        await assertCleanAndStop(r.b2bua);
      });
    }
  }
});
