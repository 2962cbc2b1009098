/**
 * Concurrency and failure of the media plane through the daemon: 50 concurrent SDES -> SDES calls from our own
 * load generator (every packet delivered and authenticated), and a media worker killed mid-call (its calls end
 * with BYE on both legs, the other worker's calls go on, a new call works).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { LIVE_COUNTERS } from '../../harness/b2bua.js';
import { runConcurrentCalls } from '../../harness/call-load.js';
import { placeCall, sdes, type PlacedCall } from '../../harness/srtp-call.js';
import { sleep, waitUntil } from '../../harness/wait.js';
import { mediaReportTotal, setUp, trenscrypterSuite } from './fixture.js';

const SETTLE_MS = 15000;

/** PIDs of the daemon's direct children (the media workers). */
function childPids(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' }).split('\n').map((l) => Number(l.trim())).filter((n) => n > 0);
  } catch {
    return []; // ps exits 1 when there is none
  }
}

describe('trenscrypter through the daemon (GStreamer engine): load and worker failure', function () {
  trenscrypterSuite(this, 90000);

  it('50 concurrent SDES -> SDES calls (5 s of audio each way): every packet delivered and authenticated, counters back to 0', async () => {
    const { b2bua, callee, caller, target } = await setUp({
      name: 'load-50-sdes', callee: sdes('AES_CM_128_HMAC_SHA1_32'), workers: 2, calleeMaxPackets: 250,
      policy: { enc: ['sdes', 'sip:bob@.*'], srtp: ['AES_CM_128_HMAC_SHA1_32', 'sip:bob@.*'] },
    });
    let peak = 0;
    const r = await runConcurrentCalls({
      caller, answerer: callee, target: target('bob'), calls: 50, legA: sdes('AES_CM_128_HMAC_SHA1_80'), packets: 250,
      whileStreaming: async () => {
        peak = (await b2bua.counters()).calls;
      },
    });
    const info = `established ${r.established}/50, delivered ${r.delivered}/${r.sent}, auth failures ${r.authFailures}, unmatched ${r.unmatched}, ` +
      `peak calls ${peak}, setup p50 ${r.setupMs[25]?.toFixed(1)} ms; failures: ${r.failures.slice(0, 5).join('; ')}`;
    assert.equal(r.established, 50, info);
    assert.equal(r.failures.length, 0, info);
    assert.equal(peak, 50, `all 50 calls in progress at once (GET /counters): ${info}`);
    assert.equal(r.unmatched, 0, info);
    assert.equal(r.authFailures, 0, info);
    const short = r.perCall.filter((c) => c.calleeReceived !== c.callerSent || c.callerReceived !== c.calleeSent || c.callerSent !== 250);
    assert.deepEqual(short, [], `calls with a lost packet (sent vs received-and-authenticated per direction); ${info}`);
    assert.equal(r.delivered, 50 * 2 * 250, info);
    const after = await b2bua.waitForCounters(LIVE_COUNTERS, SETTLE_MS);
    assert.equal(after.callsTotal, 50);
    assert.equal(mediaReportTotal(b2bua, 'srtpAuthFailures'), 0, 'the engine authenticated every packet');
    await b2bua.stop();
  });

  it('killing a media worker ends its calls with BYE on both legs; the other worker\'s calls go on; a new call works', async () => {
    const { b2bua, callee, caller, target } = await setUp({
      name: 'kill-worker', callee: sdes('AES_CM_128_HMAC_SHA1_80'), workers: 2,
      policy: { enc: ['sdes', 'sip:bob@.*'] },
    });
    await waitUntil('2 media workers', () => (childPids(b2bua.process.pid).length === 2 ? true : undefined), 10000);
    const workerPids = (): Map<number, number> => new Map(b2bua.logLines()
      .filter((l) => l['msg'] === 'media worker started').map((l) => [l['worker'] as number, l['pid'] as number]));
    const victim = workerPids().get(0)!;
    assert.ok(childPids(b2bua.process.pid).includes(victim), `worker 0 (pid ${victim}) is a child of the daemon ${b2bua.process.pid}`);

    // sequential set-up: the least loaded worker takes each call, so 2 calls land on each worker
    const calls: PlacedCall[] = [];
    for (let i = 0; i < 4; i++) calls.push(await placeCall(caller, target('bob'), sdes('AES_CM_128_HMAC_SHA1_80'), { frequency: 440 }));
    await sleep(1000);
    process.kill(victim, 'SIGKILL');
    const calleeSide = (a: PlacedCall) => [...callee.calls.values()].find((b) => b.media.received.has(a.media.ssrc));
    await waitUntil('2 calls ended by the b2bua', () => (calls.filter((c) => c.dialog.ended).length >= 2 ? true : undefined), 10000)
      .catch(() => undefined);
    await sleep(500);
    const ended = calls.filter((c) => c.dialog.ended);
    const going = calls.filter((c) => !c.dialog.ended);
    const info = `ended ${ended.length}, going ${going.length}; worker pids now ${childPids(b2bua.process.pid).join(',')}`;
    assert.equal(ended.length, 2, info);
    for (const a of ended) {
      assert.equal(a.dialog.endedBy, 'remote', `caller got a BYE; ${info}`);
      const b = calleeSide(a);
      assert.ok(b, `callee side of ${a.dialog.callId} found by SSRC`);
      assert.equal(b.dialog.endedBy, 'remote', `callee got a BYE; ${info}`);
    }
    // the other worker's calls still carry audio both ways
    const before = going.map((a) => [a.media.totalReceived(), calleeSide(a)!.media.totalReceived()]);
    await sleep(1000);
    going.forEach((a, i) => {
      assert.ok(a.media.totalReceived() > before[i]![0]! + 30, `surviving call ${i} caller still receives; ${info}`);
      assert.ok(calleeSide(a)!.media.totalReceived() > before[i]![1]! + 30, `surviving call ${i} callee still receives; ${info}`);
    });
    // the killed worker is replaced and a new call gets media through
    await waitUntil('worker 0 respawned', () => {
      const pid = workerPids().get(0);
      return pid !== undefined && pid !== victim && childPids(b2bua.process.pid).includes(pid) ? true : undefined;
    }, 10000);
    const fresh = await placeCall(caller, target('bob'), sdes('AES_CM_128_HMAC_SHA1_80'), { frequency: 440 });
    await sleep(1500);
    const freshB = calleeSide(fresh);
    assert.ok(freshB, 'the new call reached the callee with media');
    assert.ok(freshB.media.toneSeconds(440) >= 1 && fresh.media.toneSeconds(880) >= 1,
      `new call: tone at callee ${freshB.media.toneSeconds(440)} s, at caller ${fresh.media.toneSeconds(880)} s`);
    for (const a of [...going, fresh]) {
      a.media.stop();
      await a.dialog.bye();
    }
    await b2bua.waitForCounters(LIVE_COUNTERS, SETTLE_MS);
    await b2bua.stop();
  });
});
