/**
 * A forged first DTLS / ZRTP packet must not steal the media latch (core/media/README.md, "Media latching"): through the
 * daemon (trenscrypter, GStreamer engine), linphonec "alice" -> b2bua -> linphonec "bob":
 * DTLS-SRTP on both legs, ZRTP on both legs, and DTLS-SRTP -> SDES (a leg that runs no DTLS). An attacker on the callers' IP address (127.0.0.1) from another port sprays a forged DTLS
 * ClientHello (resp. a ZRTP Hello with a valid CRC) at every port of the daemon's small `audio-port` range, every 20 ms,
 * from before the call until after the handshakes. The call must be secured with the tone both ways, the attacker must
 * receive nothing (no RTP/SRTP, no handshake answer), and the forged packets are counted as rejected.
 *
 *   flock /tmp/e2e.lock npx mocha --timeout 120000 test/e2e/media/forged-handshake.test.ts   (~35 s)
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createRunDir } from '../../harness/run-dir.js';
import { startLinphone, type LinphoneEncryption } from '../../harness/linphone.js';
import { encryptedCall } from '../../harness/encrypted-call.js';
import { writeToneFiles } from '../../harness/tones.js';
import { requireTools } from '../../harness/tools.js';
import { freePorts } from '../../harness/ports.js';
import { startB2bua, LIVE_COUNTERS } from '../../harness/b2bua.js';
import { live, trenscrypterIni, trenscrypterSuite } from '../trenscrypter/fixture.js';

const TONE = { alice: 440, bob: 880 } as const;
/** The daemon's audio-port range: both legs' RTP/RTCP pairs are in it, the attacker sprays all of it. */
const RANGE = 12;
const SPRAY_EVERY_MS = 20;

/** A DTLS 1.2 record carrying a ClientHello (use_srtp offered), as a peer's first flight: RFC 6347 4.2.2, RFC 5764. */
function forgedClientHello(): Buffer {
  const body = Buffer.concat([
    Buffer.from([0xfe, 0xfd]), randomBytes(32), // client_version DTLS 1.2, random
    Buffer.from([0x00, 0x00]), // session_id, cookie: empty
    Buffer.from([0x00, 0x04, 0xc0, 0x2b, 0xc0, 0x2f]), // cipher suites: ECDHE-ECDSA/RSA-AES128-GCM-SHA256
    Buffer.from([0x01, 0x00]), // compression: null
    Buffer.from([0x00, 0x09, 0x00, 0x0e, 0x00, 0x05, 0x00, 0x02, 0x00, 0x01, 0x00]), // extensions: use_srtp SRTP_AES128_CM_SHA1_80
  ]);
  const len3 = (n: number) => Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
  const handshake = Buffer.concat([Buffer.from([0x01]), len3(body.length), Buffer.from([0x00, 0x00]), len3(0), len3(body.length), body]);
  const header = Buffer.alloc(13);
  header[0] = 22; // handshake
  header.writeUInt16BE(0xfefd, 1);
  header.writeUInt16BE(handshake.length, 11); // epoch 0, sequence 0
  return Buffer.concat([header, handshake]);
}

/** CRC-32C (Castagnoli), the ZRTP packet checksum (RFC 6189 5). */
function crc32c(buf: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of buf) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** A ZRTP packet carrying a well-formed Hello (RFC 6189 5.2: version 1.10, a stranger's ZID, no algorithm lists), valid CRC. */
function forgedZrtpHello(seq: number): Buffer {
  const msg = Buffer.concat([
    Buffer.from([0x50, 0x5a, 0x00, 22]), // preamble, length in words (22 = 88 bytes)
    Buffer.from('Hello   1.10', 'ascii'), Buffer.from('attacker        ', 'ascii'),
    randomBytes(32), randomBytes(12), // H3, ZID
    Buffer.alloc(4), // flags, no algorithm counts (the mandatory ones)
    randomBytes(8), // MAC
  ]);
  const header = Buffer.alloc(12);
  header[0] = 0x10;
  header.writeUInt16BE(seq & 0xffff, 2);
  header.write('ZRTP', 4, 'ascii');
  header.writeUInt32BE(0xbadbad, 8);
  const packet = Buffer.concat([header, msg, Buffer.alloc(4)]);
  packet.writeUInt32BE(crc32c(packet.subarray(0, packet.length - 4)), packet.length - 4);
  return packet;
}

/** Sends `forge()` to every port from 127.0.0.1:<its own port> until stopped; keeps whatever it receives. */
async function startAttacker(ports: readonly number[], forge: (n: number) => Buffer) {
  const sock = dgram.createSocket('udp4');
  const received: { from: number; firstByte: number; size: number }[] = [];
  sock.on('message', (m, r) => received.push({ from: r.port, firstByte: m[0] ?? -1, size: m.length }));
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  let sent = 0;
  const timer = setInterval(() => {
    for (const p of ports) sock.send(forge(sent++), p, '127.0.0.1');
  }, SPRAY_EVERY_MS);
  const deadline = setTimeout(() => clearInterval(timer), 60_000); // bounded whatever happens
  live.closers.push(() => { clearInterval(timer); clearTimeout(deadline); sock.close(); });
  return {
    port: sock.address().port,
    received,
    get sent() { return sent; },
    stop: () => { clearInterval(timer); clearTimeout(deadline); },
  };
}

interface ReportStream { readonly [k: string]: unknown; readonly rejectedWrongPort?: number; readonly rejectedSource?: number; readonly packetsIn?: number }

describe('a forged first DTLS / ZRTP packet does not steal the media latch (daemon, linphonec, GStreamer engine)', function () {
  trenscrypterSuite(this, 90000);
  before(() => requireTools(['linphonec']));

  type Mode = 'dtls-srtp' | 'zrtp' | 'sdes';
  const LP: Readonly<Record<Mode, LinphoneEncryption>> = { 'dtls-srtp': 'dtls', zrtp: 'zrtp', sdes: 'srtp' };
  // The third case: leg B (SDES) runs no DTLS, where a ClientHello must never latch either.
  const cases: { a: Mode; b: Mode; forge: (n: number) => Buffer; what: string }[] = [
    { a: 'dtls-srtp', b: 'dtls-srtp', forge: () => forgedClientHello(), what: 'DTLS ClientHello' },
    { a: 'zrtp', b: 'zrtp', forge: (n) => forgedZrtpHello(n), what: 'ZRTP Hello' },
    { a: 'dtls-srtp', b: 'sdes', forge: () => forgedClientHello(), what: 'DTLS ClientHello' },
  ];
  for (const c of cases) {
    it(`${c.a} -> ${c.b}: a forged ${c.what} sprayed at the media ports before and during the handshake: call secured, tone both ways, nothing to the attacker, rejected and counted`, async () => {
      const runDir = createRunDir(`forged-${c.a}-${c.b}`);
      const tones = { alice: writeToneFiles(path.join(runDir, 'tones'), TONE.alice), bob: writeToneFiles(path.join(runDir, 'tones'), TONE.bob) };
      const ports = await freePorts(RANGE);
      const bob = await startLinphone({ name: 'bob', runDir, mediaEncryption: LP[c.b], autoAnswer: true, maxSeconds: 60 });
      live.runDir = runDir;
      const b2bua = await startB2bua({
        runDir,
        outboundProxy: `sip:127.0.0.1:${bob.sipPort};transport=udp`,
        settings: { 'media-engine': 'gstreamer', 'media-workers': 1, 'audio-port': `${ports[0]}-${ports[RANGE - 1]}` },
        extraIni: `[global]\nlog-level=debug\n\n${trenscrypterIni({ enc: [c.b, 'sip:bob@.*'] })}`,
      });
      live.b2bua = b2bua;
      const alice = await startLinphone({ name: 'alice', runDir, mediaEncryption: LP[c.a], maxSeconds: 60 });
      const attacker = await startAttacker(ports, c.forge);
      const r = await encryptedCall({
        caller: { lp: alice, encryption: LP[c.a], tone: tones.alice }, callee: { lp: bob, encryption: LP[c.b], tone: tones.bob },
        target: `sip:bob@${b2bua.address}`, runDir, seconds: 3,
      });
      attacker.stop();
      await Promise.all([alice.quit(), bob.quit()]);
      await b2bua.waitForCounters(LIVE_COUNTERS, 12000);
      const report = b2bua.logLines().find((l) => l['msg'] === 'media report');
      await b2bua.stop();

      const info = `${r.info}; attacker sent ${attacker.sent}, received ${JSON.stringify(attacker.received.slice(0, 5))} (${attacker.received.length})`;
      assert.ok(r.calleeHeard >= 2, `bob must hear alice: ${info}`);
      assert.ok(r.callerHeard >= 2, `alice must hear bob: ${info}`);
      assert.deepEqual(attacker.received.filter((p) => p.firstByte >= 128 && p.firstByte <= 191), [], `no RTP/SRTP to the attacker: ${info}`);
      assert.equal(attacker.received.length, 0, `nothing at all to the attacker (no handshake answer either): ${info}`);
      assert.ok(report, 'one media report');
      const media = report['media'] as Record<'a' | 'b', ReportStream[]>;
      for (const leg of ['a', 'b'] as const) {
        const s = media[leg]?.[0];
        assert.ok(s, `leg ${leg} in the media report: ${JSON.stringify(report)}`);
        assert.ok((s.rejectedWrongPort ?? 0) > 0, `leg ${leg}: the forged packets from the SDP address but another port are counted in rejectedWrongPort: ${JSON.stringify(s)}`);
        assert.equal(s['srtpAuthFailures'], 0, `leg ${leg}: ${JSON.stringify(s)}`);
      }
    });
  }
});
