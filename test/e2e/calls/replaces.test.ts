/**
 * An INVITE with Replaces (RFC 3891, attended transfer) naming one of our dialogs: leg B's INVITE names instead the
 * dialog the far side has with us (Flexisip's b2bua-server.cc rewrites it the same way); a Replaces naming no dialog of
 * ours is passed on unchanged. sipp peers: caller 1 holds a call to the callee, caller 2 INVITEs with Replaces.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRunDir } from '../../harness/run-dir.js';
import { current, standardTones } from '../../harness/call-pair.js';
import { startB2bua } from '../../harness/b2bua.js';
import { freePorts } from '../../harness/ports.js';
import { received, startSipp, waitForListening } from '../../harness/sipp.js';
import { callSuite, assertCleanAndStop } from './fixture.js';

const rtpKey = (file: string): string => `${file},-1,0`;

function header(message: string, name: string): string {
  return new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(message)?.[1]?.trim() ?? '';
}
function tagOf(nameAddr: string): string {
  return /;\s*tag=([^;>\s]+)/i.exec(nameAddr)?.[1] ?? '';
}

describe('calls through the b2bua: INVITE with Replaces', function () {
  callSuite(this, 60000);

  it('Replaces naming leg A\'s dialog with us is rewritten to the dialog leg B\'s side has with us; an unknown one passes as is', async () => {
    const runDir = createRunDir('replaces');
    current.runDir = runDir;
    const tones = standardTones(runDir);
    const [calleePort, calleeMedia] = await freePorts(2);
    const callee = await startSipp({ name: 'callee', runDir, scenario: 'uas_answer.xml', port: calleePort, mediaPort: calleeMedia, calls: 3,
      keys: { rtp: rtpKey(tones.callee.ulaw) }, pauseMs: 200, maxSeconds: 40 });
    current.runs.push(callee);
    await waitForListening(calleePort!, 'udp');
    const b2bua = await startB2bua({ runDir, outboundProxy: `sip:127.0.0.1:${calleePort};transport=udp` });
    current.b2bua = b2bua;

    const first = await startSipp({ name: 'caller1', runDir, scenario: 'uac_call.xml', remote: b2bua.address, pauseMs: 9000,
      keys: { rtp: rtpKey(tones.caller.ulaw), to_user: 'bob' }, maxSeconds: 30 });
    current.runs.push(first);
    await first.waitForMessage(/SIP\/2\.0 200 OK[\s\S]*CSeq: \d+ INVITE/, 10000);
    await callee.waitForMessage(/^ACK /m, 10000);
    // Caller 1's dialog with us: its Call-ID, our tag (To of the 200), its tag (From).
    const ok = received(fs.readFileSync(first.files.messages, 'utf8'), /^SIP\/2\.0 200/)[0]!;
    const dialogA = { callId: header(ok, 'Call-ID'), ours: tagOf(header(ok, 'To')), theirs: tagOf(header(ok, 'From')) };
    // The callee's dialog with us (leg B): Call-ID and our tag from its INVITE, its own tag from our ACK's To.
    const calleeLog = (): string => fs.readFileSync(callee.files.messages, 'utf8');
    const inviteB = received(calleeLog(), /^INVITE /)[0]!;
    const ackB = received(calleeLog(), /^ACK /)[0]!;
    const dialogB = { callId: header(inviteB, 'Call-ID'), ours: tagOf(header(inviteB, 'From')), theirs: tagOf(header(ackB, 'To')) };
    assert.ok(dialogA.callId && dialogA.ours && dialogA.theirs && dialogB.callId && dialogB.ours && dialogB.theirs, JSON.stringify({ dialogA, dialogB }));

    const replacing = await startSipp({ name: 'caller2', runDir, scenario: 'uac_replaces.xml', remote: b2bua.address, pauseMs: 1000, maxSeconds: 20,
      keys: { rtp: rtpKey(tones.caller.ulaw), to_user: 'bob', replaces: `${dialogA.callId};to-tag=${dialogA.ours};from-tag=${dialogA.theirs}` } });
    current.runs.push(replacing);
    const unknown = 'unknown-call@192.0.2.1;to-tag=abc;from-tag=def';
    const stray = await startSipp({ name: 'caller3', runDir, scenario: 'uac_replaces.xml', remote: b2bua.address, pauseMs: 500, maxSeconds: 20,
      keys: { rtp: rtpKey(tones.caller.ulaw), to_user: 'bob', replaces: unknown } });
    current.runs.push(stray);
    const [r2, r3, r1] = await Promise.all([replacing.result(), stray.result(), first.result()]);
    assert.equal(r2.code, 0, r2.summary);
    assert.equal(r3.code, 0, r3.summary);
    assert.equal(r1.code, 0, r1.summary);

    const invites = received(calleeLog(), /^INVITE /);
    assert.equal(invites.length, 3, 'the callee got leg B of each call');
    const replacesAtCallee = invites.map((i) => header(i, 'Replaces')).filter((v) => v !== '');
    assert.deepEqual(replacesAtCallee.sort(), [`${dialogB.callId};to-tag=${dialogB.theirs};from-tag=${dialogB.ours}`, unknown].sort(),
      'the callee is asked to replace its own dialog with us (to-tag = its tag, from-tag = ours), the unknown one unchanged');
    assert.ok(!replacesAtCallee.some((v) => v.includes(dialogA.callId)), 'leg A\'s Call-ID never reaches the callee');
    await assertCleanAndStop(b2bua);
  });
});

