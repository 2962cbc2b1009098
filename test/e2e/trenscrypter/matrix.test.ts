/**
 * The trenscrypter encryption matrix, end to end with real clients: linphonec "alice" (leg A mode, mandatory)
 * -> the daemon (application=trenscrypter, `outgoing-enc-regex=<leg B mode> sip:bob@.*`, Flexisip keys only: the
 * default media engine) -> linphonec "bob" (auto-answer, leg B mode, mandatory), for the 16 (leg A, leg B) pairs of
 * {none, sdes, dtls-srtp, zrtp}; plus the no-match fallback (leg B in leg A's mode) for an SDES and a ZRTP caller, the
 * ZRTP cache hit of a second call, and every mode (and ZRTP -> DTLS-SRTP) with video added by re-INVITE. Each pair checks: the tone both ways in the far ends' recordings, what each linphonec
 * negotiated, each leg's protocol on the wire (both directions of both linphonecs' RTP ports, test/harness/wire.ts),
 * the daemon's "media report" (no SRTP authentication failure; for a ZRTP leg the SAS equals the one that leg's
 * linphonec printed), every counter back to 0, exit 0 on SIGTERM.
 *
 * Runs alone (about 10 s a row, 15 with video; ~4 min in all):
 *   npx mocha --timeout 180000 test/e2e/trenscrypter/matrix.test.ts
 *   npx mocha --timeout 180000 test/e2e/trenscrypter/matrix.test.ts -g 'leg A sdes -> leg B none'
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { createRunDir } from '../../harness/run-dir.js';
import { startLinphone, type Linphone, type LinphoneEncryption } from '../../harness/linphone.js';
import { encryptedCall, mediaPorts, portWire, WIRE_OF, type CallResult } from '../../harness/encrypted-call.js';
import { startCapture, portsFilter } from '../../harness/capture.js';
import { writeToneFiles, type ToneFiles } from '../../harness/tones.js';
import { requireTools } from '../../harness/tools.js';
import { LIVE_COUNTERS, type B2buaDaemon } from '../../harness/b2bua.js';
import type { IpPacket } from '../../harness/pcap.js';
import { startFlexisipKeysDaemon, trenscrypterSuite } from './fixture.js';

type Mode = 'none' | 'sdes' | 'dtls-srtp' | 'zrtp';
const MODES: readonly Mode[] = ['none', 'sdes', 'dtls-srtp', 'zrtp'];
/** The linphonec `media_encryption` of each trenscrypter mode (mandatory unless none). */
const LINPHONE_OF: Readonly<Record<Mode, LinphoneEncryption>> = { none: 'none', sdes: 'srtp', 'dtls-srtp': 'dtls', zrtp: 'zrtp' };

const CALL_SECONDS = 3;
const VIDEO_CALL_SECONDS = 5;
const SETTLE_MS = 12000;
const TONE = { alice: 440, bob: 880 } as const;

// ---------------------------------------------------------------------------------------------------------------
// The daemon's "media report" (one JSON log line per call at teardown: {msg: "media report", media: {a: [...], b: [...]}}).

type Leg = 'a' | 'b';
type ReportStream = Record<string, unknown> & { readonly kind?: string; readonly srtpAuthFailures?: number };
interface MediaReport {
  readonly line: Record<string, unknown>;
  readonly media: Readonly<Record<Leg, readonly ReportStream[]>>;
}

function mediaReports(b2bua: B2buaDaemon): MediaReport[] {
  return b2bua.logLines().filter((l) => l['msg'] === 'media report').map((line) => ({ line, media: (line['media'] ?? { a: [], b: [] }) as MediaReport['media'] }));
}

export interface ZrtpFacts {
  /** The short authentication string the engine computed for that leg (what its linphonec shows). */
  readonly sas?: unknown;
  /** True when the retained secret of the peer's ZID was found in the cache (a second call of the same parties). */
  readonly cacheHit?: unknown;
}

/**
 * THE ONE PLACE to adapt to the engine's report shape: the ZRTP facts of a leg's audio stream, read from
 * `media.<leg>[0].zrtp` = `{ sas: "ab12", cacheHit: false }`.
 */
function zrtpOf(report: MediaReport, leg: Leg): ZrtpFacts | undefined {
  return (report.media[leg]?.[0]?.['security'] as { zrtp?: ZrtpFacts } | undefined)?.zrtp;
}

const authFailures = (report: MediaReport): number =>
  (['a', 'b'] as const).reduce((n, leg) => n + (report.media[leg] ?? []).reduce((m, s) => m + (s.srtpAuthFailures ?? 0), 0), 0);

// ---------------------------------------------------------------------------------------------------------------

interface Party {
  readonly lp: Linphone;
  readonly mode: Mode;
  readonly tone: ToneFiles;
}

/** alice (leg A mode) and bob (leg B mode) around a daemon routing bob's calls by `enc`; capture of their media ports. */
async function setUp(name: string, a: Mode, b: Mode, o: { enc?: readonly string[]; video?: boolean } = {}) {
  const runDir = createRunDir(`matrix-${name}`);
  const tones = { alice: writeToneFiles(path.join(runDir, 'tones'), TONE.alice), bob: writeToneFiles(path.join(runDir, 'tones'), TONE.bob) };
  const bobLp = await startLinphone({ name: 'bob', runDir, mediaEncryption: LINPHONE_OF[b], autoAnswer: true, video: o.video, maxSeconds: 120 });
  const b2bua = await startFlexisipKeysDaemon(runDir, bobLp.sipPort, o.enc ?? [b, 'sip:bob@.*']);
  const aliceLp = await startLinphone({ name: 'alice', runDir, mediaEncryption: LINPHONE_OF[a], video: o.video, maxSeconds: 120 });
  const cap = await startCapture(path.join(runDir, 'media.pcap'), portsFilter(mediaPorts(aliceLp, bobLp)), 120);
  const alice: Party = { lp: aliceLp, mode: a, tone: tones.alice };
  const bob: Party = { lp: bobLp, mode: b, tone: tones.bob };
  const call = (nth = 1): Promise<CallResult> =>
    encryptedCall({
      caller: { lp: aliceLp, encryption: LINPHONE_OF[a], tone: tones.alice }, callee: { lp: bobLp, encryption: LINPHONE_OF[b], tone: tones.bob },
      target: `sip:bob@${b2bua.address}`, runDir, seconds: o.video ? VIDEO_CALL_SECONDS : CALL_SECONDS, video: o.video, nth,
    });
  const stop = async (): Promise<IpPacket[]> => {
    await Promise.all([aliceLp.quit(), bobLp.quit()]);
    return cap.stop();
  };
  return { runDir, b2bua, alice, bob, call, stop };
}

function assertAudio(r: CallResult, what: string): void {
  assert.ok(r.calleeHeard >= 2, `${what}: bob must hear alice's ${TONE.alice} Hz: ${r.info}`);
  assert.ok(r.callerHeard >= 2, `${what}: alice must hear bob's ${TONE.bob} Hz: ${r.info}`);
}

/** Leg A = alice's port, leg B = bob's port: each in its mode, both directions (sent by the linphonec, sent by the b2bua). */
function assertWire(packets: readonly IpPacket[], alice: Party, bob: Party, o: { video?: boolean; since?: number; until?: number; what: string }): void {
  for (const [leg, p, sent, received] of [['A', alice, TONE.alice, TONE.bob], ['B', bob, TONE.bob, TONE.alice]] as const) {
    const want = WIRE_OF[LINPHONE_OF[p.mode]];
    const w = portWire(packets, p.lp, sent, received, o);
    assert.equal(w.sent.protocol, want, `${o.what}: leg ${leg} (${p.mode}) as sent by ${p.lp.name}: ${w.sent.why}`);
    assert.equal(w.received.protocol, want, `${o.what}: leg ${leg} (${p.mode}) as sent by the b2bua to ${p.lp.name}: ${w.received.why}`);
    if (o.video) {
      assert.equal(w.videoSent!.protocol, want, `${o.what}: leg ${leg} video as sent by ${p.lp.name}: ${w.videoSent!.why}`);
      assert.equal(w.videoReceived!.protocol, want, `${o.what}: leg ${leg} video as sent by the b2bua to ${p.lp.name}: ${w.videoReceived!.why}`);
    }
  }
}

/** No SRTP auth failure; for each ZRTP leg the engine's SAS is the one that leg's linphonec printed (and the cache as expected). */
function assertReport(report: MediaReport, r: CallResult, alice: Party, bob: Party, o: { what: string; cacheHit?: boolean }): void {
  const line = JSON.stringify(report.line);
  assert.equal(authFailures(report), 0, `${o.what}: SRTP authentication failures in the media report: ${line}`);
  for (const [leg, p, printed] of [['a', alice, r.callerEncrypted], ['b', bob, r.calleeEncrypted]] as const) {
    if (p.mode !== 'zrtp') continue;
    const z = zrtpOf(report, leg);
    assert.ok(printed?.authToken, `${o.what}: ${p.lp.name} printed no SAS: ${r.info}`);
    assert.equal(z?.sas, printed.authToken, `${o.what}: leg ${leg} SAS in the media report (media.${leg}[0].zrtp.sas) vs ${p.lp.name}'s: ${line}`);
    if (o.cacheHit !== undefined) assert.equal(z?.cacheHit, o.cacheHit, `${o.what}: leg ${leg} media.${leg}[0].zrtp.cacheHit: ${line}`);
  }
}

async function finish(b2bua: B2buaDaemon, calls: number, what: string): Promise<MediaReport[]> {
  await b2bua.waitForCounters(LIVE_COUNTERS, SETTLE_MS);
  const reports = mediaReports(b2bua);
  assert.equal(reports.length, calls, `${what}: one "media report" per call`);
  await b2bua.stop();
  return reports;
}

interface Pair {
  readonly a: Mode;
  readonly b: Mode;
}
/** The 16 pairs; a failing one names itself ("leg A <a> -> leg B <b>"). */
const PAIRS: readonly Pair[] = MODES.flatMap((a) => MODES.map((b) => ({ a, b })));

describe('trenscrypter encryption matrix: linphonec -> b2bua (default engine) -> linphonec', function () {
  trenscrypterSuite(this, 180000);
  before(() => requireTools(['linphonec', 'dumpcap', 'ss']));

  for (const { a, b } of PAIRS) {
    const what = `leg A ${a} -> leg B ${b}`;
    it(`${what}: tone both ways, leg A ${WIRE_OF[LINPHONE_OF[a]]} and leg B ${WIRE_OF[LINPHONE_OF[b]]} on the wire, media report clean${a === 'zrtp' || b === 'zrtp' ? ', ZRTP SAS per leg' : ''}`, async () => {
      const s = await setUp(`${a}-${b}`, a, b);
      const r = await s.call();
      const packets = await s.stop();
      assertAudio(r, what);
      assertWire(packets, s.alice, s.bob, { what });
      const [report] = await finish(s.b2bua, 1, what);
      assertReport(report!, r, s.alice, s.bob, { what, cacheHit: false });
    });
  }

  // the fallback for an SDES and a ZRTP caller
  for (const mode of ['sdes', 'zrtp'] as const) {
    it(`no rule matches bob (a rule for carol only): a ${mode} caller gets a ${mode} leg B${mode === 'zrtp' ? ', SAS per leg' : ''}`, async () => {
      const what = `${mode} caller, no rule matched`;
      const s = await setUp(`${mode}-nomatch`, mode, mode, { enc: ['none', 'sip:carol@.*'] });
      const r = await s.call();
      const packets = await s.stop();
      assertAudio(r, what);
      assertWire(packets, s.alice, s.bob, { what });
      const [report] = await finish(s.b2bua, 1, what);
      assertReport(report!, r, s.alice, s.bob, { what });
    });
  }

  it('zrtp -> zrtp twice between the same parties: the second call is a ZRTP cache hit on both legs', async () => {
    const s = await setUp('zrtp-cache', 'zrtp', 'zrtp');
    const windows: { since: number; until: number }[] = [];
    const results: CallResult[] = [];
    for (const nth of [1, 2]) {
      const since = Date.now() / 1000;
      results.push(await s.call(nth));
      windows.push({ since, until: Date.now() / 1000 });
      assertAudio(results[nth - 1]!, `call ${nth}`);
    }
    const packets = await s.stop();
    for (const [i, w] of windows.entries()) assertWire(packets, s.alice, s.bob, { ...w, what: `call ${i + 1}` });
    const reports = await finish(s.b2bua, 2, 'zrtp cache');
    assertReport(reports[0]!, results[0]!, s.alice, s.bob, { what: 'call 1 (fresh caches)', cacheHit: false });
    assertReport(reports[1]!, results[1]!, s.alice, s.bob, { what: 'call 2 (same parties)', cacheHit: true });
  });

  // every mode with video, and one transcoded pair (video keys and handshakes differ per leg)
  const VIDEO_PAIRS: readonly (readonly [Mode, Mode])[] = [['none', 'none'], ['sdes', 'sdes'], ['dtls-srtp', 'dtls-srtp'], ['zrtp', 'zrtp'], ['zrtp', 'dtls-srtp']];
  for (const [a, b] of VIDEO_PAIRS) {
    it(`${a} -> ${b} with video added by re-INVITE (camera on): tone both ways, audio and video ${a} on leg A and ${b} on leg B`, async () => {
      const what = `${a} -> ${b} + video`;
      const s = await setUp(`${a}-${b}-video`, a, b, { video: true });
      const r = await s.call();
      const packets = await s.stop();
      assertAudio(r, what);
      assertWire(packets, s.alice, s.bob, { what, video: true });
      const [report] = await finish(s.b2bua, 1, what);
      assertReport(report!, r, s.alice, s.bob, { what });
      for (const leg of ['a', 'b'] as const) {
        assert.ok((report!.media[leg] ?? []).some((st) => st.kind === 'video'), `${what}: leg ${leg} has a video stream in the media report: ${JSON.stringify(report!.line)}`);
      }
    });
  }
});
