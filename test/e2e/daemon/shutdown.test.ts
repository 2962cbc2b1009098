import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startB2bua, type B2buaDaemon } from '../../harness/b2bua.js';
import { stopAllStarted } from '../../harness/processes.js';
import { startSipp, waitForListening, type SippRun } from '../../harness/sipp.js';
import { writeToneFiles } from '../../harness/tones.js';

/**
 * SIGTERM with a call in progress (real sipp peers on both legs): new INVITEs get 503 during the grace
 * period, the call is hung up on both legs when it is over, the daemon exits 0.
 * Uses the built daemon (dist/), like the other call tests: `npx tsc -p .` first.
 */
describe('daemon shutdown with a call in progress (sipp caller and callee)', function () {
  this.timeout(90000);
  let runDir: string;
  let daemon: B2buaDaemon | undefined;
  const runs: SippRun[] = [];

  before(() => { runDir = mkdtempSync(path.join(os.tmpdir(), 'b2bua-shutdown-')); });
  after(async () => {
    await stopAllStarted(1000);
    rmSync(runDir, { recursive: true, force: true });
  });

  it('SIGTERM: 503 to new calls during shutdown-grace-period, then BYE on both legs, exit 0', async () => {
    const graceSeconds = 2;
    const caller440 = writeToneFiles(path.join(runDir, 'tones'), 440);
    const callee880 = writeToneFiles(path.join(runDir, 'tones'), 880);
    const callee = await startSipp({ name: 'callee', runDir, scenario: 'uas_answer.xml', pauseMs: 200,
      keys: { rtp: `${callee880.ulaw},-1,0` }, maxSeconds: 40 });
    runs.push(callee);
    await waitForListening(callee.port, 'udp');
    daemon = await startB2bua({ runDir, outboundProxy: `sip:127.0.0.1:${callee.port};transport=udp`,
      settings: { 'shutdown-grace-period': graceSeconds } });
    const caller = await startSipp({ name: 'caller', runDir, scenario: 'uac_wait_bye.xml', remote: daemon.address,
      keys: { rtp: `${caller440.ulaw},-1,0`, to_user: 'bob' }, maxSeconds: 40 });
    runs.push(caller);
    await caller.waitForMessage(/^SIP\/2.0 200 /m, 15000);
    await daemon.waitUntilCounters('one call in progress', (c) => c.calls === 1, 5000);

    const t0 = Date.now();
    daemon.process.signal('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    const late = await startSipp({ name: 'late-caller', runDir, scenario: 'uac_expect_error.xml', remote: daemon.address,
      template: { CODE: 503 }, keys: { to_user: 'bob' }, maxSeconds: 15 });
    runs.push(late);

    const lateResult = await late.result();
    assert.equal(lateResult.code, 0, `a new call during shutdown gets 503: ${lateResult.summary}`);
    const status = await daemon.process.exited;
    const elapsed = Date.now() - t0;
    assert.equal(status.code, 0, daemon.logTail());
    assert.ok(elapsed >= graceSeconds * 1000 - 200, `the call was given the grace period (${elapsed} ms)`);
    assert.ok(elapsed < graceSeconds * 1000 + 12000, `shutdown is bounded (${elapsed} ms)`);

    const [callerResult, calleeResult] = [await caller.result(), await callee.result()];
    assert.equal(callerResult.code, 0, `caller got BYE: ${callerResult.summary}`);
    assert.equal(calleeResult.code, 0, `callee got BYE: ${calleeResult.summary}`);
    assert.match(callerResult.messages, /^BYE sip:/m);
    assert.match(calleeResult.messages, /^BYE sip:/m);
    const lines = daemon.logLines();
    assert.ok(lines.some((l) => l['msg'] === 'grace period over: hanging up the remaining calls' && l['calls'] === 1));
    assert.ok(lines.some((l) => l['msg'] === 'b2bua-server stopped'));
  });
});
