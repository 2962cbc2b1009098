/**
 * Harness self-test: linphonec alice calls linphonec bob directly (no b2bua) with each media encryption, both
 * sides mandatory. Proves what the trenscrypter matrix relies on: the linphonec options (media_encryption,
 * mandatory, video), the parsing of "Negotiated media encryption is ..." and of the ZRTP SAS, and the wire
 * classification of each port (plain / SDES / DTLS-SRTP / ZRTP, test/harness/wire.ts) on real traffic.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { createRunDir } from '../../harness/run-dir.js';
import { startLinphone, type LinphoneEncryption } from '../../harness/linphone.js';
import { encryptedCall, mediaPorts, portWire, WIRE_OF } from '../../harness/encrypted-call.js';
import { startCapture, portsFilter } from '../../harness/capture.js';
import { writeToneFiles } from '../../harness/tones.js';
import { stopAllStarted } from '../../harness/processes.js';
import { requireTools } from '../../harness/tools.js';

const CALL_SECONDS = 3;
/** After video is up: the static picture goes at a few frames per second. */
const VIDEO_CALL_SECONDS = 5;

interface Case {
  readonly encryption: LinphoneEncryption;
  /** Calls in a row between the same two linphonecs (the second one is a ZRTP cache hit). */
  readonly calls?: number;
  readonly video?: boolean;
}

const CASES: readonly Case[] = [
  { encryption: 'zrtp', calls: 2 },
  { encryption: 'dtls' },
  { encryption: 'srtp' },
  { encryption: 'none' },
  { encryption: 'dtls', video: true },
  { encryption: 'zrtp', video: true },
];

describe('harness self-test: linphonec <-> linphonec directly, each media encryption', function () {
  this.timeout(90000);
  before(() => requireTools(['linphonec', 'ss', 'dumpcap']));
  afterEach(() => stopAllStarted());

  for (const c of CASES) {
    const calls = c.calls ?? 1;
    it(`${c.encryption}${c.video ? ' + video' : ''} (${c.encryption === 'none' ? 'no encryption' : 'mandatory'}) x${calls}: tone both ways, both negotiate ${c.encryption}, the wire says ${WIRE_OF[c.encryption]}${c.encryption === 'zrtp' ? ', same SAS on both sides' : ''}`, async () => {
      const run = createRunDir(`harness-lp-enc-${c.encryption}${c.video ? '-video' : ''}`);
      const tones = { alice: writeToneFiles(path.join(run, 'tones'), 440), bob: writeToneFiles(path.join(run, 'tones'), 880) };
      const alice = await startLinphone({ name: 'alice', runDir: run, mediaEncryption: c.encryption, video: c.video, maxSeconds: 80 });
      const bob = await startLinphone({ name: 'bob', runDir: run, mediaEncryption: c.encryption, video: c.video, autoAnswer: true, maxSeconds: 80 });
      const cap = await startCapture(path.join(run, 'media.pcap'), portsFilter(mediaPorts(alice, bob)), 80);
      const windows: { since: number; until: number }[] = [];
      const sas: string[][] = [];
      for (let n = 1; n <= calls; n++) {
        const since = Date.now() / 1000;
        const r = await encryptedCall({
          caller: { lp: alice, encryption: c.encryption, tone: tones.alice }, callee: { lp: bob, encryption: c.encryption, tone: tones.bob },
          target: bob.uri, runDir: run, seconds: c.video ? VIDEO_CALL_SECONDS : CALL_SECONDS, video: c.video, nth: n,
        });
        windows.push({ since, until: Date.now() / 1000 });
        assert.ok(r.calleeHeard >= 2 && r.callerHeard >= 2, `call ${n}: ${r.info}`);
        if (c.encryption === 'zrtp') {
          assert.match(r.callerEncrypted?.authToken ?? '', /^[a-z0-9]{4}$/i, `call ${n}: alice printed a 4-character SAS: ${r.info}`);
          assert.equal(r.calleeEncrypted?.authToken, r.callerEncrypted?.authToken, `call ${n}: both sides show the same SAS: ${r.info}`);
          sas.push([r.callerEncrypted!.authToken]);
        }
        if (c.encryption === 'dtls') assert.ok(r.callerEncrypted && r.calleeEncrypted, `call ${n}: both report "fully encrypted": ${r.info}`);
      }
      await Promise.all([alice.quit(), bob.quit()]);
      const packets = await cap.stop();
      for (const [i, w] of windows.entries()) {
        for (const [lp, sent, received] of [[alice, 440, 880], [bob, 880, 440]] as const) {
          const wire = portWire(packets, lp, sent, received, { ...w, video: c.video });
          assert.equal(wire.sent.protocol, WIRE_OF[c.encryption], `call ${i + 1}, sent by ${lp.name}: ${wire.sent.why}`);
          assert.equal(wire.received.protocol, WIRE_OF[c.encryption], `call ${i + 1}, received by ${lp.name}: ${wire.received.why}`);
          if (c.video) {
            assert.equal(wire.videoSent!.protocol, WIRE_OF[c.encryption], `call ${i + 1}, video sent by ${lp.name}: ${wire.videoSent!.why}`);
            assert.equal(wire.videoReceived!.protocol, WIRE_OF[c.encryption], `call ${i + 1}, video received by ${lp.name}: ${wire.videoReceived!.why}`);
          }
        }
      }
    });
  }
});
