/**
 * DTLS-SRTP with a second client, baresip (1.0.0, `mediaenc=dtls_srtp`), through the daemon (application=trenscrypter,
 * Flexisip keys only: the default media engine), with linphonec on the other leg:
 *   baresip dtls_srtp caller -> daemon (`outgoing-enc-regex=zrtp|sdes sip:bob@.*`) -> linphonec callee (zrtp / srtp, mandatory);
 *   linphonec caller (zrtp / srtp, mandatory) -> daemon (`outgoing-enc-regex=dtls-srtp sip:bob@.*`) -> baresip dtls_srtp callee.
 * baresip's DTLS-SRTP SDP differs from linphonec's: UDP/TLS/RTP/SAVPF with a=fingerprint and a=setup at session
 * level, `a=rtcp-mux` only with `rtcp_mux yes` (its default is no: RTCP on port + 1 with its own DTLS handshake);
 * both variants are run as caller. As callee it takes the daemon's INVITE for sip:bob@127.0.0.1 (its account's user,
 * another host:port), answers the profile offered (the daemon offers UDP/TLS/RTP/SAVP) with setup:active. Each call checks: the tone both ways in the far ends' recordings (baresip's
 * sndfile dump, linphonec's `record`), baresip's CALL_ESTABLISHED / CALL_MENC, what linphonec negotiated (and its
 * ZRTP SAS = the one in the daemon's media report), each leg's protocol on the wire in both directions (leg A /
 * leg B = the audio port of baresip / linphonec, test/harness/wire.ts), baresip's offer or answer as described
 * above, no SRTP authentication failure, every counter back to 0, exit 0 on SIGTERM.
 *
 * Runs alone (about 12 s a call):
 *   npx tsc -p . && npx mocha --timeout 180000 test/e2e/trenscrypter/baresip.test.ts
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { createRunDir } from '../../harness/run-dir.js';
import { NEGOTIATED_NAME, setMedia, waitForFullyEncrypted, waitForNegotiated, waitForOutputSince, startLinphone, type EncryptedCall, type Linphone, type LinphoneEncryption } from '../../harness/linphone.js';
import { startBaresip, receivedSdps, sentAudioPort, sentSdps, type Baresip } from '../../harness/baresip.js';
import { audioPortWire, mediaPorts, WIRE_OF } from '../../harness/encrypted-call.js';
import { startCapture, portsFilter } from '../../harness/capture.js';
import { writeToneFiles } from '../../harness/tones.js';
import { requireTools } from '../../harness/tools.js';
import { readWav } from '../../harness/wav.js';
import { toneSeconds } from '../../harness/goertzel.js';
import { sleep } from '../../harness/wait.js';
import { LIVE_COUNTERS, type B2buaDaemon } from '../../harness/b2bua.js';
import type { IpPacket } from '../../harness/pcap.js';
import { classify } from '../../harness/rtp.js';

/** UDP payload of a plain 20 ms PCMU RTP packet. */
const PLAIN_PCMU_BYTES = 172;
import { startFlexisipKeysDaemon, mediaReportCount, mediaReportSummary, mediaReportTotal, trenscrypterSuite } from './fixture.js';

/** The trenscrypter modes linphonec plays opposite baresip, and its `media_encryption` for each. */
type LpMode = 'zrtp' | 'sdes';
const LINPHONE_OF: Readonly<Record<LpMode, LinphoneEncryption>> = { zrtp: 'zrtp', sdes: 'srtp' };

const CALL_SECONDS = 4;
const SETTLE_MS = 12000;
const TONE = { alice: 440, bob: 880 } as const;

const heard = (file: string | undefined, frequency: number, who: string): number => {
  assert.ok(file, `${who}: no recording`);
  const w = readWav(file);
  return toneSeconds(w.samples, w.sampleRate, frequency);
};

/** The SAS of a leg's audio stream in the (single) media report: media.<leg>[0].security.zrtp.sas. */
function reportedSas(b2bua: B2buaDaemon, leg: 'a' | 'b'): unknown {
  const report = b2bua.logLines().find((l) => l['msg'] === 'media report');
  const media = report?.['media'] as Record<string, { security?: { zrtp?: { sas?: unknown } } }[]> | undefined;
  return media?.[leg]?.[0]?.security?.zrtp?.sas;
}

/** Counters back to 0, one media report without authentication failure, the SAS of the ZRTP leg; then SIGTERM -> exit 0. */
async function finish(b2bua: B2buaDaemon, what: string, zrtp?: { leg: 'a' | 'b'; printed: EncryptedCall | undefined }): Promise<void> {
  await b2bua.waitForCounters(LIVE_COUNTERS, SETTLE_MS);
  assert.equal(mediaReportCount(b2bua), 1, `${what}: one "media report"`);
  assert.equal(mediaReportTotal(b2bua, 'srtpAuthFailures'), 0, `${what}: SRTP authentication failures in the media report (${mediaReportSummary(b2bua)})`);
  if (zrtp) {
    assert.ok(zrtp.printed?.authToken, `${what}: linphonec printed no SAS`);
    assert.equal(reportedSas(b2bua, zrtp.leg), zrtp.printed.authToken, `${what}: leg ${zrtp.leg} SAS in the media report vs linphonec's`);
  }
  await b2bua.stop();
}

/**
 * baresip's DTLS-SRTP SDP: `proto` (its offer: UDP/TLS/RTP/SAVPF; its answer mirrors the offer's profile), fingerprint
 * + setup before the first m= line, a=rtcp-mux iff configured.
 */
function assertBaresipSdp(bs: Baresip, o: { proto: string; rtcpMux: boolean; setup: RegExp; what: string }): void {
  const sdp = sentSdps(bs)[0] ?? '';
  const [session = '', media = ''] = sdp.split(/^(?=m=)/m);
  assert.ok(media.startsWith('m=audio ') && media.split(/\s+/)[2] === o.proto, `${o.what}: baresip's m=audio with ${o.proto}: ${sdp}`);
  assert.match(session, /^a=fingerprint:SHA-256 [0-9A-F:]+\s*$/m, `${o.what}: baresip's session-level a=fingerprint: ${sdp}`);
  assert.match(session, o.setup, `${o.what}: baresip's session-level a=setup: ${sdp}`);
  assert.equal(/^a=rtcp-mux/m.test(sdp), o.rtcpMux, `${o.what}: a=rtcp-mux in baresip's SDP iff rtcp_mux ${o.rtcpMux ? 'yes' : 'no'}: ${sdp}`);
}

/**
 * Each leg's protocol on the wire, both ways. baresip 1.0 may send its first RTP packets in the clear while its DTLS
 * handshake is still running (seen when its ClientHello raced our processing of its 200 OK and it waited for its
 * 1 s retransmission). Those plain packets (before its first SRTP packet) are left out of what baresip sent, and
 * counted in the message; the b2bua holds them (b2bsrtp "hold"). What the b2bua sends is judged over the whole call.
 */
function assertWire(packets: readonly IpPacket[], legs: readonly { leg: string; port: number; who: string; want: string; sent: number; received: number }[], what: string): void {
  for (const l of legs) {
    const fromPeer = packets.filter((p) => p.srcPort === l.port);
    const firstSrtp = l.who.startsWith('baresip') && l.want === 'dtls'
      ? fromPeer.find((p) => classify(p.payload) === 'RTP' && p.payload.length !== PLAIN_PCMU_BYTES)?.time
      : undefined;
    const early = (p: IpPacket): boolean => firstSrtp !== undefined && p.srcPort === l.port && p.time < firstSrtp && classify(p.payload) === 'RTP' && p.payload.length === PLAIN_PCMU_BYTES;
    const kept = packets.filter((p) => !early(p));
    const dropped = packets.length - kept.length;
    const sent = audioPortWire(kept, l.port, l.sent, l.received).sent;
    const received = audioPortWire(packets, l.port, l.sent, l.received).received;
    assert.equal(sent.protocol, l.want, `${what}: leg ${l.leg} as sent by ${l.who} (port ${l.port}${dropped ? `; ${dropped} plain RTP packets it sent before its DTLS-SRTP was up left out` : ''}): ${sent.why}`);
    assert.equal(received.protocol, l.want, `${what}: leg ${l.leg} as sent by the b2bua to ${l.who} (port ${l.port}): ${received.why}`);
  }
}

const explain = (e: unknown, lp: Linphone, bs: Baresip): Error =>
  new Error(`${(e as Error).message}\n--- linphonec ${lp.name} (${lp.outFile}):\n${lp.output().slice(-1200)}\n--- baresip ${bs.name} (${bs.outFile}):\n${bs.output().slice(-2500)}`);

describe('trenscrypter with baresip DTLS-SRTP: baresip <-> b2bua (default engine) <-> linphonec', function () {
  trenscrypterSuite(this, 180000);
  before(() => requireTools(['baresip', 'linphonec', 'dumpcap', 'ss']));

  for (const [b, rtcpMux] of [['zrtp', true], ['sdes', false]] as const) {
    const what = `baresip dtls_srtp (rtcp_mux ${rtcpMux ? 'yes' : 'no'}) -> b2bua (${b} sip:bob@.*) -> linphonec ${b}`;
    it(`${what}: tone both ways, leg A dtls and leg B ${WIRE_OF[LINPHONE_OF[b]]} on the wire${b === 'zrtp' ? ', SAS' : ''}`, async () => {
      const runDir = createRunDir(`baresip-dtls-${b}`);
      const tones = { alice: writeToneFiles(path.join(runDir, 'tones'), TONE.alice, 30), bob: writeToneFiles(path.join(runDir, 'tones'), TONE.bob, 30) };
      const bob = await startLinphone({ name: 'bob', runDir, mediaEncryption: LINPHONE_OF[b], autoAnswer: true, maxSeconds: 120 });
      const b2bua = await startFlexisipKeysDaemon(runDir, bob.sipPort, [b, 'sip:bob@.*']);
      const alice = await startBaresip({ name: 'alice', runDir, sourceWav: tones.alice.wav, mediaEncryption: 'dtls_srtp', rtcpMux });
      const cap = await startCapture(path.join(runDir, 'media.pcap'), portsFilter([...mediaPorts(bob), ...Array.from({ length: alice.rtpPortMax - alice.rtpPortMin + 1 }, (_, i) => alice.rtpPortMin + i)]), 120);
      const bobRec = path.join(runDir, 'bob.rec.wav');
      setMedia(bob, tones.bob.wav, bobRec);
      await sleep(300);
      let bobEncrypted: EncryptedCall | undefined;
      try {
        await alice.command('dial', `sip:bob@${b2bua.address}`);
        await alice.waitForEvent('CALL_ESTABLISHED', 15000);
        const menc = await alice.waitForEvent('CALL_MENC', 10000);
        assert.match(menc.param ?? '', /^0,audio,/, `${what}: baresip's CALL_MENC (secure media)`);
        await waitForNegotiated(bob, NEGOTIATED_NAME[LINPHONE_OF[b]], 10000);
        if (b === 'zrtp') bobEncrypted = await waitForFullyEncrypted(bob, 10000);
        await sleep(CALL_SECONDS * 1000);
        await alice.command('hangup');
        await alice.waitForEvent('CALL_CLOSED', 5000);
        await waitForOutputSince(bob, /ended/, 0, 5000);
      } catch (e) {
        throw explain(e, bob, alice);
      }
      await Promise.all([alice.quit(), bob.quit()]);
      const packets = await cap.stop();
      const info = `(run dir ${runDir})`;
      assert.ok(heard(bobRec, TONE.alice, 'bob') >= 2, `${what}: linphonec bob must hear baresip's ${TONE.alice} Hz ${info}`);
      assert.ok(heard(alice.receivedRecording(), TONE.bob, 'alice') >= 2, `${what}: baresip alice must hear linphonec's ${TONE.bob} Hz ${info}`);
      assertBaresipSdp(alice, { proto: 'UDP/TLS/RTP/SAVPF', rtcpMux, setup: /^a=setup:actpass\s*$/m, what });
      // the daemon's answer to baresip: the offered profile, a fingerprint, setup:active, rtcp-mux accepted iff offered
      const answer = receivedSdps(alice)[0] ?? '';
      assert.match(answer, /^m=audio \d+ UDP\/TLS\/RTP\/SAVPF /m, `${what}: the daemon's answer keeps UDP/TLS/RTP/SAVPF: ${answer}`);
      assert.match(answer, /^a=fingerprint:sha-256 /im, `${what}: the daemon's answer has a fingerprint: ${answer}`);
      assert.match(answer, /^a=setup:active\s*$/m, `${what}: the daemon's answer to setup:actpass: ${answer}`);
      assert.equal(/^a=rtcp-mux/m.test(answer), rtcpMux, `${what}: a=rtcp-mux in the daemon's answer iff baresip offered it: ${answer}`);
      assertWire(packets, [
        { leg: 'A', port: sentAudioPort(alice), who: 'baresip alice', want: 'dtls', sent: TONE.alice, received: TONE.bob },
        { leg: 'B', port: bob.rtpPort, who: 'linphonec bob', want: WIRE_OF[LINPHONE_OF[b]], sent: TONE.bob, received: TONE.alice },
      ], what);
      await finish(b2bua, what, b === 'zrtp' ? { leg: 'b', printed: bobEncrypted } : undefined);
    });
  }

  for (const a of ['zrtp', 'sdes'] as const) {
    const what = `linphonec ${a} -> b2bua (dtls-srtp sip:bob@.*) -> baresip dtls_srtp`;
    it(`${what}: tone both ways, leg A ${WIRE_OF[LINPHONE_OF[a]]} and leg B dtls on the wire${a === 'zrtp' ? ', SAS' : ''}`, async () => {
      const runDir = createRunDir(`baresip-${a}-dtls`);
      const tones = { alice: writeToneFiles(path.join(runDir, 'tones'), TONE.alice, 30), bob: writeToneFiles(path.join(runDir, 'tones'), TONE.bob, 30) };
      const bob = await startBaresip({ name: 'bob', runDir, sourceWav: tones.bob.wav, mediaEncryption: 'dtls_srtp', autoAnswer: true });
      const b2bua = await startFlexisipKeysDaemon(runDir, bob.sipPort, ['dtls-srtp', 'sip:bob@.*']);
      const alice = await startLinphone({ name: 'alice', runDir, mediaEncryption: LINPHONE_OF[a], maxSeconds: 120 });
      const cap = await startCapture(path.join(runDir, 'media.pcap'), portsFilter([...mediaPorts(alice), ...Array.from({ length: bob.rtpPortMax - bob.rtpPortMin + 1 }, (_, i) => bob.rtpPortMin + i)]), 120);
      const aliceRec = path.join(runDir, 'alice.rec.wav');
      setMedia(alice, tones.alice.wav, aliceRec);
      await sleep(300);
      let aliceEncrypted: EncryptedCall | undefined;
      try {
        alice.command(`call sip:bob@${b2bua.address}`);
        const up = await waitForOutputSince(alice, /Media streams established|with \S+ error\.|ended \(|declined/, 0, 15000);
        assert.match(up[0], /Media streams established/, `${what}: call not established`);
        await bob.waitForEvent('CALL_ESTABLISHED', 5000);
        const menc = await bob.waitForEvent('CALL_MENC', 10000);
        assert.match(menc.param ?? '', /^0,audio,/, `${what}: baresip's CALL_MENC (secure media)`);
        await waitForNegotiated(alice, NEGOTIATED_NAME[LINPHONE_OF[a]], 10000);
        if (a === 'zrtp') aliceEncrypted = await waitForFullyEncrypted(alice, 10000);
        await sleep(CALL_SECONDS * 1000);
        alice.command('terminate');
        await waitForOutputSince(alice, /ended/, 0, 5000);
        await bob.waitForEvent('CALL_CLOSED', 5000);
      } catch (e) {
        throw explain(e, alice, bob);
      }
      await Promise.all([alice.quit(), bob.quit()]);
      const packets = await cap.stop();
      const info = `(run dir ${runDir})`;
      assert.ok(heard(bob.receivedRecording(), TONE.alice, 'bob') >= 2, `${what}: baresip bob must hear linphonec's ${TONE.alice} Hz ${info}`);
      assert.ok(heard(aliceRec, TONE.bob, 'alice') >= 2, `${what}: linphonec alice must hear baresip's ${TONE.bob} Hz ${info}`);
      // the daemon offers UDP/TLS/RTP/SAVP (as linphonec does) without a=rtcp-mux: baresip answers in kind
      assertBaresipSdp(bob, { proto: 'UDP/TLS/RTP/SAVP', rtcpMux: false, setup: /^a=setup:(active|passive)\s*$/m, what });
      assertWire(packets, [
        { leg: 'A', port: alice.rtpPort, who: 'linphonec alice', want: WIRE_OF[LINPHONE_OF[a]], sent: TONE.alice, received: TONE.bob },
        { leg: 'B', port: sentAudioPort(bob), who: 'baresip bob', want: 'dtls', sent: TONE.bob, received: TONE.alice },
      ], what);
      await finish(b2bua, what, a === 'zrtp' ? { leg: 'a', printed: aliceEncrypted } : undefined);
    });
  }
});
