/**
 * trenscrypter + GStreamer engine through the daemon, with our own SIP+SRTP endpoints on both legs
 * (test/harness/sip-ua.ts, srtp-media.ts: an SRTP implementation independent of the engine's libsrtp):
 * SDES -> SDES with different suites per leg, the no-match fallback, the 488 for a mode the engine cannot do,
 * SSRC change and re-key mid-call.
 */
import assert from 'node:assert/strict';
import { SipError } from '../../harness/sip-ua.js';
import { placeCall, plain, rekey, sdes, sdesOrPlain, type PlacedCall, type CallSide } from '../../harness/srtp-call.js';
import { pcmuWireSize, type Suite } from '../../harness/srtp-media.js';
import { sleep } from '../../harness/wait.js';
import { LIVE_COUNTERS } from '../../harness/b2bua.js';
import { DEFAULT_SDES_SUITES } from '../../../plugins/trenscrypter/policy.js';
import { mediaReportCount, mediaReportTotal, setUp, trenscrypterSuite } from './fixture.js';

const SETTLE_MS = 12000;
const CALLER_HZ = 440;
const CALLEE_HZ = 880;

/** Tone seconds and packet accounting at each end of one call. */
function report(a: PlacedCall, b: CallSide): string {
  return `caller sent ${a.media.totalSent()} received ${a.media.totalReceived()} (auth failures ${a.media.authFailures}, sizes ${a.media.receivedSizes.slice(0, 3).join(',')}); ` +
    `callee sent ${b.media.totalSent()} received ${b.media.totalReceived()} (auth failures ${b.media.authFailures}, sizes ${b.media.receivedSizes.slice(0, 3).join(',')}); ` +
    `tone at callee ${b.media.toneSeconds(CALLER_HZ)} s, at caller ${a.media.toneSeconds(CALLEE_HZ)} s`;
}

async function hangUp(a: PlacedCall, b: CallSide): Promise<void> {
  a.media.stop();
  b.media.stop();
  await a.dialog.bye();
  await b.dialog.waitEnded(5000);
}

describe('trenscrypter through the daemon (GStreamer engine): own SIP+SRTP endpoints', function () {
  trenscrypterSuite(this, 60000);

  const pairsOfSuites: [Suite, Suite][] = [
    ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'],
    ['AES_256_CM_HMAC_SHA1_32', 'AES_CM_128_HMAC_SHA1_80'],
    ['AES_CM_128_HMAC_SHA1_32', 'AES_256_CM_HMAC_SHA1_80'],
  ];
  for (const [legA, legB] of pairsOfSuites) {
    it(`SDES ${legA} -> b2bua -> SDES ${legB} (outgoing-srtp-regex): tone both ways, every leg in its own suite`, async () => {
      const { b2bua, callee, caller, target } = await setUp({
        name: `sdes-${legA}-${legB}`, callee: sdes(legB), policy: { enc: ['sdes', 'sip:bob@.*'], srtp: [legB, 'sip:bob@.*'] },
      });
      const a = await placeCall(caller, target('bob'), sdes(legA), { frequency: CALLER_HZ });
      const b = [...callee.calls.values()][0]!;
      assert.deepEqual(callee.offers[0]!.crypto.map((c) => c.suite), [legB], 'leg B offers exactly the suites of outgoing-srtp-regex');
      assert.equal(callee.offers[0]!.proto, 'RTP/SAVP');
      assert.equal(a.remote.crypto[0]!.suite, legA, 'leg A answered in its own suite');
      await sleep(2000);
      await hangUp(a, b);
      const info = report(a, b);
      assert.ok(b.media.toneSeconds(CALLER_HZ) >= 1.5, info);
      assert.ok(a.media.toneSeconds(CALLEE_HZ) >= 1.5, info);
      assert.equal(a.media.authFailures + b.media.authFailures, 0, info);
      // what each end received is in that leg's suite (our SRTP authenticated it; sizes = header + 160 + tag)
      assert.ok(a.media.receivedSizes.every((s) => s === pcmuWireSize(legA)), `leg A sizes ${info}`);
      assert.ok(b.media.receivedSizes.every((s) => s === pcmuWireSize(legB)), `leg B sizes ${info}`);
      await b2bua.waitForCounters(LIVE_COUNTERS, SETTLE_MS);
      assert.equal(mediaReportTotal(b2bua, 'srtpAuthFailures'), 0, 'the engine authenticated every packet of both legs');
      await b2bua.stop();
    });
  }

  it('no outgoing-enc-regex match: SDES in -> SDES out with Flexisip\'s default suites (not leg A\'s); plain in -> plain out', async () => {
    const { b2bua, callee, caller, target } = await setUp({
      name: 'no-match-fallback', callee: sdesOrPlain('AES_CM_128_HMAC_SHA1_80'),
      policy: { enc: ['none', 'sip:nobody@.*'], srtp: ['AEAD_AES_128_GCM', 'sip:nobody@.*'] },
    });
    const a = await placeCall(caller, target('bob'), sdes('AES_CM_128_HMAC_SHA1_32'), { frequency: CALLER_HZ });
    const b = [...callee.calls.values()][0]!;
    assert.equal(callee.offers[0]!.proto, 'RTP/SAVP', 'SDES leg A -> SDES leg B');
    // DEFAULT_SDES_SUITES (liblinphone's srtp_crypto_suites) less those this engine build cannot do, in that order
    const offered = callee.offers[0]!.crypto.map((c) => c.suite);
    assert.deepEqual(offered, DEFAULT_SDES_SUITES.filter((s) => offered.includes(s)), `offered ${offered.join(', ')}`);
    assert.ok(offered.includes('AES_CM_128_HMAC_SHA1_80') && offered.includes('AES_256_CM_HMAC_SHA1_80'), `offered ${offered.join(', ')}`);
    await sleep(1500);
    await hangUp(a, b);
    assert.ok(b.media.toneSeconds(CALLER_HZ) >= 1 && a.media.toneSeconds(CALLEE_HZ) >= 1, report(a, b));
    assert.equal(a.media.authFailures + b.media.authFailures, 0, report(a, b));

    // plain caller: the same daemon; a callee accepting SDES would still get a plain offer
    const p = await placeCall(caller, target('bob'), plain, { frequency: CALLER_HZ });
    const q = [...callee.calls.values()][1]!;
    assert.equal(callee.offers[1]!.proto, 'RTP/AVP', 'plain leg A -> plain leg B');
    assert.equal(callee.offers[1]!.crypto.length, 0);
    await sleep(1500);
    await hangUp(p, q);
    assert.ok(q.media.toneSeconds(CALLER_HZ) >= 1 && p.media.toneSeconds(CALLEE_HZ) >= 1, report(p, q));
    assert.ok(p.media.receivedSizes.every((s) => s === pcmuWireSize(undefined)), report(p, q));
    await b2bua.waitForCounters(LIVE_COUNTERS, SETTLE_MS);
    await b2bua.stop();
  });

  for (const mode of ['sdes', 'zrtp', 'dtls-srtp'] as const) {
    it(`outgoing-enc-regex choosing ${mode} with media-engine=relay (plain RTP only) -> 488 on leg A, leg B never called`, async () => {
      const { b2bua, callee, caller, target } = await setUp({
        name: `refuse-${mode}`, callee: sdes('AES_CM_128_HMAC_SHA1_80'), policy: { enc: [mode, 'sip:bob@.*'] }, settings: { 'media-engine': 'relay' },
      });
      await assert.rejects(placeCall(caller, target('bob'), plain, { frequency: CALLER_HZ }), (e: unknown) => {
        assert.ok(e instanceof SipError, String(e));
        assert.equal(e.status, 488, e.response.firstLine);
        return true;
      });
      assert.equal(callee.offers.length, 0, 'leg B must not be attempted');
      await b2bua.waitForCounters(LIVE_COUNTERS, SETTLE_MS);
      await b2bua.stop();
    });
  }

  it('SSRC change, then re-key by re-INVITE mid-call: the far side keeps decrypting the tone, no auth failure', async () => {
    const { b2bua, callee, caller, target } = await setUp({
      name: 'ssrc-rekey', callee: sdes('AES_CM_128_HMAC_SHA1_32'),
      policy: { enc: ['sdes', 'sip:bob@.*'], srtp: ['AES_CM_128_HMAC_SHA1_32', 'sip:bob@.*'] },
    });
    const a = await placeCall(caller, target('bob'), sdes('AES_CM_128_HMAC_SHA1_80'), { frequency: CALLER_HZ });
    const b = [...callee.calls.values()][0]!;
    await sleep(1500);
    const firstSsrc = a.media.ssrc;
    const secondSsrc = a.media.changeSsrc();
    await sleep(1500);
    const reinvite = await rekey(a);
    assert.equal(reinvite.status, 200);
    const thirdSsrc = a.media.changeSsrc(); // new key and new SSRC together
    await sleep(1500);
    await hangUp(a, b);
    const info = `${report(a, b)}; at callee per SSRC ${JSON.stringify([...b.media.received].map(([s, r]) => [s, r.count]))}, ` +
      `sent ${JSON.stringify([...a.media.sent])}, longest gap at callee ${b.media.longestGapMs} ms`;
    for (const ssrc of [firstSsrc, secondSsrc, thirdSsrc]) {
      const sent = a.media.sent.get(ssrc) ?? 0;
      const got = b.media.received.get(ssrc)?.count ?? 0;
      assert.ok(sent > 50, info);
      assert.ok(got >= sent - 5, `SSRC ${ssrc}: ${got} of ${sent} decrypted at the callee; ${info}`);
    }
    assert.ok(b.media.longestGapMs < 200, `gap at the callee ${b.media.longestGapMs} ms; ${info}`);
    assert.equal(b.media.authFailures, 0, info);
    assert.ok(b.media.toneSeconds(CALLER_HZ) >= 3.5, info);
    assert.ok(a.media.toneSeconds(CALLEE_HZ) >= 3.5, info);
    await b2bua.waitForCounters(LIVE_COUNTERS, SETTLE_MS);
    assert.equal(mediaReportCount(b2bua), 1, 'one media report (the call) in the daemon log');
    assert.equal(mediaReportTotal(b2bua, 'srtpAuthFailures'), 0, `the engine's SRTP auth failures (both legs); ${info}`);
    assert.equal(mediaReportTotal(b2bua, 'srtpReplays'), 0, `the engine's SRTP replays (both legs); ${info}`);
    await b2bua.stop();
  });

  it('a callee that starts sending on the ACK loses no packet (leg B media is configured before leg B is ACKed)', async () => {
    const { b2bua, callee, caller, target } = await setUp({
      name: 'first-packet', callee: sdes('AES_CM_128_HMAC_SHA1_80'), calleeMaxPackets: 100, policy: { enc: ['sdes', 'sip:bob@.*'] },
    });
    const a = await placeCall(caller, target('bob'), sdes('AES_CM_128_HMAC_SHA1_80'), { frequency: CALLER_HZ, maxPackets: 100 });
    await sleep(2500);
    const b = [...callee.calls.values()][0]!;
    await hangUp(a, b);
    await b2bua.waitForCounters(LIVE_COUNTERS, SETTLE_MS);
    const rejected = mediaReportTotal(b2bua, 'rejectedSource', 'b');
    const info = `${report(a, b)}; the engine rejected ${rejected} leg B packet(s) as from an unknown source`;
    assert.equal(b.media.totalSent(), 100, info);
    assert.equal(a.media.totalReceived(), 100, info);
    assert.equal(rejected, 0, info);
    await b2bua.stop();
  });
});
