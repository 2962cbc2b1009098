/**
 * Harness self-test: sipp caller <-> sipp callee directly (no b2bua). Proves that the sipp runner,
 * our tone files, the loopback capture and the pcap/RTP/G.711/Goertzel analysis work end to end.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { createRunDir } from '../../harness/run-dir.js';
import { startSipp, sipSequence, waitForListening } from '../../harness/sipp.js';
import { startCapture, portsFilter } from '../../harness/capture.js';
import { writeToneFiles } from '../../harness/tones.js';
import { describeFlows, packetsFrom, packetsTo, summarizeFlows, toneSecondsIn } from '../../harness/flows.js';
import { stopAllStarted } from '../../harness/processes.js';
import { requireTools } from '../../harness/tools.js';

describe('harness self-test: sipp <-> sipp directly', function () {
  this.timeout(60000);
  before(() => requireTools(['sipp', 'dumpcap']));
  after(() => stopAllStarted());

  it('carries a 440 Hz tone caller->callee and 880 Hz callee->caller, decoded from the capture', async () => {
    const run = createRunDir('harness-sipp-direct');
    const tones = path.join(run, 'tones');
    const t440 = writeToneFiles(tones, 440);
    const t880 = writeToneFiles(tones, 880);

    const callee = await startSipp({ name: 'callee', runDir: run, scenario: 'uas_answer.xml', pauseMs: 500, keys: { rtp: `${t880.ulaw},-1,0` } });
    await waitForListening(callee.port, 'udp');
    const capture = await startCapture(path.join(run, 'media.pcap'), portsFilter([callee.port, callee.mediaPort]), 30);
    const caller = await startSipp({
      name: 'caller', runDir: run, scenario: 'uac_call.xml', remote: `127.0.0.1:${callee.port}`,
      pauseMs: 3000, keys: { rtp: `${t440.ulaw},-1,0`, to_user: 'bob' },
    });
    const rc = await caller.result();
    const rs = await callee.result();
    const packets = await capture.stop();
    const flows = summarizeFlows(packets, [440, 880]);
    const report = `${rc.summary}\n${rs.summary}\nflows:\n${describeFlows(flows)}\nrun dir: ${run}`;

    assert.equal(rc.code, 0, report);
    assert.equal(rs.code, 0, report);
    const seq = sipSequence(rc.shortMessages).join(' | ');
    assert.match(seq, /R SIP\/2.0 180 .*R SIP\/2.0 200 /, `180 before 200: ${seq}`);

    const toCallee = toneSecondsIn(packetsTo(packets, callee.mediaPort), 440);
    const toCaller = toneSecondsIn(packetsTo(packets, caller.mediaPort), 880);
    assert.ok(toCallee >= 2, `callee media port received ${toCallee} s of 440 Hz\n${report}`);
    assert.ok(toCaller >= 2, `caller media port received ${toCaller} s of 880 Hz\n${report}`);
    // negative control: the analysis must not find the other side's tone in a flow
    assert.ok(toneSecondsIn(packetsFrom(packets, caller.mediaPort), 880) < 0.2, report);
  });
});
