/**
 * The SIP/SDP mutation fuzzer (test/fuzz) against the real daemon for a bounded count: 2,000 cases over UDP,
 * 1,000 over TCP (batches on one connection, half of them fragmented). Fails on a daemon exit, a logged
 * uncaught exception or unhandled rejection, an OPTIONS not answered within 1 s after a batch, or live
 * counters (calls, dialogs, transactions, timers, media sessions/ports) not back to 0 after the timers.
 * 100,000 cases: bench/fuzz.ts.
 */
import assert from 'node:assert/strict';
import { createRunDir } from '../../harness/run-dir.js';
import { tail } from '../../harness/run-dir.js';
import { fuzzDaemon } from '../../fuzz/session.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 20261203);

describe('security: SIP/SDP mutation fuzzer against the daemon', function () {
  this.timeout(150000);

  it(`2,000 UDP + 1,000 TCP fuzzed messages (seed ${SEED}): no crash, no unhandled rejection, OPTIONS answered, counters back to 0`, async () => {
    const r = await fuzzDaemon({ runDir: createRunDir('fuzz'), seed: SEED, udpCases: 2000, tcpCases: 1000, deadline: Date.now() + 90000 });
    console.log(`      ${JSON.stringify({ udp: r.udp, tcp: r.tcp, optionsFailures: r.optionsFailures, rssStartKb: r.rssStartKb, rssEndKb: r.rssEndKb, countersNotZero: r.countersNotZero, durationS: r.durationS })}`);
    const why = `log ${r.logFile}:\n${tail(r.logFile, 15)}`;
    assert.equal(r.crashed, false, `the daemon exited. ${why}`);
    assert.deepEqual(r.internalErrors.map((l) => `${String(l['kind'])}: ${JSON.stringify(l['err'])}`), [], `uncaught exceptions / unhandled rejections logged. ${why}`);
    assert.deepEqual(r.failures, [], 'OPTIONS not answered within 1 s after these batches (reproduce: FUZZ_SEED and the case indexes)');
    assert.equal(r.udp + r.tcp, 3000, `only ${r.udp} UDP + ${r.tcp} TCP cases sent before the deadline`);
    assert.deepEqual(r.countersNotZero, [], `live counters not back to 0: ${JSON.stringify(r.countersAfter)}`);
  });
});
