/**
 * Admission control under real overload (core/b2bua/admission.ts): the daemon with the GStreamer engine (one media
 * worker, real pipelines), sipp callers firing bursts of simultaneous INVITEs (all within a few ms) at it, a sipp callee
 * answering leg B and streaming a tone. One case per bound, the other bounds off:
 *  - `media-max-pending-setups=2`: some INVITEs of a 20-call burst are refused;
 *  - `media-max-sessions-per-worker=3`: of a 5-call burst exactly 3 are admitted; once they have ended, exactly 3 of the
 *    next 5-call burst are admitted again;
 *  - `media-max-setup-latency=2000`: the worker is stopped (SIGSTOP) while a first call waits for it; a burst arriving
 *    once that request has waited longer than the bound is refused as a whole; after SIGCONT and the latency window
 *    (LATENCY_WINDOW_MS) a new burst is admitted as a whole, and the waiting call is answered.
 * Refused INVITEs get `503 Service Unavailable` + `Retry-After: 2` before leg B is touched (the phrase names no bound: the
 * log line does); admitted ones are answered with media both ways; every INVITE gets exactly one final response;
 * `/counters` mediaOverloadRefused and `/metrics` b2bua_calls_refused_total{reason="media_overloaded"} equal the 503s
 * sipp saw; afterwards calls, media sessions and ports are back to 0.
 *
 *   flock /tmp/e2e.lock npx mocha --timeout 120000 test/e2e/security/admission.test.ts   (~40 s of calls)
 */
import assert from 'node:assert/strict';
import { sipMessages, startSipp, type SippResult, type SippRun } from '../../harness/sipp.js';
import type { CallPairResult, PeerSpec } from '../../harness/call-pair.js';
import type { Tones } from '../../harness/call-scenarios.js';
import { LIVE_COUNTERS, type B2buaDaemon } from '../../harness/b2bua.js';
import { sleep } from '../../harness/wait.js';
import { LATENCY_WINDOW_MS } from '../../../core/media/worker/channel.js';
import { callSuite, callThrough, mediaAtPeers, SETTLE_MS } from '../calls/fixture.js';

const BURST = 20;
const HOLD_MS = 2000;
/** Only the bound under test: the others off. */
const NO_BOUNDS = { 'media-max-pending-setups': 0, 'media-max-setup-latency': 0, 'media-max-sessions-per-worker': 0 };
const GST = { 'media-engine': 'gstreamer', 'media-workers': 1 };

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

/**
 * What one burst caller saw, checked: it ended as its scenario allows, sent `calls` INVITEs, each got exactly one final
 * response: 200, or `503 Service Unavailable` with `Retry-After: 2` and nothing of our configuration.
 */
function burstOutcome(caller: SippResult, calls: number, report: string): { answered: number; refused: number } {
  assert.equal(caller.code, 0, `${caller.name}: every call ended as the scenario allows (200 + media + BYE, or 503 with Retry-After)\n${caller.summary}\n${report}`);
  assert.equal(caller.stats['SuccessfulCall(C)'], String(calls), `${caller.summary}\n${report}`);
  const { invites, finals, refusals } = finalsByCall(caller.messages);
  assert.equal(invites.size, calls, `${caller.name}: INVITEs sent: ${invites.size}`);
  const lost = [...invites].filter((id) => !finals.has(id));
  assert.deepEqual(lost, [], `${caller.name}: every INVITE got a final response`);
  const twoFinals = [...finals].filter(([, s]) => s.size !== 1).map(([id, s]) => `${id}: ${[...s].join(',')}`);
  assert.deepEqual(twoFinals, [], `${caller.name}: exactly one final response (code) per INVITE`);
  const answered = [...finals.values()].filter((s) => s.has('200')).length;
  const refused = [...finals.values()].filter((s) => s.has('503')).length;
  assert.equal(answered + refused, calls, `${caller.name}: 200 or 503 only: ${JSON.stringify([...finals].map(([, s]) => [...s]))}`);
  for (const m of refusals) {
    assert.equal(header(m, 'Retry-After'), '2', `a 503 carries Retry-After: 2:\n${m}`);
    assert.match(m, /^SIP\/2\.0 503 Service Unavailable\r?\n/, `the generic reason phrase, no bound in it:\n${m}`);
    assert.doesNotMatch(m, /media-max-|overloaded/, `nothing of our configuration in the 503:\n${m}`);
  }
  return { answered, refused };
}

interface ReportStream { readonly packetsIn?: number; readonly packetsOut?: number }

/** Leg B only for the admitted calls; one media report per admitted call, media both ways; the tones reached the far ends. */
function assertMediaOfAdmitted(r: CallPairResult & { b2bua: B2buaDaemon }, answered: number): void {
  const calleeInvites = new Set(sipMessages(r.callee.messages).filter((m) => m.direction === 'received' && /^INVITE /.test(m.text)).map((m) => header(m.text, 'Call-ID')));
  assert.equal(calleeInvites.size, answered, 'leg B was called once per answered call, never for a refused one');
  const reports = r.b2bua.logLines().filter((l) => l['msg'] === 'media report');
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
}

/** What the daemon counted is what sipp saw; the refusals are logged with their code and the bound; everything released. */
async function assertCountedAndReleased(b2bua: B2buaDaemon, answered: number, refused: number, bound: string): Promise<void> {
  const after = await b2bua.waitForCounters(LIVE_COUNTERS, SETTLE_MS);
  assert.equal(after.mediaOverloadRefused, refused, `/counters mediaOverloadRefused vs the 503s sipp received: ${JSON.stringify(after)}`);
  assert.equal(after.callsTotal, answered, `/counters callsTotal (admitted calls only): ${JSON.stringify(after)}`);
  const metrics = await (await fetch(`http://${b2bua.adminAddress}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
  const line = metrics.split('\n').find((l) => l.startsWith('b2bua_calls_refused_total{reason="media_overloaded"} '));
  assert.equal(Number(line?.split(' ')[1]), refused, `/metrics ${line}`);
  const warned = b2bua.logLines().filter((l) => l['code'] === 'B2BUA_MEDIA_OVERLOADED');
  assert.ok(warned.length >= 1, 'the refusals are logged with their error code');
  assert.ok(warned.every((l) => String(l['problem']).includes(bound)), `the log line names the bound (${bound}) for the operator: ${JSON.stringify(warned)}`);
  await b2bua.stop();
}

const burstCaller = (t: Tones, calls: number, holdMs = HOLD_MS): PeerSpec => ({
  scenario: 'uac_burst.xml', template: { HOLD_MS: holdMs }, calls, concurrent: calls, rate: 1000,
  keys: { rtp: `${t.caller.ulaw},-1,0`, to_user: 'bob' }, maxSeconds: 40,
});

const answeringCallee = (t: Tones, calls: number, maxSeconds = 45): PeerSpec =>
  ({ scenario: 'uas_answer.xml', calls, concurrent: calls, pauseMs: 100, keys: { rtp: `${t.callee.ulaw},-1,0` }, maxSeconds });

/** Another caller at the pair's daemon (the pair's callee answers its admitted calls). */
const startCaller = (spec: PeerSpec, name: string, runDir: string, b2bua: B2buaDaemon): Promise<SippRun> =>
  startSipp({ ...spec, name, runDir, remote: b2bua.address });

async function workerPid(b2bua: B2buaDaemon): Promise<number> {
  const res = await fetch(`http://${b2bua.adminAddress}/health`, { signal: AbortSignal.timeout(3000) });
  const pid = ((await res.json()) as { media: { workers: { pid: number }[] } }).media.workers[0]?.pid;
  assert.ok(pid !== undefined && pid > 0, `the media worker's pid from /health: ${pid}`);
  return pid;
}

describe('admission control under a real burst (GStreamer engine, sipp both sides)', function () {
  callSuite(this, 90000);

  it(`${BURST} simultaneous INVITEs, media-max-pending-setups=2: some 503 + Retry-After, the others answered with media, none lost, counters agree, all released`, async () => {
    const r = await callThrough('admission-burst', (t) => ({ caller: burstCaller(t, BURST), callee: answeringCallee(t, BURST) }), {
      settings: { ...GST, ...NO_BOUNDS, 'media-max-pending-setups': 2 },
      capture: true,
    });
    const { answered, refused } = burstOutcome(r.caller, BURST, r.report);
    assert.ok(refused >= 1, `some INVITEs refused (got ${refused} of ${BURST}; admission did not act)\n${r.report}`);
    assert.ok(answered >= 1, `some INVITEs answered (got ${answered} of ${BURST})\n${r.report}`);
    assertMediaOfAdmitted(r, answered);
    await assertCountedAndReleased(r.b2bua, answered, refused, 'media-max-pending-setups=2');
  });

  const CAP = 3;
  const CAP_BURST = 5;
  const CAP_HOLD_MS = 4000;
  it(`media-max-sessions-per-worker=${CAP}: of ${CAP_BURST} simultaneous INVITEs exactly ${CAP} are admitted with media, the others 503; once those ended, exactly ${CAP} of the next ${CAP_BURST} again`, async () => {
    let tones: Tones | undefined;
    let first: SippResult | undefined;
    const r = await callThrough('admission-sessions', (t) => {
      tones = t;
      return { caller: burstCaller(t, CAP_BURST, CAP_HOLD_MS), callee: answeringCallee(t, 2 * CAP, 60) };
    }, {
      settings: { ...GST, ...NO_BOUNDS, 'media-max-sessions-per-worker': CAP },
      capture: true,
      beforeCaller: async ({ b2bua, runDir }) => {
        first = await (await startCaller(burstCaller(tones!, CAP_BURST, CAP_HOLD_MS), 'first-burst', runDir, b2bua!)).result();
        await b2bua!.waitForCounters(['calls', 'mediaSessions'], SETTLE_MS); // the first burst's calls have ended, their sessions closed
      },
    });
    const one = burstOutcome(first!, CAP_BURST, r.report);
    assert.deepEqual(one, { answered: CAP, refused: CAP_BURST - CAP }, `first burst: exactly the calls beyond the cap refused\n${first!.summary}`);
    const two = burstOutcome(r.caller, CAP_BURST, r.report);
    assert.deepEqual(two, { answered: CAP, refused: CAP_BURST - CAP }, `second burst, after the first calls ended: admitted again up to the cap\n${r.report}`);
    assertMediaOfAdmitted(r, 2 * CAP);
    await assertCountedAndReleased(r.b2bua, 2 * CAP, 2 * (CAP_BURST - CAP), `media-max-sessions-per-worker=${CAP}`);
  });

  const LATENCY_BOUND_MS = 2000; // the default: margin for a loaded machine answering the recovered burst
  const STALLED = 5;
  const RECOVERED = 3;
  it(`media-max-setup-latency=${LATENCY_BOUND_MS}: worker stopped (SIGSTOP) with a call waiting on it: a burst of ${STALLED} refused as a whole; after SIGCONT and the latency window, a burst of ${RECOVERED} admitted with media, and the waiting call answered`, async () => {
    let tones: Tones | undefined;
    let probe: SippResult | undefined;
    let stalled: SippResult | undefined;
    const r = await callThrough('admission-latency', (t) => {
      tones = t;
      return { caller: burstCaller(t, RECOVERED), callee: answeringCallee(t, 1 + RECOVERED, 60) };
    }, {
      settings: { ...GST, ...NO_BOUNDS, 'media-max-setup-latency': LATENCY_BOUND_MS },
      capture: true,
      beforeCaller: async ({ b2bua, runDir }) => {
        const pid = await workerPid(b2bua!);
        process.kill(pid, 'SIGSTOP');
        let probeRun: SippRun | undefined;
        try {
          // Nothing waits on the stopped worker yet: this call is admitted, its media request then waits unanswered.
          probeRun = await startCaller(burstCaller(tones!, 1), 'waiting-call', runDir, b2bua!);
          await b2bua!.waitUntilCounters('the first call admitted', (c) => c.callsTotal === 1, 5000);
          await sleep(LATENCY_BOUND_MS + 500); // that request has now waited longer than the bound
          stalled = await (await startCaller(burstCaller(tones!, STALLED), 'stalled-burst', runDir, b2bua!)).result();
        } finally {
          process.kill(pid, 'SIGCONT');
        }
        const resumedAt = Date.now(); // the worker answers now: a slow answer recorded at about this time
        probe = await probeRun.result();
        await sleep(resumedAt + LATENCY_WINDOW_MS + 1000 - Date.now()); // ... and out of the latency window
      },
    });
    const s = burstOutcome(stalled!, STALLED, r.report);
    assert.deepEqual(s, { answered: 0, refused: STALLED }, `while the worker's oldest request waited over the bound every INVITE was refused\n${stalled!.summary}`);
    const p = burstOutcome(probe!, 1, r.report);
    assert.deepEqual(p, { answered: 1, refused: 0 }, `the call that was waiting on the stopped worker is answered once it resumes\n${probe!.summary}`);
    const a = burstOutcome(r.caller, RECOVERED, r.report);
    assert.deepEqual(a, { answered: RECOVERED, refused: 0 }, `after recovery every INVITE admitted\n${r.report}`);
    assertMediaOfAdmitted(r, 1 + RECOVERED);
    await assertCountedAndReleased(r.b2bua, 1 + RECOVERED, STALLED, `media-max-setup-latency=${LATENCY_BOUND_MS}`);
  });
});
