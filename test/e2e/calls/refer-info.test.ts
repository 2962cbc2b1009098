/** In-dialog requests through the b2bua: blind REFER with NOTIFY sipfrag progress, SIP INFO DTMF. */
import assert from 'node:assert/strict';
import { pairs } from '../../harness/call-scenarios.js';
import { received } from '../../harness/sipp.js';
import { assertCleanAndStop, assertExitCodes, callSuite, callThrough } from './fixture.js';

describe('calls through the b2bua: REFER and INFO', function () {
  callSuite(this);

  it('blind REFER is relayed to the other leg and the NOTIFY sipfrag comes back to the referrer', async () => {
    const r = await callThrough('blind-refer', pairs.blindRefer);
    const refers = received(r.callee.messages, /^REFER /);
    const notifies = received(r.caller.messages, /^NOTIFY /);
    const info = `${r.report}\nREFER at callee: ${refers.length}, NOTIFY at caller: ${notifies.length}`;
    assert.equal(refers.length, 1, info);
    assert.match(refers[0]!, /^Refer-To:.*sip:carol@/im, info);
    assert.ok(notifies.some((n) => /message\/sipfrag/i.test(n) && /^SIP\/2.0 200/m.test(n)), `a NOTIFY with sipfrag "SIP/2.0 200" reached the caller\n${info}`);
    assertExitCodes(r);
    await assertCleanAndStop(r.b2bua);
  });

  it('INFO application/dtmf-relay reaches the callee', async () => {
    const r = await callThrough('info-dtmf', pairs.infoDtmf);
    const infos = received(r.callee.messages, /^INFO /);
    assert.equal(infos.length, 1, r.report);
    assert.match(infos[0]!, /Content-Type:\s*application\/dtmf-relay/i, r.report);
    assert.match(infos[0]!, /Signal=\s*5/, r.report);
    assertExitCodes(r);
    await assertCleanAndStop(r.b2bua);
  });
});
