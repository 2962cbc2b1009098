/** Basic calls through the b2bua: media both ways checked at the far side, both hang-up directions, ringing, early media. */
import assert from 'node:assert/strict';
import { pairs } from '../../harness/call-scenarios.js';
import { received, sipSequence } from '../../harness/sipp.js';
import { packetsTo, toneSecondsIn } from '../../harness/flows.js';
import { assertCleanAndStop, assertExitCodes, callSuite, callThrough, mediaAtPeers } from './fixture.js';

describe('calls through the b2bua: basic', function () {
  callSuite(this);

  it('basic call, caller BYE: RTP tones both ways decoded at the far side, 180 then 200', async () => {
    const r = await callThrough('basic-call', pairs.basic, { capture: true });
    assertExitCodes(r);
    const m = mediaAtPeers(r);
    const info = `${r.report}\nflows:\n${m.flows}`;
    assert.ok(m.atCallee440 >= 2, `callee received ${m.atCallee440} s of the caller's 440 Hz through the relay\n${info}`);
    assert.ok(m.atCaller880 >= 2, `caller received ${m.atCaller880} s of the callee's 880 Hz through the relay\n${info}`);
    // the relay really sits in the middle: media reaches each peer from the b2bua, not from the other peer
    assert.ok(packetsTo(r.packets, r.calleeRun.mediaPort).every((p) => p.srcPort !== r.callerRun.mediaPort), `media bypassed the b2bua\n${info}`);
    const seq = sipSequence(r.caller.shortMessages).join(' | ');
    assert.match(seq, /R SIP\/2.0 180 [^|]*\|.*R SIP\/2.0 200 /, `caller must see 180 then 200: ${seq}`);
    assert.equal(received(r.callee.messages, /^BYE /).length >= 1, true, `callee received the caller's BYE\n${r.report}`);
    const leg = received(r.callee.messages, /^INVITE /)[0] ?? '';
    assert.doesNotMatch(leg, new RegExp(`Call-ID:\\s*${escape(callIdOf(r.caller.messages))}`), 'leg B has its own Call-ID');
    await assertCleanAndStop(r.b2bua);
  });

  it('late offer (INVITE without SDP): leg B gets G.711 offered, the caller gets the offer in the 200 and answers in its ACK; tones both ways', async () => {
    const r = await callThrough('late-offer', pairs.lateOffer, { capture: true });
    assertExitCodes(r);
    const m = mediaAtPeers(r);
    const info = `${r.report}\nflows:\n${m.flows}`;
    const legB = received(r.callee.messages, /^INVITE /)[0] ?? '';
    assert.match(legB, /^m=audio [1-9]\d* RTP\/AVP 0 8 101\r?$/m, `leg B is offered PCMU, PCMA, telephone-event\n${legB}`);
    const ok = received(r.caller.messages, /^SIP\/2\.0 200/)[0] ?? '';
    assert.match(ok, /^m=audio [1-9]\d* RTP\/AVP 0 101\r?$/m, `the 200 offers the caller what the callee chose\n${ok}`);
    assert.ok(m.atCallee440 >= 2, `callee received ${m.atCallee440} s of the caller's 440 Hz\n${info}`);
    assert.ok(m.atCaller880 >= 2, `caller received ${m.atCaller880} s of the callee's 880 Hz (sent once its ACK told us where)\n${info}`);
    await assertCleanAndStop(r.b2bua);
  });

  it('callee BYE ends the caller leg', async () => {
    const r = await callThrough('callee-bye', pairs.calleeBye);
    assertExitCodes(r);
    assert.equal(received(r.caller.messages, /^BYE /).length >= 1, true, `caller received a BYE\n${r.report}`);
    await assertCleanAndStop(r.b2bua);
  });

  it('183 early media: RTP reaches the caller before the 200', async () => {
    const r = await callThrough('early-media', pairs.earlyMedia, { capture: true });
    assertExitCodes(r);
    const ok200 = r.packets.find((p) => p.dstPort === r.callerRun.port && /^SIP\/2.0 200 [\s\S]*CSeq:\s*\d+ INVITE/i.test(p.payload.toString('latin1')));
    assert.ok(ok200, `no 200 OK to the INVITE seen on the caller's SIP port\n${r.report}`);
    const early = packetsTo(r.packets, r.callerRun.mediaPort).filter((p) => p.time < ok200.time);
    const earlyTone = toneSecondsIn(early, 880);
    assert.ok(earlyTone >= 1, `caller received ${earlyTone} s of the callee's tone before the 200 (${early.length} packets)\n${r.report}\n${mediaAtPeers(r).flows}`);
    await assertCleanAndStop(r.b2bua);
  });
});

function callIdOf(messages: string): string {
  return /Call-ID:\s*(\S+)/i.exec(messages)?.[1] ?? '<none>';
}
function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
