/**
 * Harness self-test: every caller/callee scenario pair of the suite, peer-to-peer (no b2bua).
 * A pair that fails here is a harness bug; a pair that passes here and fails through the b2bua
 * points at the server. The last test proves the scenarios' checks can fail.
 */
import assert from 'node:assert/strict';
import { createRunDir } from '../../harness/run-dir.js';
import { runCallPair, standardTones, type CallPairResult } from '../../harness/call-pair.js';
import { pairs, type PairSpec } from '../../harness/call-scenarios.js';
import { stopAllStarted } from '../../harness/processes.js';
import { requireTools } from '../../harness/tools.js';
import { sipMessages } from '../../harness/sipp.js';

async function direct(name: string, make: (t: ReturnType<typeof standardTones>) => PairSpec): Promise<CallPairResult> {
  const runDir = createRunDir(`harness-pair-${name}`);
  return runCallPair({ runDir, ...make(standardTones(runDir)) });
}

function assertBothPass(r: CallPairResult): void {
  assert.equal(r.caller.code, 0, r.report);
  assert.equal(r.callee.code, 0, r.report);
}

describe('harness self-test: scenario pairs peer-to-peer', function () {
  this.timeout(40000);
  before(() => requireTools(['sipp', 'ss']));
  afterEach(() => stopAllStarted());

  it('callee BYE', async () => assertBothPass(await direct('callee-bye', pairs.calleeBye)));
  it('183 early media then 200', async () => assertBothPass(await direct('early-media', pairs.earlyMedia)));
  it('486 busy', async () => assertBothPass(await direct('486', () => pairs.error(486, 'Busy Here'))));
  it('CANCEL after 180', async () => assertBothPass(await direct('cancel', pairs.cancel)));
  it('hold / resume', async () => assertBothPass(await direct('hold', pairs.holdResume)));
  it('both-sides hold', async () => assertBothPass(await direct('both-hold', pairs.bothHold)));
  it('add / remove video', async () => assertBothPass(await direct('video', pairs.video)));
  it('blind REFER with NOTIFY sipfrag', async () => {
    const r = await direct('refer', pairs.blindRefer);
    assertBothPass(r);
    assert.ok(sipMessages(r.caller.messages).some((m) => m.direction === 'received' && /^NOTIFY /.test(m.text) && /SIP\/2.0 200/.test(m.text)), r.report);
  });
  it('INFO dtmf-relay', async () => assertBothPass(await direct('info', pairs.infoDtmf)));
  it('10 quick calls, 5 at once', async () => {
    const r = await direct('load', () => pairs.load(10, 5, 300, 20));
    assertBothPass(r);
    assert.equal(r.caller.stats['SuccessfulCall(C)'], '10', r.report);
  });
  it('the scenario checks bite: a callee expecting a hold fails on a video offer', async () => {
    const r = await direct('negative', (t) => ({ caller: pairs.video(t).caller, callee: { ...pairs.holdResume(t).callee, maxSeconds: 8 } }));
    assert.notEqual(r.callee.code, 0, `callee must fail\n${r.report}`);
  });
});
