/**
 * ICE-lite through the daemon with real clients: linphonec "alice" and "bob" with ICE on (a NAT policy protocols=ice,
 * no STUN server: host candidates), the daemon with Flexisip's default enable-ice=true and the default engine.
 * Each case checks: the tone both ways in the far ends' recordings, ICE attributes in the SDP each linphonec received,
 * the connectivity checks the b2bua answered on each leg (media report: iceChecksAnswered, iceNominated; log line
 * "ICE pair nominated"), what each linphonec says of ICE, every counter back to 0.
 *
 *   npx tsc -p . && npx mocha --timeout 180000 test/e2e/trenscrypter/ice.test.ts
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { createRunDir } from '../../harness/run-dir.js';
import { iceHostAddress, startLinphone, type LinphoneEncryption } from '../../harness/linphone.js';
import { encryptedCall } from '../../harness/encrypted-call.js';
import { writeToneFiles } from '../../harness/tones.js';
import { requireTools } from '../../harness/tools.js';
import { LIVE_COUNTERS, startB2bua } from '../../harness/b2bua.js';
import { readIfExists } from '../../harness/wait.js';
import { live, trenscrypterIni, trenscrypterSuite } from './fixture.js';

type Mode = 'sdes' | 'dtls-srtp' | 'zrtp' | 'none';
const LINPHONE_OF: Readonly<Record<Mode, LinphoneEncryption>> = { none: 'none', sdes: 'srtp', 'dtls-srtp': 'dtls', zrtp: 'zrtp' };
const TONE = { alice: 440, bob: 880 } as const;

type ReportStream = { kind?: string; iceChecksAnswered?: number; iceChecksRefused?: number; iceNominated?: string; srtpAuthFailures?: number };

describe('ICE-lite through the daemon: linphonec (ICE) -> b2bua (enable-ice default true) -> linphonec (ICE)', function () {
  trenscrypterSuite(this, 180000);
  before(function () {
    requireTools(['linphonec', 'ss']);
    if (!iceHostAddress()) this.skip(); // liblinphone's ICE candidates are the host's interface addresses, never loopback
  });

  for (const [a, b] of [['sdes', 'sdes'], ['zrtp', 'dtls-srtp'], ['none', 'none']] as const) {
    it(`leg A ${a} -> leg B ${b}: tone both ways, the b2bua answers both linphonecs' checks, leg A media on the pair alice nominated`, async () => {
      const runDir = createRunDir(`ice-${a}-${b}`);
      live.runDir = runDir;
      const tones = { alice: writeToneFiles(path.join(runDir, 'tones'), TONE.alice), bob: writeToneFiles(path.join(runDir, 'tones'), TONE.bob) };
      const bob = await startLinphone({ name: 'bob', runDir, mediaEncryption: LINPHONE_OF[b as Mode], autoAnswer: true, ice: true, maxSeconds: 120 });
      const b2bua = await startB2bua({
        runDir,
        outboundProxy: `sip:127.0.0.1:${bob.sipPort};transport=udp`,
        // Flexisip keys only: enable-ice and media-engine left to their defaults (true, gstreamer).
        settings: { 'media-engine': undefined, 'enable-ice': undefined, 'shutdown-grace-period': undefined },
        extraIni: `[global]\nlog-level=debug\n\n${trenscrypterIni({ enc: [b, 'sip:bob@.*'] })}`,
      });
      live.b2bua = b2bua;
      const alice = await startLinphone({ name: 'alice', runDir, mediaEncryption: LINPHONE_OF[a as Mode], ice: true, maxSeconds: 120 });
      const r = await encryptedCall({
        caller: { lp: alice, encryption: LINPHONE_OF[a as Mode], tone: tones.alice }, callee: { lp: bob, encryption: LINPHONE_OF[b as Mode], tone: tones.bob },
        target: `sip:bob@${b2bua.address}`, runDir, seconds: 3, nth: 1,
      });
      await Promise.all([alice.quit(), bob.quit()]);
      assert.ok(r.calleeHeard >= 2, `bob must hear alice: ${r.info}`);
      assert.ok(r.callerHeard >= 2, `alice must hear bob: ${r.info}`);
      await b2bua.waitForCounters(LIVE_COUNTERS, 12000);
      const logs = b2bua.logLines();
      const report = logs.find((l) => l['msg'] === 'media report');
      assert.ok(report, 'a media report');
      const media = report['media'] as Record<'a' | 'b', ReportStream[]>;
      const line = JSON.stringify(report);
      const host = iceHostAddress()!;
      for (const [leg, lp] of [['a', alice], ['b', bob]] as const) {
        const audio = media[leg][0]!;
        assert.ok((audio.iceChecksAnswered ?? 0) > 0, `leg ${leg}: the b2bua answered ${lp.name}'s connectivity checks: ${line}`);
        assert.equal(audio.iceChecksRefused ?? 0, 0, `leg ${leg}: no check refused: ${line}`);
        assert.equal(audio.srtpAuthFailures ?? 0, 0, line);
        assert.match(readIfExists(lp.logFile), /a=ice-lite/, `${lp.name} received our ICE-lite SDP`);
        assert.match(readIfExists(lp.logFile), /ice: Recv binding response/, `${lp.name} received our Binding success responses`);
      }
      // Leg A: alice offered ICE and, facing our ICE-lite answer, is the controlling agent: she nominates (USE-CANDIDATE),
      // and that pair is the leg's media address.
      assert.equal(media.a[0]!.iceNominated, `${host}:${alice.rtpPort}`, `leg a: alice nominated her RTP candidate: ${line}`);
      assert.ok(logs.some((l) => l['msg'] === 'ICE pair nominated' && l['leg'] === 'a'), 'leg a: "ICE pair nominated" logged');
      assert.match(readIfExists(alice.logFile), /Finished ICE check list \[0x[0-9a-f]+\] processing successfully/, 'alice: ICE completed');
      // Leg B: liblinphone 5.1 answering our ICE-lite offer stays controlled (its checks carry ICE-CONTROLLED) instead of
      // taking the controlling role (RFC 8445 section 6.1.1), so nobody nominates: media flows on the c= address as without ICE.
      assert.equal(media.b[0]!.iceNominated, undefined, `leg b: bob (liblinphone 5.1, controlled) nominates nothing: ${line}`);
      await b2bua.stop();
    });
  }
});
