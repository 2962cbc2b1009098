/** DTMF when only one leg negotiated telephone-event (Flexisip: onDtmfReceived), relay engine: RFC 4733 ↔ SIP INFO. */
import assert from 'node:assert/strict';
import type { PairSpec, Tones } from '../../harness/call-scenarios.js';
import { packetsTo } from '../../harness/flows.js';
import { parseRtp } from '../../harness/rtp.js';
import { received } from '../../harness/sipp.js';
import { assertCleanAndStop, assertExitCodes, callSuite, callThrough } from './fixture.js';

const pair = (t: Tones): PairSpec => ({
  caller: { scenario: 'uac_rfc4733_dtmf.xml', keys: { to_user: 'bob' }, maxSeconds: 30 },
  callee: { scenario: 'uas_dtmf_no_telephone_event.xml', keys: { rtp: `${t.callee.ulaw},-1,0` }, maxSeconds: 30 },
});

describe('calls through the b2bua: DTMF converted when only one leg negotiated telephone-event', function () {
  callSuite(this);

  it('relay engine: leg A\'s RFC 4733 digit reaches leg B (no telephone-event) as one INFO Signal=1, leg B\'s INFO reaches leg A as RFC 4733 events', async () => {
    const r = await callThrough('dtmf-conversion-relay', pair, { settings: { 'media-engine': 'relay' }, capture: true });
    const infos = received(r.callee.messages, /^INFO /);
    const rtpAt = (port: number) => packetsTo(r.packets, port).map((p) => parseRtp(p.payload)).filter((p) => p !== undefined);
    const eventsAtCallee = rtpAt(r.calleeRun.mediaPort).filter((p) => p.payloadType === 101);
    const eventsAtCaller = rtpAt(r.callerRun.mediaPort).filter((p) => p.payloadType === 101);
    const info = `${r.report}\nINFO at callee: ${infos.length}, PT 101 at callee: ${eventsAtCallee.length}, at caller: ${eventsAtCaller.length}`;
    assert.equal(infos.length, 1, info);
    assert.match(infos[0]!, /Content-Type:\s*application\/dtmf-relay/i, info);
    assert.match(infos[0]!, /^Signal=1\r?\nDuration=\d+\r?$/m, info);
    assert.equal(eventsAtCallee.length, 0, `no telephone-event packet reaches leg B\n${info}`);
    assert.ok(eventsAtCaller.length >= 4, info);
    assert.ok(eventsAtCaller.every((p) => p.payload[0] === 5), `every event is digit 5\n${info}`);
    assert.equal(eventsAtCaller.filter((p) => (p.payload[1]! & 0x80) !== 0).length, 3, `3 end packets\n${info}`);
    assert.equal(new Set(eventsAtCaller.map((p) => p.ssrc)).size, 1, info);
    assertExitCodes(r);
    await assertCleanAndStop(r.b2bua);
  });
});
