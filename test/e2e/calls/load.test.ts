/**
 * Many calls through one daemon: 100 sequential and 20 concurrent. Afterwards every live counter of the
 * server (calls, dialogs, transactions, timers, media sessions, media ports) must return to 0 — polled
 * through GET /counters with a deadline (SETTLE_MS: completed UDP transactions linger a few seconds).
 */
import assert from 'node:assert/strict';
import { pairs } from '../../harness/call-scenarios.js';
import type { B2buaDaemon } from '../../harness/b2bua.js';
import { sleep } from '../../harness/wait.js';
import { LIVE_COUNTERS, SETTLE_MS, assertExitCodes, callSuite, callThrough } from './fixture.js';

/** Sample /counters in the background (at most `maxMs`) and keep the highest number of calls in progress. */
function peakCalls(b2bua: B2buaDaemon, maxMs = 60000): { stop: () => Promise<number> } {
  let peak = 0;
  let running = true;
  const end = Date.now() + maxMs;
  const loop = (async () => {
    while (running && Date.now() < end && b2bua.process.isRunning()) {
      peak = Math.max(peak, (await b2bua.counters().catch(() => ({ calls: 0 }))).calls);
      await sleep(50);
    }
  })();
  return { stop: async () => ((running = false), await loop, peak) };
}

describe('calls through the b2bua: load and leaks', function () {
  callSuite(this, 120000);

  it('100 sequential calls leave no call, dialog, transaction, timer, media session or port behind', async () => {
    let socketsBefore = -1;
    const r = await callThrough('100-sequential', () => pairs.load(100, 1, 20, 50), {
      beforeCaller: async ({ b2bua }) => {
        socketsBefore = b2bua!.socketCount();
      },
    });
    assertExitCodes(r);
    assert.equal(r.caller.stats['SuccessfulCall(C)'], '100', r.report);
    const after = await r.b2bua.waitForCounters(LIVE_COUNTERS, SETTLE_MS);
    assert.equal(after.callsTotal, 100, `callsTotal ${JSON.stringify(after)}`);
    assert.ok(socketsBefore >= 2, `the daemon's own SIP and admin sockets are seen (${socketsBefore})`);
    assert.equal(r.b2bua.socketCount(), socketsBefore, 'sockets held by the daemon (ss -p) after the calls vs before');
    await r.b2bua.stop();
  });

  it('20 concurrent calls are all in progress at once, then leave nothing behind', async () => {
    let sampler: ReturnType<typeof peakCalls> | undefined;
    let socketsBefore = -1;
    const r = await callThrough('20-concurrent', () => pairs.load(20, 20, 3000, 40), {
      beforeCaller: async ({ b2bua }) => {
        socketsBefore = b2bua!.socketCount();
        sampler = peakCalls(b2bua!);
      },
    });
    const peak = await sampler!.stop();
    assertExitCodes(r);
    assert.equal(r.caller.stats['SuccessfulCall(C)'], '20', r.report);
    assert.equal(peak, 20, `peak of calls in progress seen through /counters: ${peak}\n${r.report}`);
    const after = await r.b2bua.waitForCounters(LIVE_COUNTERS, SETTLE_MS);
    assert.equal(after.callsTotal, 20, `callsTotal ${JSON.stringify(after)}`);
    assert.ok(socketsBefore >= 2, `the daemon's own SIP and admin sockets are seen (${socketsBefore})`);
    assert.equal(r.b2bua.socketCount(), socketsBefore, 'sockets held by the daemon (ss -p) after the calls vs before');
    await r.b2bua.stop();
  });
});
