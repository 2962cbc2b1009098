/** DTMF when only one leg negotiated telephone-event (Flexisip: onDtmfReceived): RFC 4733 ↔ SIP INFO, relay and GStreamer engines. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PairSpec, Tones } from '../../harness/call-scenarios.js';
import { current, standardTones } from '../../harness/call-pair.js';
import { startB2bua, type B2buaDaemon } from '../../harness/b2bua.js';
import { freePorts } from '../../harness/ports.js';
import { createRunDir } from '../../harness/run-dir.js';
import { SipUa, type SipMessage } from '../../harness/sip-ua.js';
import { MediaStream, answerCrypto, buildAudioSdp, newCrypto, parseAudioSdp } from '../../harness/srtp-media.js';
import { packetsTo } from '../../harness/flows.js';
import { parseRtp } from '../../harness/rtp.js';
import { received, startSipp, waitForListening, type SippResult, type SippRun } from '../../harness/sipp.js';
import { setMedia, startLinphone, waitForNegotiated } from '../../harness/linphone.js';
import { readIfExists } from '../../harness/wait.js';
import { requireTools } from '../../harness/tools.js';
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

/** What a GStreamer-engine call of the pair below left: sipp's result, the caller's media and SIP, the daemon. */
interface GstDtmfCall {
  readonly callee: SippResult;
  readonly infosAtCallee: string[];
  readonly media: MediaStream;
  readonly atCaller: SipMessage[];
  readonly b2bua: B2buaDaemon;
  readonly info: string;
}

/**
 * Leg B: sipp without telephone-event (uas_dtmf_no_telephone_event.xml: checks the INFO Signal=1, then sends INFO
 * Signal=5), streaming `rtp`; a GStreamer-engine daemon routing to it with leg B plain (trenscrypter `outgoing-enc-regex=none`).
 */
async function plainCalleeThroughGst(runDir: string, rtp: string): Promise<{ calleeRun: SippRun; b2bua: B2buaDaemon }> {
  const [calleePort] = await freePorts(1);
  const [calleeMedia] = await freePorts(4);
  const calleeRun = await startSipp({
    name: 'callee', runDir, scenario: 'uas_dtmf_no_telephone_event.xml', port: calleePort, mediaPort: calleeMedia,
    keys: { rtp }, maxSeconds: 40,
  });
  current.runs.push(calleeRun);
  await waitForListening(calleePort!, 'udp');
  const b2bua = await startB2bua({
    runDir,
    outboundProxy: `sip:127.0.0.1:${calleePort};transport=udp`,
    settings: { 'media-engine': 'gstreamer', 'media-workers': 1 },
    extraIni: '[b2bua-server::trenscrypter]\noutgoing-enc-regex=none sip:bob@.*',
  });
  current.b2bua = b2bua;
  return { calleeRun, b2bua };
}

/**
 * Leg A: our own SIP + SRTP caller (test/harness/srtp-media.ts, SDES, PCMU + telephone-event 101) sends RFC 4733 digit 1
 * after 1 s of audio; leg B: sipp without telephone-event (plain, trenscrypter `outgoing-enc-regex=none`), streaming
 * `calleeRtp`, checks the INFO Signal=1 and sends INFO Signal=5. The caller hangs up once it has 3 end packets or after 5 s.
 */
async function gstDtmfCall(name: string, calleeRtp: (t: Tones) => string): Promise<GstDtmfCall> {
  const runDir = createRunDir(name);
  current.runs = [];
  current.runDir = runDir;
  const { calleeRun, b2bua } = await plainCalleeThroughGst(runDir, calleeRtp(standardTones(runDir)));
  const ua = await SipUa.open({ user: 'alice' });
  const media = await MediaStream.open({ frequency: 440 });
  try {
    const offered = newCrypto(1, 'AES_CM_128_HMAC_SHA1_80');
    media.expectKey();
    const dialog = await ua.invite(`sip:bob@${b2bua.address}`, buildAudioSdp({ port: media.port, crypto: [offered], telephoneEvent: 101 }));
    const answer = parseAudioSdp(dialog.remoteSdp);
    const theirs = answer.crypto.find((c) => c.tag === offered.tag);
    assert.ok(theirs, `SDES answer on leg A:\n${dialog.remoteSdp}`);
    assert.ok(answer.payloadTypes.includes(101), `leg A's answer keeps telephone-event 101 (the b2bua converts):\n${dialog.remoteSdp}`);
    media.sendKey(offered);
    media.recvKey(theirs);
    media.target(answer);
    media.start();
    await sleep(1000);
    media.sendDtmf('1', 200, 101);
    // sipp answers our INFO, then sends its own 300 ms later: its digit comes back within ~1 s.
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && media.otherPayloads.filter((p) => (p.payload[1]! & 0x80) !== 0).length < 3) await sleep(100);
    await sleep(300);
    await dialog.bye();
    media.stop();
    const callee = await calleeRun.result();
    const infosAtCallee = received(callee.messages, /^INFO /);
    const events = media.otherPayloads.map((p) => ({ pt: p.payloadType, m: p.marker, seq: p.sequence, ts: p.timestamp, ssrc: p.ssrc, ev: [...p.payload] }));
    const audio = [...media.received.entries()].map(([ssrc, r]) => [ssrc, r.count]);
    const info = `${callee.summary}\nINFO at callee: ${infosAtCallee.length}; events at caller: ${JSON.stringify(events)}; audio SSRCs at caller: ${JSON.stringify(audio)}; auth failures ${media.authFailures}\nrun dir: ${runDir}`;
    return { callee, infosAtCallee, media, atCaller: [...ua.received], b2bua, info };
  } finally {
    media.close();
    ua.close();
  }
}

describe('calls through the b2bua: DTMF conversion with the GStreamer engine (SDES leg with telephone-event, plain leg without)', function () {
  callSuite(this, 60000);

  it('leg A\'s SRTP RFC 4733 digit reaches leg B as one INFO Signal=1; leg B\'s INFO Signal=5 reaches leg A as SRTP RFC 4733 events continuing its stream', async () => {
    const { callee, infosAtCallee, media, b2bua, info } = await gstDtmfCall('dtmf-conversion-gstreamer', (t) => `${t.callee.ulaw},-1,0`);
    const events = media.otherPayloads;
    const audio = [...media.received.keys()];
    assert.equal(callee.code, 0, info);
    assert.equal(infosAtCallee.length, 1, info);
    assert.match(infosAtCallee[0]!, /Content-Type:\s*application\/dtmf-relay/i, info);
    assert.match(infosAtCallee[0]!, /^Signal=1\r?\nDuration=\d+\r?$/m, info);
    assert.ok(events.length >= 4, info);
    assert.ok(events.every((p) => p.payloadType === 101 && p.payload[0] === 5), `every event is digit 5 on PT 101\n${info}`);
    assert.equal(events.filter((p) => (p.payload[1]! & 0x80) !== 0).length, 3, `3 end packets\n${info}`);
    assert.equal(events.filter((p) => p.marker).length, 1, `the marker on the start packet only\n${info}`);
    assert.ok(events[0]!.marker, info);
    assert.equal(new Set(events.map((p) => p.timestamp)).size, 1, `one event timestamp\n${info}`);
    assert.equal(audio.length, 1, `one SSRC for audio\n${info}`);
    assert.equal(events[0]!.ssrc, audio[0], `the events continue the audio stream's SSRC\n${info}`);
    const seqs = events.map((p) => p.sequence);
    assert.ok(seqs.every((s, i) => i === 0 || ((s - seqs[i - 1]! + 0x10000) & 0xffff) >= 1), `increasing sequence numbers\n${info}`);
    assert.equal(media.authFailures, 0, info);
    const lines = b2bua.logLines();
    assert.equal(lines.filter((l) => l['msg'] === 'RFC 4733 DTMF sent as SIP INFO').length, 1, info);
    assert.equal(lines.filter((l) => l['msg'] === 'SIP INFO DTMF sent as RFC 4733').length, 1, info);
    await assertCleanAndStop(b2bua);
  });

  it('leg B sends no RTP: its INFO cannot become RFC 4733 (no stream to continue towards leg A) and reaches leg A as the INFO', async () => {
    // sipp's rtp_stream action "pause" (instead of a file): nothing is streamed.
    const { callee, infosAtCallee, media, atCaller, b2bua, info } = await gstDtmfCall('dtmf-conversion-gstreamer-no-rtp', () => 'pause');
    const infosAtCaller = atCaller.filter((m) => m.method === 'INFO');
    const all = `${info}\nINFO at caller: ${JSON.stringify(infosAtCaller.map((m) => m.body))}`;
    assert.equal(callee.code, 0, all);
    assert.equal(infosAtCallee.length, 1, all);
    assert.match(infosAtCallee[0]!, /^Signal=1\r?\nDuration=\d+\r?$/m, all);
    assert.equal(media.otherPayloads.length, 0, all);
    assert.equal(infosAtCaller.length, 1, all);
    assert.match(infosAtCaller[0]!.body, /^Signal=5\r?\nDuration=160\r?$/m, all);
    assert.equal(b2bua.logLines().filter((l) => l['msg'] === 'SIP INFO DTMF sent as RFC 4733').length, 0, all);
    await assertCleanAndStop(b2bua);
  });
});

describe('calls through the b2bua: DTMF conversion with the GStreamer engine, reverse layout (plain caller without telephone-event, SDES callee with it)', function () {
  callSuite(this, 60000);

  it('leg B is offered telephone-event; leg A\'s INFO Signal=5 reaches leg B as SRTP RFC 4733 events; leg B\'s SRTP RFC 4733 digit 1 reaches leg A as one INFO Signal=1', async () => {
    const runDir = createRunDir('dtmf-conversion-gstreamer-reverse');
    current.runs = [];
    current.runDir = runDir;
    // Leg B: our SIP + SRTP callee (SDES, PCMU + telephone-event at the PT leg B was offered); it sends digit 1 once
    // it decoded the 3 end packets of leg A's digit.
    const ua = await SipUa.open({ user: 'bob' });
    const media = await MediaStream.open({ frequency: 440 });
    let offerBody = '';
    let tePt: number | undefined;
    let sentDigit = false;
    ua.onInvite = (req, dialog) => {
      offerBody = req.body;
      const offer = parseAudioSdp(req.body);
      tePt = Number(/^a=rtpmap:(\d+) telephone-event\/8000/m.exec(req.body)?.[1] ?? NaN);
      const local = answerCrypto(offer, ['AES_CM_128_HMAC_SHA1_80']);
      if (!local || !Number.isInteger(tePt)) return { status: 488 };
      media.sendKey(local);
      media.recvKey(offer.crypto.find((c) => c.tag === local.tag));
      media.target(offer);
      dialog.onAck(() => media.start());
      return { status: 200, sdp: buildAudioSdp({ port: media.port, crypto: [local], telephoneEvent: tePt }) };
    };
    const ends = (): number => media.otherPayloads.filter((p) => (p.payload[1]! & 0x80) !== 0).length;
    const b2bua = await startB2bua({
      runDir,
      outboundProxy: `sip:127.0.0.1:${ua.port};transport=udp`,
      settings: { 'media-engine': 'gstreamer', 'media-workers': 1 },
      extraIni: '[b2bua-server::trenscrypter]\noutgoing-enc-regex=sdes sip:bob@.*',
    });
    current.b2bua = b2bua;
    try {
      const t = standardTones(runDir);
      const callerRun = await startSipp({
        name: 'caller', runDir, scenario: 'uac_dtmf_no_telephone_event.xml', remote: `${b2bua.address}`,
        keys: { to_user: 'bob', rtp: `${t.caller.ulaw},-1,0` }, maxSeconds: 30,
      });
      current.runs.push(callerRun);
      const deadline = Date.now() + 15000;
      while (Date.now() < deadline && !sentDigit && callerRun.process.isRunning()) {
        if (ends() >= 3) {
          await sleep(100);
          media.sendDtmf('1', 200, tePt!);
          sentDigit = true;
        }
        await sleep(50);
      }
      const caller = await callerRun.result();
      media.stop();
      const infosAtCaller = received(caller.messages, /^INFO /);
      const events = media.otherPayloads.map((p) => ({ pt: p.payloadType, m: p.marker, seq: p.sequence, ts: p.timestamp, ssrc: p.ssrc, ev: [...p.payload] }));
      const audio = [...media.received.entries()].map(([ssrc, r]) => [ssrc, r.count]);
      const info = `${caller.summary}\noffer at leg B:\n${offerBody}\nINFO at caller: ${infosAtCaller.length}; events at callee: ${JSON.stringify(events)}; audio SSRCs at callee: ${JSON.stringify(audio)}; auth failures ${media.authFailures}\nrun dir: ${runDir}`;
      assert.ok(Number.isInteger(tePt), `leg B offered telephone-event:\n${info}`);
      assert.equal(caller.code, 0, info);
      assert.ok(sentDigit, info);
      assert.equal(infosAtCaller.length, 1, info);
      assert.match(infosAtCaller[0]!, /Content-Type:\s*application\/dtmf-relay/i, info);
      assert.match(infosAtCaller[0]!, /^Signal=1\r?\nDuration=\d+\r?$/m, info);
      const evs = media.otherPayloads;
      assert.ok(evs.length >= 4, info);
      assert.ok(evs.every((p) => p.payloadType === tePt && p.payload[0] === 5), `every event is digit 5 on the PT of leg B\n${info}`);
      assert.equal(evs.filter((p) => (p.payload[1]! & 0x80) !== 0).length, 3, `3 end packets\n${info}`);
      assert.equal(evs.filter((p) => p.marker).length, 1, info);
      assert.equal(new Set(evs.map((p) => p.timestamp)).size, 1, info);
      assert.equal(media.received.size, 1, `one SSRC for audio\n${info}`);
      assert.equal(evs[0]!.ssrc, [...media.received.keys()][0], `the events continue the audio stream's SSRC\n${info}`);
      assert.equal(media.authFailures, 0, info);
      const lines = b2bua.logLines();
      assert.equal(lines.filter((l) => l['msg'] === 'RFC 4733 DTMF sent as SIP INFO').length, 1, info);
      assert.equal(lines.filter((l) => l['msg'] === 'SIP INFO DTMF sent as RFC 4733').length, 1, info);
      await assertCleanAndStop(b2bua);
    } finally {
      media.close();
      ua.close();
    }
  });
});

describe('calls through the b2bua: DTMF conversion with the GStreamer engine, linphonec on a DTLS-SRTP / ZRTP leg A (telephone-event), sipp on a plain leg B without', function () {
  callSuite(this, 60000);
  before(() => requireTools(['linphonec']));

  for (const [encryption, negotiated] of [['dtls', 'DTLS'], ['zrtp', 'ZRTP']] as const) {
    it(`${negotiated}: linphonec's RFC 4733 digit 1 (its console's digit line) reaches sipp as one INFO Signal=1; sipp's INFO Signal=5 reaches linphonec as RFC 4733 ("Receiving tone 5"), never as INFO`, async () => {
      const runDir = createRunDir(`dtmf-conversion-linphonec-${encryption}`);
      current.runs = [];
      current.runDir = runDir;
      const t = standardTones(runDir);
      const { calleeRun, b2bua } = await plainCalleeThroughGst(runDir, `${t.callee.ulaw},-1,0`);
      const lp = await startLinphone({ name: 'alice', runDir, mediaEncryption: encryption, maxSeconds: 45 });
      setMedia(lp, t.caller.wav, path.join(runDir, 'alice.rec.wav'));
      await sleep(300);
      lp.command(`call sip:bob@${b2bua.address}`);
      await lp.waitForOutput(/Media streams established/, 15000);
      await waitForNegotiated(lp, negotiated, 10000);
      await sleep(1000);
      lp.command('1'); // linphonec sends a one-character line of 0-9*#A-D as DTMF (RFC 2833 by default: use_rfc2833=1)
      let tone: string | undefined;
      try {
        tone = (await lp.waitForOutput(/Receiving tone (\S)/, 8000))[1];
      } catch { /* reported below */ }
      lp.command('terminate');
      await lp.waitForOutput(/ended/, 5000).catch(() => undefined);
      const callee = await calleeRun.result();
      await lp.quit();
      const infosAtCallee = received(callee.messages, /^INFO /);
      const lpLog = readIfExists(lp.logFile);
      // belle-sip logs each message it receives; an INFO relayed to linphonec would be there
      const infosAtLp = (lpLog.match(/^INFO sip:/gm) ?? []).length;
      // mediastreamer's RTP receiver, after liblinphone decrypted the SRTP: the telephone-event packets themselves
      const rtpDigits = [...lpLog.matchAll(/mediastreamer-message-Receiving dtmf (\S)\./g)].map((m) => m[1]);
      const info = `${callee.summary}\nINFO at sipp: ${infosAtCallee.length}; linphonec printed tone ${tone}; INFO requests in linphonec's log: ${infosAtLp}; RFC 2833 digits its RTP receiver decoded: ${JSON.stringify(rtpDigits)}\nlinphonec output:\n${lp.output().slice(-1500)}\nrun dir: ${runDir}`;
      assert.equal(callee.code, 0, info);
      assert.equal(infosAtCallee.length, 1, info);
      assert.match(infosAtCallee[0]!, /Content-Type:\s*application\/dtmf-relay/i, info);
      assert.match(infosAtCallee[0]!, /^Signal=1\r?\nDuration=\d+\r?$/m, info);
      assert.equal(tone, '5', info);
      assert.equal(infosAtLp, 0, info);
      assert.deepEqual(rtpDigits, ['5'], info);
      const lines = b2bua.logLines();
      assert.equal(lines.filter((l) => l['msg'] === 'RFC 4733 DTMF sent as SIP INFO').length, 1, info);
      assert.equal(lines.filter((l) => l['msg'] === 'SIP INFO DTMF sent as RFC 4733').length, 1, info);
      await assertCleanAndStop(b2bua);
    });
  }
});
