/**
 * trenscrypter + GStreamer engine with real SIP clients: linphonec (SDES, one AES-CM suite at a time, SRTP
 * mandatory) on one leg, sipp (plain RTP only) on the other, in both directions; linphonec -> linphonec with
 * different suites per leg. Audio is checked at each far end (linphonec's recording, the tone decoded from the
 * plain leg on the wire) and each leg's packets on the wire (plain 172-byte PCMU vs SRTP with the suite's tag).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { createRunDir } from '../../harness/run-dir.js';
import { setMedia, startLinphone, type Linphone } from '../../harness/linphone.js';
import { startSipp, waitForListening, type SippRun } from '../../harness/sipp.js';
import { startCapture, portsFilter } from '../../harness/capture.js';
import { packetsFrom, packetsTo, toneSecondsIn } from '../../harness/flows.js';
import { classify } from '../../harness/rtp.js';
import type { IpPacket } from '../../harness/pcap.js';
import { freePorts } from '../../harness/ports.js';
import { writeToneFiles, type ToneFiles } from '../../harness/tones.js';
import { readWav } from '../../harness/wav.js';
import { toneSeconds } from '../../harness/goertzel.js';
import { readIfExists, sleep } from '../../harness/wait.js';
import { requireTools } from '../../harness/tools.js';
import { LIVE_COUNTERS, type B2buaDaemon } from '../../harness/b2bua.js';
import { pcmuWireSize, type Suite } from '../../harness/srtp-media.js';
import { mediaReportTotal, startTrenscrypter, trenscrypterSuite, type Policy } from './fixture.js';

const AES_CM_SUITES: Suite[] = ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32', 'AES_256_CM_HMAC_SHA1_80', 'AES_256_CM_HMAC_SHA1_32'];
const SETTLE_MS = 12000;
const NEGOTIATED_SRTP = /Negotiated media encryption is LinphoneMediaEncryptionSRTP/;

/**
 * linphonec with SRTP mandatory and only `suites` allowed. The shared driver (test/harness/linphone.ts) has no
 * suites option: its `media_encryption=<value>` line is followed by our `srtp_crypto_suites` line (a proper
 * `srtpSuites` option there is proposed in the report).
 */
function startSrtpLinphone(o: { name: string; runDir: string; autoAnswer?: boolean; suites: readonly Suite[] }): Promise<Linphone> {
  const mediaEncryption = `srtp\nsrtp_crypto_suites=${o.suites.join(', ')}` as 'srtp';
  return startLinphone({ name: o.name, runDir: o.runDir, autoAnswer: o.autoAnswer, mediaEncryption, maxSeconds: 45 });
}

/** UDP payload sizes of the RTP-looking packets (RTP and SRTP share the header) in `packets`. */
function rtpSizes(packets: readonly IpPacket[]): Map<number, number> {
  const sizes = new Map<number, number>();
  for (const p of packets) if (classify(p.payload) === 'RTP') sizes.set(p.payload.length, (sizes.get(p.payload.length) ?? 0) + 1);
  return sizes;
}

function onlySize(packets: readonly IpPacket[], size: number, what: string): void {
  const sizes = rtpSizes(packets);
  const total = [...sizes.values()].reduce((a, b) => a + b, 0);
  assert.ok(total >= 50, `${what}: ${total} RTP packets on the wire (sizes ${JSON.stringify([...sizes])})`);
  assert.deepEqual([...sizes.keys()], [size], `${what}: UDP payload sizes ${JSON.stringify([...sizes])}, expected only ${size}`);
}

function heard(recording: string, frequency: number): number {
  const w = readWav(recording);
  return toneSeconds(w.samples, w.sampleRate, frequency);
}

function plainCallee(runDir: string, tone: ToneFiles, sipPort: number, mediaPort: number): Promise<SippRun> {
  return startSipp({
    name: 'sipp-callee', runDir, scenario: 'uas_answer.xml', port: sipPort, mediaPort, pauseMs: 300, maxSeconds: 30,
    keys: { rtp: `${tone.ulaw},-1,0` },
  });
}

/** `caller` dials `target`, keeps the call `ms` once media is up, hangs up. */
async function callFor(caller: Linphone, target: string, ms: number): Promise<void> {
  await sleep(300); // play/record commands applied
  caller.command(`call ${target}`);
  await caller.waitForOutput(/Media streams established/, 15000);
  await sleep(ms);
  caller.command('terminate');
  await caller.waitForOutput(/ended/, 5000);
}

async function capture(runDir: string, ports: number[]): Promise<{ stop: () => Promise<IpPacket[]> }> {
  return startCapture(path.join(runDir, 'call.pcap'), portsFilter(ports.flatMap((p) => [p, p + 1])), 60); // RTP and RTCP ports
}

async function finish(b2bua: B2buaDaemon): Promise<void> {
  await b2bua.waitForCounters(LIVE_COUNTERS, SETTLE_MS);
  assert.equal(mediaReportTotal(b2bua, 'srtpAuthFailures'), 0, 'the engine authenticated every SRTP packet');
  await b2bua.stop();
}

describe('trenscrypter through the daemon (GStreamer engine): linphonec and sipp', function () {
  trenscrypterSuite(this, 60000);
  before(() => requireTools(['linphonec', 'sipp', 'dumpcap']));

  for (const suite of AES_CM_SUITES) {
    it(`linphonec SDES ${suite} -> b2bua (leg B none) -> plain sipp: tone both ways, SRTP ${pcmuWireSize(suite)} B on leg A, plain 172 B on leg B`, async () => {
      const runDir = createRunDir(`lp-${suite}-to-plain`);
      const tones = { caller: writeToneFiles(path.join(runDir, 'tones'), 440), callee: writeToneFiles(path.join(runDir, 'tones'), 880) };
      const [sipPort] = await freePorts(1);
      const [mediaPort] = await freePorts(4);
      const sipp = await plainCallee(runDir, tones.callee, sipPort!, mediaPort!);
      await waitForListening(sipPort!, 'udp');
      const b2bua = await startTrenscrypter({ name: `lp-${suite}-to-plain`, runDir, outboundProxyPort: sipPort!, policy: { enc: ['none', 'sip:bob@.*'] } });
      const lp = await startSrtpLinphone({ name: 'alice', runDir, suites: [suite] });
      const cap = await capture(runDir, [lp.rtpPort, mediaPort!]);
      const rec = path.join(runDir, 'alice.rec.wav');
      setMedia(lp, tones.caller.wav, rec);
      await callFor(lp, `sip:bob@${b2bua.address}`, 3000);
      const sippResult = await sipp.result();
      await lp.quit();
      const packets = await cap.stop();

      assert.match(readIfExists(lp.logFile), NEGOTIATED_SRTP, 'linphonec negotiated SRTP');
      assert.equal(sippResult.code, 0, sippResult.summary);
      // leg A: SRTP both ways in the suite's size, the tone not decodable
      onlySize(packetsFrom(packets, lp.rtpPort), pcmuWireSize(suite), 'leg A, sent by linphonec');
      onlySize(packetsTo(packets, lp.rtpPort), pcmuWireSize(suite), 'leg A, sent by the b2bua');
      assert.ok(toneSecondsIn(packetsFrom(packets, lp.rtpPort), 440) < 0.2, 'leg A is encrypted: no tone decodable on the wire');
      // leg B: plain PCMU, linphonec's tone decoded from what reached sipp
      onlySize(packetsTo(packets, mediaPort!), pcmuWireSize(undefined), 'leg B, sent by the b2bua');
      const atSipp = toneSecondsIn(packetsTo(packets, mediaPort!), 440);
      assert.ok(atSipp >= 2, `linphonec's 440 Hz decoded at sipp: ${atSipp} s`);
      const atLp = heard(rec, 880);
      assert.ok(atLp >= 2, `sipp's 880 Hz in linphonec's recording: ${atLp} s`);
      await finish(b2bua);
    });
  }

  for (const suite of AES_CM_SUITES) {
    it(`plain sipp -> b2bua (outgoing-enc-regex sdes, outgoing-srtp-regex ${suite}) -> linphonec requiring SRTP: tone both ways, wire per leg`, async () => {
      const runDir = createRunDir(`plain-to-lp-${suite}`);
      const tones = { caller: writeToneFiles(path.join(runDir, 'tones'), 440), callee: writeToneFiles(path.join(runDir, 'tones'), 880) };
      const lp = await startSrtpLinphone({ name: 'bob', runDir, suites: AES_CM_SUITES, autoAnswer: true });
      const rec = path.join(runDir, 'bob.rec.wav');
      setMedia(lp, tones.callee.wav, rec);
      const policy: Policy = { enc: ['sdes', 'sip:bob@.*'], srtp: [suite, 'sip:bob@.*'] };
      const b2bua = await startTrenscrypter({ name: `plain-to-lp-${suite}`, runDir, outboundProxyPort: lp.sipPort, policy });
      const [sipPort] = await freePorts(1);
      const [mediaPort] = await freePorts(4);
      const cap = await capture(runDir, [lp.rtpPort, mediaPort!]);
      const sipp = await startSipp({
        name: 'sipp-caller', runDir, scenario: 'uac_call.xml', remote: b2bua.address, port: sipPort, mediaPort, pauseMs: 3500,
        maxSeconds: 30, keys: { rtp: `${tones.caller.ulaw},-1,0`, to_user: 'bob' },
      });
      const sippResult = await sipp.result();
      await lp.waitForOutput(/ended/, 5000);
      await lp.quit();
      const packets = await cap.stop();

      assert.equal(sippResult.code, 0, sippResult.summary);
      assert.match(readIfExists(lp.logFile), NEGOTIATED_SRTP, 'linphonec negotiated SRTP');
      onlySize(packetsTo(packets, mediaPort!), pcmuWireSize(undefined), 'leg A, sent by the b2bua to sipp');
      onlySize(packetsFrom(packets, lp.rtpPort), pcmuWireSize(suite), 'leg B, sent by linphonec');
      onlySize(packetsTo(packets, lp.rtpPort), pcmuWireSize(suite), 'leg B, sent by the b2bua');
      assert.ok(toneSecondsIn(packetsTo(packets, lp.rtpPort), 440) < 0.2, 'leg B is encrypted: no tone decodable on the wire');
      const atSipp = toneSecondsIn(packetsTo(packets, mediaPort!), 880);
      assert.ok(atSipp >= 2, `linphonec's 880 Hz decoded at sipp: ${atSipp} s`);
      const atLp = heard(rec, 440);
      assert.ok(atLp >= 2, `sipp's 440 Hz in linphonec's recording: ${atLp} s`);
      await finish(b2bua);
    });
  }

  it('linphonec SDES AES_CM_128_HMAC_SHA1_80 -> b2bua -> linphonec SDES AES_256_CM_HMAC_SHA1_32: tone both ways, each leg in its suite', async () => {
    const runDir = createRunDir('lp80-to-lp256-32');
    const tones = { caller: writeToneFiles(path.join(runDir, 'tones'), 440), callee: writeToneFiles(path.join(runDir, 'tones'), 880) };
    const callee = await startSrtpLinphone({ name: 'bob', runDir, suites: ['AES_256_CM_HMAC_SHA1_32'], autoAnswer: true });
    const b2bua = await startTrenscrypter({
      name: 'lp80-to-lp256-32', runDir, outboundProxyPort: callee.sipPort,
      policy: { enc: ['sdes', 'sip:bob@.*'], srtp: ['AES_256_CM_HMAC_SHA1_32', 'sip:bob@.*'] },
    });
    const caller = await startSrtpLinphone({ name: 'alice', runDir, suites: ['AES_CM_128_HMAC_SHA1_80'] });
    const cap = await capture(runDir, [caller.rtpPort, callee.rtpPort]);
    const recA = path.join(runDir, 'alice.rec.wav');
    const recB = path.join(runDir, 'bob.rec.wav');
    setMedia(caller, tones.caller.wav, recA);
    setMedia(callee, tones.callee.wav, recB);
    await callFor(caller, `sip:bob@${b2bua.address}`, 3000);
    await callee.waitForOutput(/ended/, 5000);
    await Promise.all([caller.quit(), callee.quit()]);
    const packets = await cap.stop();

    for (const lp of [caller, callee]) assert.match(readIfExists(lp.logFile), NEGOTIATED_SRTP, `${lp.name} negotiated SRTP`);
    onlySize(packetsFrom(packets, caller.rtpPort), pcmuWireSize('AES_CM_128_HMAC_SHA1_80'), 'leg A, sent by alice');
    onlySize(packetsTo(packets, caller.rtpPort), pcmuWireSize('AES_CM_128_HMAC_SHA1_80'), 'leg A, sent by the b2bua');
    onlySize(packetsFrom(packets, callee.rtpPort), pcmuWireSize('AES_256_CM_HMAC_SHA1_32'), 'leg B, sent by bob');
    onlySize(packetsTo(packets, callee.rtpPort), pcmuWireSize('AES_256_CM_HMAC_SHA1_32'), 'leg B, sent by the b2bua');
    const atBob = heard(recB, 440);
    const atAlice = heard(recA, 880);
    assert.ok(atBob >= 2 && atAlice >= 2, `bob heard ${atBob} s of 440 Hz, alice ${atAlice} s of 880 Hz`);
    await finish(b2bua);
  });
});
