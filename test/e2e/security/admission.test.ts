/**
 * Admission control under real overload (core/b2bua/admission.ts): the daemon with the GStreamer engine (one media
 * worker, real pipelines) and `media-max-pending-setups=2`; a sipp caller fires a burst of simultaneous INVITEs (all
 * within a few ms) at it, a sipp callee answers leg B and streams a tone. Some INVITEs must be refused
 * `503` + `Retry-After` before leg B is touched, the others answered with media both ways; every INVITE gets exactly
 * one final response; `/counters` mediaOverloadRefused and `/metrics` b2bua_calls_refused_total{reason="media_overloaded"}
 * equal the 503s sipp saw; afterwards calls, media sessions and ports are back to 0.
 *
 *   flock /tmp/e2e.lock npx mocha --timeout 120000 test/e2e/security/admission.test.ts   (~25 s)
 */
import assert from 'node:assert/strict';
import { sipMessages } from '../../harness/sipp.js';
import type { Tones } from '../../harness/call-scenarios.js';
import { LIVE_COUNTERS } from '../../harness/b2bua.js';
import { callSuite, callThrough, mediaAtPeers, SETTLE_MS } from '../calls/fixture.js';

const BURST = 20;
const HOLD_MS = 2000;

const header = (msg: string, name: string): string | undefined =>
  new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(msg)?.[1]?.trim();

/** Per Call-ID, the distinct final responses to its INVITE that a sipp caller received (retransmissions counted once). */
function finalsByCall(messagesLog: string): { invites: Set<string>; finals: Map<string, Set<string>>; refusals: string[] } {
  const invites = new Set<string>();
  const finals = new Map<string, Set<string>>();
  const refusals: string[] = [];
  for (const m of sipMessages(messagesLog)) {
    const callId = header(m.text, 'Call-ID') ?? '?';
    if (m.direction === 'sent' && /^INVITE /.test(m.text)) invites.add(callId);
    const status = /^SIP\/2\.0 ([2-6]\d\d)/.exec(m.text)?.[1];
    if (m.direction !== 'received' || !status || !/INVITE/.test(header(m.text, 'CSeq') ?? '')) continue;
    const set = finals.get(callId) ?? new Set<string>();
    if (status === '503' && !set.has('503')) refusals.push(m.text);
    set.add(status);
    finals.set(callId, set);
  }
  return { invites, finals, refusals };
}

const burst = (t: Tones) => ({
  caller: {
    scenario: 'uac_burst.xml', template: { HOLD_MS }, calls: BURST, concurrent: BURST, rate: 1000,
    keys: { rtp: `${t.caller.ulaw},-1,0`, to_user: 'bob' }, maxSeconds: 40,
  },
  callee: { scenario: 'uas_answer.xml', calls: BURST, concurrent: BURST, pauseMs: 100, keys: { rtp: `${t.callee.ulaw},-1,0` }, maxSeconds: 45 },
});

interface ReportStream { readonly packetsIn?: number; readonly packetsOut?: number }

describe('admission control under a real burst (GStreamer engine, sipp both sides)', function () {
  callSuite(this, 90000);

  it(`${BURST} simultaneous INVITEs, media-max-pending-setups=2: some 503 + Retry-After, the others answered with media, none lost, counters agree, all released`, async () => {
    const r = await callThrough('admission-burst', burst, {
      settings: { 'media-engine': 'gstreamer', 'media-workers': 1, 'media-max-pending-setups': 2 },
      capture: true,
    });
    const { b2bua } = r;
    assert.equal(r.caller.code, 0, `the caller: every call ended as the scenario allows (200 + media + BYE, or 503 with Retry-After)\n${r.report}`);
    assert.equal(r.caller.stats['SuccessfulCall(C)'], String(BURST), r.report);

    const { invites, finals, refusals } = finalsByCall(r.caller.messages);
    assert.equal(invites.size, BURST, `INVITEs sent: ${invites.size}`);
    const lost = [...invites].filter((id) => !finals.has(id));
    assert.deepEqual(lost, [], 'every INVITE got a final response');
    const twoFinals = [...finals].filter(([, s]) => s.size !== 1).map(([id, s]) => `${id}: ${[...s].join(',')}`);
    assert.deepEqual(twoFinals, [], 'exactly one final response (code) per INVITE');
    const answered = [...finals.values()].filter((s) => s.has('200')).length;
    const refused = [...finals.values()].filter((s) => s.has('503')).length;
    assert.equal(answered + refused, BURST, `200 or 503 only: ${JSON.stringify([...finals].map(([, s]) => [...s]))}`);
    assert.ok(refused >= 1, `some INVITEs refused (got ${refused} of ${BURST}; admission did not act)\n${r.report}`);
    assert.ok(answered >= 1, `some INVITEs answered (got ${answered} of ${BURST})\n${r.report}`);
    for (const m of refusals) {
      assert.equal(header(m, 'Retry-After'), '2', `a 503 carries Retry-After: 2:\n${m}`);
      assert.match(m, /^SIP\/2\.0 503 /);
    }

    // Leg B only for the admitted calls; their media flowed both ways.
    const calleeInvites = new Set(sipMessages(r.callee.messages).filter((m) => m.direction === 'received' && /^INVITE /.test(m.text)).map((m) => header(m.text, 'Call-ID')));
    assert.equal(calleeInvites.size, answered, 'leg B was called once per answered call, never for a refused one');
    const reports = b2bua.logLines().filter((l) => l['msg'] === 'media report');
    assert.equal(reports.length, answered, 'one media report per answered call');
    for (const rep of reports) {
      const media = rep['media'] as Record<'a' | 'b', ReportStream[]>;
      for (const leg of ['a', 'b'] as const) {
        const s = media[leg]?.[0];
        assert.ok(s && (s.packetsIn ?? 0) >= 25 && (s.packetsOut ?? 0) >= 25, `leg ${leg} of call ${String(rep['call'])}: media both ways (>= 0.5 s): ${JSON.stringify(s)}`);
      }
    }
    const tone = mediaAtPeers(r);
    assert.ok(tone.atCallee440 >= 1 && tone.atCaller880 >= 1, `the tones reached the far ends through the engine: ${JSON.stringify(tone)}`);

    // What the daemon counted is what sipp saw.
    const after = await b2bua.waitForCounters(LIVE_COUNTERS, SETTLE_MS);
    assert.equal(after.mediaOverloadRefused, refused, `/counters mediaOverloadRefused vs the 503s sipp received: ${JSON.stringify(after)}`);
    assert.equal(after.callsTotal, answered, `/counters callsTotal (admitted calls only): ${JSON.stringify(after)}`);
    const metrics = await (await fetch(`http://${b2bua.adminAddress}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
    const line = metrics.split('\n').find((l) => l.startsWith('b2bua_calls_refused_total{reason="media_overloaded"} '));
    assert.equal(Number(line?.split(' ')[1]), refused, `/metrics ${line}`);
    const warned = b2bua.logLines().filter((l) => l['code'] === 'B2BUA_MEDIA_OVERLOADED');
    assert.ok(warned.length >= 1, 'the refusals are logged with their error code');
    await b2bua.stop();
  });
});
