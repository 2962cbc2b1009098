/** Calls that do not connect or are cut: error responses, CANCEL, max-calls, no-rtp-timeout. */
import assert from 'node:assert/strict';
import { pairs, type Tones } from '../../harness/call-scenarios.js';
import { received, shortLogEntries, startSipp, type SippRun } from '../../harness/sipp.js';
import { assertCleanAndStop, assertExitCodes, callSuite, callThrough } from './fixture.js';

describe('calls through the b2bua: failures and limits', function () {
  callSuite(this);

  for (const [code, reason] of [[486, 'Busy Here'], [603, 'Decline']] as const) {
    it(`${code} ${reason} from the callee is propagated to the caller`, async () => {
      const r = await callThrough(`error-${code}`, () => pairs.error(code, reason));
      assertExitCodes(r); // the caller scenario requires exactly this final response
      assert.equal(received(r.callee.messages, /^ACK /).length, 1, `the b2bua ACKs the callee's ${code}\n${r.report}`);
      await assertCleanAndStop(r.b2bua);
    });
  }

  it('CANCEL after 180: the callee sees the CANCEL, the caller gets 487', async () => {
    const r = await callThrough('cancel', pairs.cancel);
    assertExitCodes(r);
    assert.equal(received(r.callee.messages, /^CANCEL /).length >= 1, true, `callee received CANCEL\n${r.report}`);
    assert.ok(received(r.caller.messages, /^SIP\/2.0 487/).length >= 1, `caller received 487\n${r.report}`);
    await assertCleanAndStop(r.b2bua);
  });

  it('max-calls exceeded: the next INVITE gets 486 while the first call goes on', async () => {
    let first: SippRun | undefined;
    let tones: Tones | undefined;
    const r = await callThrough('max-calls', (t) => {
      tones = t;
      return { caller: pairs.error(486, 'Busy Here').caller, callee: pairs.basic(t).callee };
    }, {
      settings: { 'max-calls': 1 },
      beforeCaller: async ({ b2bua, calleeRun, runDir }) => {
        first = await startSipp({ ...pairs.basic(tones!).caller, name: 'first-caller', runDir, remote: b2bua!.address });
        await calleeRun.waitForMessage(/^ACK /m, 10000); // first call answered
        await b2bua!.waitUntilCounters('calls = 1', (c) => c.calls === 1, 3000);
      },
    });
    const firstResult = await first!.result();
    assertExitCodes(r);
    assert.equal(firstResult.code, 0, `the first call must complete normally\n${firstResult.summary}`);
    assert.equal(received(r.callee.messages, /^INVITE /).length, 1, `the refused INVITE must not reach the callee\n${r.report}`);
    await assertCleanAndStop(r.b2bua);
  });

  it('a silent callee is ended by no-rtp-timeout on both legs', async () => {
    const timeout = 2;
    const r = await callThrough('no-rtp-timeout', (t) => ({
      caller: { ...pairs.calleeBye(t).caller, maxSeconds: 20 },
      callee: { scenario: 'uas_silent.xml', maxSeconds: 20 },
    }), { settings: { 'no-rtp-timeout': timeout } });
    assertExitCodes(r); // both scenarios end only on a BYE they receive
    const entries = shortLogEntries(r.caller.shortMessages);
    const answered = entries.find((e) => e.direction === 'R' && /^SIP\/2.0 200/.test(e.firstLine));
    const bye = entries.find((e) => e.direction === 'R' && /^BYE /.test(e.firstLine));
    assert.ok(answered && bye, `caller saw 200 and BYE\n${r.report}`);
    const after = bye.time - answered.time;
    assert.ok(after >= timeout - 0.3 && after <= timeout + 6, `BYE came ${after.toFixed(2)} s after the answer (no-rtp-timeout=${timeout})\n${r.report}`);
    assert.equal(received(r.callee.messages, /^BYE /).length >= 1, true, `callee received BYE\n${r.report}`);
    await assertCleanAndStop(r.b2bua);
  });
});
