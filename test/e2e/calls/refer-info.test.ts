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

  it('a declined transfer (sipfrag 603 from the transferee) reaches the referrer as sipfrag 603 (Flexisip: 500), the call goes on', async () => {
    const r = await callThrough('blind-refer-declined', pairs.blindReferDeclined);
    const notifies = received(r.caller.messages, /^NOTIFY /);
    const finals = notifies.map((n) => /^SIP\/2\.0 ([2-6]\d\d)/m.exec(n.slice(n.indexOf('\r\n\r\n') + 4))?.[1]).filter((c) => c !== undefined);
    const info = `${r.report}\nfinal sipfrags at the referrer: ${finals.join(', ')}`;
    // Flexisip's CallTransferListener writes 500 for any failure; we pass the transferee's status on (a failure either way).
    assert.deepEqual(finals, ['603'], info);
    assert.ok(notifies.some((n) => /^SIP\/2\.0 603 Declined\r?$/m.test(n)), info);
    assert.ok(notifies.every((n) => !/^SIP\/2\.0 200/m.test(n.slice(n.indexOf('\r\n\r\n') + 4))), `no sipfrag 200\n${info}`);
    assert.equal(received(r.callee.messages, /^BYE /).length, 1, `the original call went on and ended with the caller's BYE\n${info}`);
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
