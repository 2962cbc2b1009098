/**
 * re-INVITEs through the b2bua. Each side's scenario checks the SDP direction it RECEIVES (sipp ereg
 * check_it: a mismatch fails the call); the assertions below restate them first, for readable failures.
 */
import assert from 'node:assert/strict';
import { pairs } from '../../harness/call-scenarios.js';
import { received } from '../../harness/sipp.js';
import { assertCleanAndStop, assertExitCodes, callSuite, callThrough } from './fixture.js';

const dir = (sdp: string): string => /a=(sendrecv|sendonly|recvonly|inactive)/.exec(sdp)?.[1] ?? 'none (sendrecv)';

describe('calls through the b2bua: re-INVITE', function () {
  callSuite(this);

  it('hold / resume: the callee receives a=sendonly then a=sendrecv; the caller gets recvonly then sendrecv', async () => {
    const r = await callThrough('hold-resume', pairs.holdResume);
    const atCallee = received(r.callee.messages, /^INVITE /).slice(1).map(dir);
    const answers = received(r.caller.messages, /^SIP\/2.0 200/).filter((m) => /CSeq:\s*\d+ INVITE/i.test(m)).slice(1).map(dir);
    const info = `callee received re-INVITE directions ${JSON.stringify(atCallee)}, caller received answers ${JSON.stringify(answers)}\n${r.report}`;
    assert.deepEqual(atCallee, ['sendonly', 'sendrecv'], info);
    assert.match(answers[0] ?? '', /recvonly|inactive/, info);
    assert.equal(answers[1], 'sendrecv', info);
    assertExitCodes(r); // each scenario's own checks (sipp ereg check_it) passed too
    await assertCleanAndStop(r.b2bua);
  });

  it('hold with a=inactive (Flexisip tester pauseWithAudioInactive): the callee is held with a=sendonly (answers recvonly), the caller gets a=inactive', async () => {
    const r = await callThrough('hold-inactive', pairs.holdInactive);
    const atCallee = received(r.callee.messages, /^INVITE /).slice(1).map(dir);
    const answers = received(r.caller.messages, /^SIP\/2.0 200/).filter((m) => /CSeq:\s*\d+ INVITE/i.test(m)).slice(1).map(dir);
    const info = `callee received re-INVITE directions ${JSON.stringify(atCallee)}, caller received answers ${JSON.stringify(answers)}\n${r.report}`;
    assert.deepEqual(atCallee, ['sendonly', 'sendrecv'], info);
    assert.deepEqual(answers, ['inactive', 'sendrecv'], info);
    assertExitCodes(r);
    await assertCleanAndStop(r.b2bua);
  });

  it('both-sides hold: inactive when both hold, each resume seen by the other side', async () => {
    const r = await callThrough('both-hold', pairs.bothHold);
    const atCallee = received(r.callee.messages, /^INVITE /).slice(1).map(dir);
    const atCaller = received(r.caller.messages, /^INVITE /).map(dir);
    const calleeAnswers = received(r.callee.messages, /^SIP\/2.0 200/).filter((m) => /CSeq:\s*\d+ INVITE/i.test(m)).map(dir);
    const info = `callee got offers ${JSON.stringify(atCallee)} and answers ${JSON.stringify(calleeAnswers)}; caller got offers ${JSON.stringify(atCaller)}\n${r.report}`;
    assert.deepEqual(atCallee, ['sendonly', 'sendrecv'], info);
    assert.deepEqual(calleeAnswers, ['inactive', 'sendonly'], info);
    assert.equal(atCaller.length, 2, info);
    assertExitCodes(r); // each scenario's own checks (sipp ereg check_it) passed too
    await assertCleanAndStop(r.b2bua);
  });

  it('add video then remove video: the callee receives m=video with a port, then m=video 0', async () => {
    const r = await callThrough('video', pairs.video);
    const offers = received(r.callee.messages, /^INVITE /).slice(1);
    const info = `${r.report}\nre-INVITEs at callee:\n${offers.join('\n----\n')}`;
    assert.equal(offers.length, 2, info);
    assert.match(offers[0]!, /m=video [1-9]\d* /, info);
    assert.match(offers[1]!, /m=video 0 /, info);
    assertExitCodes(r); // each scenario's own checks (sipp ereg check_it) passed too
    await assertCleanAndStop(r.b2bua);
  });
});
