/**
 * The GStreamer media engine driven directly (no SIP): real worker processes, real GStreamer
 * pipelines with our C elements, two test endpoints of our own on loopback (plain RTP or SRTP
 * through an independent TypeScript SRTP implementation).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createGstEngine } from '../../../core/media/gst/index.js';
import { generateSrtpKey } from '../../../core/media/sdes.js';
import type { LegParams, MediaEngine, MediaEvent, MediaSession, SrtpKey, StreamParams } from '../../../core/media/types.js';
import { silentLogger } from '../../../core/log/index.js';
import type { B2buaServerConfig, SrtpSuite } from '../../../core/plugin-api/index.js';
import { freePorts } from '../../harness/ports.js';
import { sleep, waitUntil } from '../../harness/wait.js';
import { TestEndpoint } from './endpoint.js';

type GstEngine = MediaEngine & { crashWorkerOf(sessionId: string): Promise<void> };

function config(extra: Partial<Record<string, unknown>> = {}): B2buaServerConfig {
  return {
    application: 'test', transport: 'sip:127.0.0.1:5060;transport=udp', outboundProxy: '', userAgent: 'test',
    audioPort: { min: 0, max: 0 }, videoPort: { min: 0, max: 0 }, noRtpTimeout: 30, maxCallDuration: 0, maxCalls: 0, maxMediaLines: 5,
    enableKeepalive: false, enableIce: false, natAddresses: [], audioCodec: '', videoCodec: '', dataDirectory: '/tmp',
    oneConnectionPerAccount: false, tlsCertificate: '', tlsPrivateKey: '', pluginDirectories: [], mediaEngine: 'gstreamer', mediaAddress: '',
    mediaWorkers: 1, adminAddress: '', shutdownGracePeriod: 5, ringingTimeout: 120, sessionExpires: 1800,
    maxConnections: 4096, maxConnectionsPerAddress: 64, sipHeaderTimeout: 10, sipIdleTimeout: 300, ...extra,
  };
}

function stream(ep: TestEndpoint, o: { mux?: boolean; srtp?: { send: SrtpKey; recv: SrtpKey }; direction?: StreamParams['direction']; rtcpPort?: number } = {}): StreamParams {
  return {
    index: 0, kind: 'audio', enabled: true, rtcpMux: o.mux ?? true, direction: o.direction ?? 'sendrecv',
    remote: { address: '127.0.0.1', rtpPort: ep.port, rtcpPort: o.rtcpPort ?? (o.mux === false ? ep.port + 1 : ep.port) },
    encryption: o.srtp ? 'sdes' : 'none',
    ...(o.srtp ? { srtp: o.srtp } : {}),
  };
}

const legOf = (s: StreamParams): LegParams => ({ streams: [s] });

interface Call {
  session: MediaSession;
  a: TestEndpoint;
  b: TestEndpoint;
  portA: number;
  portB: number;
  rtcpPortB: number;
  events: MediaEvent[];
}

describe('gstreamer media engine (real workers, real pipelines, loopback)', function () {
  this.timeout(30_000);
  let engine: GstEngine;
  const endpoints: TestEndpoint[] = [];
  const sessions: MediaSession[] = [];

  before(async () => {
    engine = await createGstEngine(config(), silentLogger());
  });
  after(async () => {
    for (const e of endpoints) e.close();
    await Promise.all(sessions.map((s) => s.close().catch(() => undefined)));
    await engine?.close();
  });

  /** A call whose leg A peer sends SRTP under `suite` (only its send key is known to it) and leg B is plain. */
  async function callWithSrtpSenderOnA(suite: SrtpSuite): Promise<Call> {
    const c = await call();
    const legA = { send: generateSrtpKey(suite), recv: generateSrtpKey(suite) };
    c.a.keys({ suite, keySalt: legA.recv.keySalt });
    await c.session.configure('a', legOf(stream(c.a, { srtp: legA })));
    await c.session.configure('b', legOf(stream(c.b)));
    return c;
  }

  async function call(noRtpTimeoutMs = 0): Promise<Call> {
    const session = await engine.createSession({ callId: `t-${randomBytes(3).toString('hex')}`, noRtpTimeoutMs });
    sessions.push(session);
    const events: MediaEvent[] = [];
    session.onEvent((e) => events.push(e));
    const a = await TestEndpoint.open();
    const b = await TestEndpoint.open();
    endpoints.push(a, b);
    const ea = await session.allocate('a', 0, 'audio');
    const eb = await session.allocate('b', 0, 'audio');
    return { session, a, b, portA: ea.rtpPort, portB: eb.rtpPort, rtcpPortB: eb.rtcpPort, events };
  }

  it('reports its capabilities from the build (every mode; SDES suites libsrtp can do here)', () => {
    assert.deepEqual([...engine.capabilities.encryption], ['none', 'sdes', 'dtls-srtp', 'zrtp']);
    assert.ok(engine.capabilities.srtpSuites.includes('AES_CM_128_HMAC_SHA1_80'));
    assert.ok(engine.capabilities.srtpSuites.includes('AEAD_AES_128_GCM'));
    assert.ok(!engine.capabilities.srtpSuites.includes('AES_192_CM_HMAC_SHA1_80'), 'AES-192 is refused (see README)');
  });

  it('counts RTP packets lost from the peer\'s sequence numbers, per SSRC, across an SSRC change (RFC 3550 A.3)', async () => {
    const c = await call();
    await c.session.configure('a', legOf(stream(c.a)));
    await c.session.configure('b', legOf(stream(c.b)));
    await c.a.sendTone({ to: c.portA, count: 20, ssrc: 0x1111, seqStart: 65530 }); // wraps around 65535
    await c.a.sendTone({ to: c.portA, count: 20, ssrc: 0x1111, seqStart: (65530 + 30) % 65536 }); // 10 missing
    await c.a.sendTone({ to: c.portA, count: 10, ssrc: 0x3333, seqStart: 500 });
    await c.a.sendTone({ to: c.portA, count: 10, ssrc: 0x3333, seqStart: 515 }); // 5 missing
    await waitUntil('60 packets at B', () => (c.b.count() === 60 ? true : undefined), 5000);
    const st = await c.session.stats();
    assert.equal(st.a[0]!.packetsIn, 60);
    assert.equal(st.a[0]!.packetsLost, 15);
    assert.equal(st.b[0]!.packetsLost, 0, 'nothing was sent on leg B');
  });

  it('relays plain RTP both ways with symmetric sockets, the tone intact, and counts it per leg', async () => {
    const c = await call();
    await c.session.configure('a', legOf(stream(c.a)));
    await c.session.configure('b', legOf(stream(c.b)));
    await c.a.sendTone({ to: c.portA, count: 50, ssrc: 0x1111 });
    await c.b.sendTone({ to: c.portB, count: 40, ssrc: 0x2222, frequency: 800 });
    await waitUntil('50 packets at B and 40 at A', () => (c.b.count() === 50 && c.a.count() === 40 ? true : undefined), 5000);
    assert.ok(c.b.toneSeconds(0x1111) >= 0.9, `1 kHz tone at B: ${c.b.toneSeconds(0x1111)} s`);
    assert.ok(c.a.toneSeconds(0x2222, 800) >= 0.7, `800 Hz tone at A: ${c.a.toneSeconds(0x2222, 800)} s`);
    const st = await c.session.stats();
    assert.equal(st.a[0]!.packetsIn, 50);
    assert.equal(st.a[0]!.packetsOut, 40);
    assert.equal(st.b[0]!.packetsIn, 40);
    assert.equal(st.b[0]!.packetsOut, 50);
    assert.equal(st.a[0]!.bytesIn, 50 * 172);
    assert.ok(Date.now() - st.a[0]!.lastPacketAt < 5000, 'lastPacketAt is recent');
  });

  const pairs: [SrtpSuite | 'plain', SrtpSuite | 'plain'][] = [
    ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'],
    ['AES_256_CM_HMAC_SHA1_80', 'plain'],
    ['plain', 'AES_256_CM_HMAC_SHA1_32'],
    ['AES_256_CM_HMAC_SHA1_32', 'AES_CM_128_HMAC_SHA1_80'],
    ['AEAD_AES_128_GCM', 'AEAD_AES_256_GCM'],
    ['AES_CM_128_HMAC_SHA1_32', 'AEAD_AES_128_GCM'],
  ];
  for (const [x, y] of pairs) {
    it(`transcodes ${x} on leg A <-> ${y} on leg B (RTP both ways and SRTCP)`, async () => {
      const c = await call();
      const legA = x === 'plain' ? undefined : { send: generateSrtpKey(x), recv: generateSrtpKey(x) };
      const legB = y === 'plain' ? undefined : { send: generateSrtpKey(y), recv: generateSrtpKey(y) };
      // An endpoint sends with the key the engine receives with, and the other way round.
      c.a.keys(legA && { suite: x as SrtpSuite, keySalt: legA.recv.keySalt }, legA && { suite: x as SrtpSuite, keySalt: legA.send.keySalt });
      c.b.keys(legB && { suite: y as SrtpSuite, keySalt: legB.recv.keySalt }, legB && { suite: y as SrtpSuite, keySalt: legB.send.keySalt });
      await c.session.configure('a', legOf(stream(c.a, legA ? { srtp: legA } : {})));
      // Leg B without rtcp-mux: RTCP to/from its own port pair.
      const bRtcp = await TestEndpoint.open();
      endpoints.push(bRtcp);
      bRtcp.keys(legB && { suite: y as SrtpSuite, keySalt: legB.recv.keySalt }, legB && { suite: y as SrtpSuite, keySalt: legB.send.keySalt });
      await c.session.configure('b', legOf(stream(c.b, { mux: false, rtcpPort: bRtcp.port, ...(legB ? { srtp: legB } : {}) })));
      await c.a.sendTone({ to: c.portA, count: 50, ssrc: 0xa1 });
      await c.b.sendTone({ to: c.portB, count: 30, ssrc: 0xb1 });
      await c.a.sendPacket(TestEndpoint.rtcpReceiverReport(0xa1), c.portA);
      // Leg B's RTCP arrives on the engine's separate RTCP port and leaves on leg A's muxed port.
      await bRtcp.sendPacket(TestEndpoint.rtcpReceiverReport(0xb1), c.rtcpPortB);
      await waitUntil('RTP both ways and RTCP both ways', () => (c.b.count() === 50 && c.a.count() === 30 && bRtcp.rtcp.length === 1 && c.a.rtcp.length === 1 ? true : undefined), 5000);
      assert.equal(c.a.rtcp[0]!.readUInt32BE(4), 0xb1);
      assert.equal(c.b.authFailures + c.a.authFailures + bRtcp.authFailures, 0, 'the far ends authenticate every packet');
      assert.ok(c.b.toneSeconds(0xa1) >= 0.9, 'tone intact at B');
      assert.equal(bRtcp.rtcp[0]!.readUInt32BE(4), 0xa1, 'SRTCP decrypted to the RR sent by A');
      if (y !== 'plain') assert.notDeepEqual(bRtcp.rtcp[0], TestEndpoint.rtcpReceiverReport(0xa1).subarray(0, 4));
    });
  }

  it('accepts SRTCP with the 32-bit tag on a _32 leg (liblinphone does that) and sends the RFC 80-bit tag', async () => {
    const s = 'AES_CM_128_HMAC_SHA1_32' as const;
    const c = await call();
    const legA = { send: generateSrtpKey(s), recv: generateSrtpKey(s) };
    // Leg A's peer puts the 32-bit tag on its SRTCP and expects the RFC tag on ours.
    c.a.keys({ suite: s, keySalt: legA.recv.keySalt, srtcpTagLength: 4 }, { suite: s, keySalt: legA.send.keySalt });
    await c.session.configure('a', legOf(stream(c.a, { srtp: legA })));
    await c.session.configure('b', legOf(stream(c.b)));
    await c.a.sendTone({ to: c.portA, count: 10, ssrc: 0x32 });
    for (let i = 0; i < 3; i++) await c.a.sendPacket(TestEndpoint.rtcpReceiverReport(0x32), c.portA);
    await c.b.sendPacket(TestEndpoint.rtcpReceiverReport(0x33), c.portB);
    await waitUntil('RTP and RTCP both ways', () => (c.b.count(0x32) === 10 && c.b.rtcp.length === 3 && c.a.rtcp.length === 1 ? true : undefined), 5000);
    assert.deepEqual(c.b.rtcp[2], TestEndpoint.rtcpReceiverReport(0x32), 'decrypted SRTCP relayed as plain RTCP');
    assert.equal(c.a.authFailures, 0, 'our SRTCP authenticates with the 80-bit tag at the peer');
    assert.equal(c.a.rtcp[0]!.readUInt32BE(4), 0x33);
    const st = (await c.session.stats()).a[0]!;
    assert.equal(st.srtpAuthFailures, 0);
    // A 32-bit tag is no licence for a wrong one.
    const bad = c.a.protect(TestEndpoint.rtcpReceiverReport(0x32));
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 0x01;
    await c.a.sendWire(bad, c.portA);
    await waitUntil('the corrupted SRTCP counted', async () => ((await c.session.stats()).a[0]!.srtpAuthFailures === 1 ? true : undefined), 3000);
    assert.equal(c.b.rtcp.length, 3);
  });

  it('bridges an audio and a video stream of one call in one pipeline, each on its own sockets', async () => {
    const c = await call();
    const va = await TestEndpoint.open();
    const vb = await TestEndpoint.open();
    endpoints.push(va, vb);
    const eva = await c.session.allocate('a', 1, 'video');
    const evb = await c.session.allocate('b', 1, 'video');
    assert.notEqual(eva.rtpPort, c.portA);
    const video = (ep: TestEndpoint): StreamParams => ({ ...stream(ep), index: 1, kind: 'video' });
    await c.session.configure('a', { streams: [stream(c.a), video(va)] });
    await c.session.configure('b', { streams: [stream(c.b), video(vb)] });
    await c.a.sendTone({ to: c.portA, count: 20, ssrc: 0xaa });
    await va.sendTone({ to: eva.rtpPort, count: 15, ssrc: 0x71 });
    await vb.sendTone({ to: evb.rtpPort, count: 12, ssrc: 0x72 });
    await waitUntil('audio and video relayed', () => (c.b.count(0xaa) === 20 && vb.count(0x71) === 15 && va.count(0x72) === 12 ? true : undefined), 5000);
    assert.equal(c.b.count(0x71), 0, 'video does not leak into the audio stream');
    const st = await c.session.stats();
    assert.deepEqual(st.a.map((s) => [s.index, s.kind, s.packetsIn]), [[0, 'audio', 20], [1, 'video', 15]]);
    // Removing the video stream (port 0 in a re-INVITE) stops relaying it, audio goes on.
    await c.session.configure('a', { streams: [stream(c.a), { ...video(va), enabled: false }] });
    await va.sendTone({ to: eva.rtpPort, count: 5, ssrc: 0x73 });
    await c.a.sendTone({ to: c.portA, count: 5, ssrc: 0xab });
    await waitUntil('audio still relayed', () => (c.b.count(0xab) === 5 ? true : undefined), 3000);
    await sleep(100);
    assert.equal(vb.count(0x73), 0);
    assert.equal((await c.session.stats()).a[1]!.packetsIn, 15, 'counters survive the pipeline rebuild');
  });

  it('follows an SSRC change and a re-key (re-INVITE) mid-call without a=ssrc', async () => {
    const s1 = 'AES_CM_128_HMAC_SHA1_80' as const;
    const c = await call();
    const legA = { send: generateSrtpKey(s1), recv: generateSrtpKey(s1) };
    const legB = { send: generateSrtpKey(s1), recv: generateSrtpKey(s1) };
    c.a.keys({ suite: s1, keySalt: legA.recv.keySalt }, { suite: s1, keySalt: legA.send.keySalt });
    c.b.keys({ suite: s1, keySalt: legB.recv.keySalt }, { suite: s1, keySalt: legB.send.keySalt });
    await c.session.configure('a', legOf(stream(c.a, { srtp: legA })));
    await c.session.configure('b', legOf(stream(c.b, { srtp: legB })));
    await c.a.sendTone({ to: c.portA, count: 30, ssrc: 0x100 });
    await c.a.sendTone({ to: c.portA, count: 30, ssrc: 0x200, seqStart: 7 });
    await waitUntil('both SSRCs at B', () => (c.b.count(0x100) === 30 && c.b.count(0x200) === 30 ? true : undefined), 5000);

    // The same parameters again (e.g. a session refresh) must not reset SRTP state.
    await c.session.configure('a', legOf(stream(c.a, { srtp: legA })));
    // Re-key: new keys on both legs, AES-256 on leg B.
    const s2 = 'AES_256_CM_HMAC_SHA1_80' as const;
    const legA2 = { send: generateSrtpKey(s1), recv: generateSrtpKey(s1) };
    const legB2 = { send: generateSrtpKey(s2), recv: generateSrtpKey(s2) };
    await c.session.configure('a', legOf(stream(c.a, { srtp: legA2 })));
    await c.session.configure('b', legOf(stream(c.b, { srtp: legB2 })));
    c.a.keys({ suite: s1, keySalt: legA2.recv.keySalt }, { suite: s1, keySalt: legA2.send.keySalt });
    c.b.keys({ suite: s2, keySalt: legB2.recv.keySalt }, { suite: s2, keySalt: legB2.send.keySalt });
    await c.a.sendTone({ to: c.portA, count: 30, ssrc: 0x300 });
    await waitUntil('re-keyed stream at B', () => (c.b.count(0x300) === 30 ? true : undefined), 5000);
    assert.equal(c.b.authFailures, 0);
    assert.ok(c.b.toneSeconds(0x300) >= 0.5);
    // A packet with the old key is now refused and counted.
    c.a.keys({ suite: s1, keySalt: legA.recv.keySalt });
    await c.a.sendTone({ to: c.portA, count: 3, ssrc: 0x400 });
    await waitUntil('auth failures counted', async () => ((await c.session.stats()).a[0]!.srtpAuthFailures === 3 ? true : undefined), 3000);
    assert.equal(c.b.count(0x400), 0);
  });

  it('handles a peer key with an MKI (a=crypto inline:...|5:4) both ways, SRTP and SRTCP; refuses MKI where libsrtp gets it wrong', async () => {
    const s = 'AES_CM_128_HMAC_SHA1_80' as const;
    const c = await call();
    // The peer announced MKI 5 (4 bytes) for its key, and we send with MKI 9 (1 byte) for the test's sake.
    const legA = { send: { ...generateSrtpKey(s), mki: { value: 9, length: 1 } }, recv: { ...generateSrtpKey(s), mki: { value: 5, length: 4 } } };
    c.a.keys({ suite: s, keySalt: legA.recv.keySalt, mki: legA.recv.mki }, { suite: s, keySalt: legA.send.keySalt, mki: legA.send.mki });
    await c.session.configure('a', legOf(stream(c.a, { srtp: legA })));
    await c.session.configure('b', legOf(stream(c.b)));
    await c.a.sendTone({ to: c.portA, count: 20, ssrc: 0x31 });
    await c.b.sendTone({ to: c.portB, count: 20, ssrc: 0x32 });
    await c.a.sendPacket(TestEndpoint.rtcpReceiverReport(0x31), c.portA);
    await c.b.sendPacket(TestEndpoint.rtcpReceiverReport(0x32), c.portB);
    await waitUntil('both ways', () => (c.b.count(0x31) === 20 && c.a.count(0x32) === 20 && c.a.rtcp.length === 1 && c.b.rtcp.length === 1 ? true : undefined), 5000);
    assert.equal(c.a.authFailures, 0);
    assert.ok(c.b.toneSeconds(0x31) >= 0.3);
    // Without the MKI the same packets do not authenticate: the MKI is really on the wire.
    c.a.keys({ suite: s, keySalt: legA.recv.keySalt });
    await c.a.sendTone({ to: c.portA, count: 3, ssrc: 0x33 });
    await waitUntil('MKI-less packets refused', async () => ((await c.session.stats()).a[0]!.srtpAuthFailures >= 3 ? true : undefined), 3000);
    assert.equal(c.b.count(0x33), 0);
    const k32 = { ...generateSrtpKey('AES_CM_128_HMAC_SHA1_32'), mki: { value: 1, length: 1 } };
    await assert.rejects(
      c.session.configure('a', legOf(stream(c.a, { srtp: { send: generateSrtpKey('AES_CM_128_HMAC_SHA1_32'), recv: k32 } }))),
      /B2BUA_MEDIA_UNSUPPORTED: .*MKI with AES_CM_128_HMAC_SHA1_32 is refused: libsrtp2 2.5/,
    );
  });

  it('drops and counts SRTP authentication failures and replays', async () => {
    const c = await callWithSrtpSenderOnA('AES_CM_128_HMAC_SHA1_80');
    await c.a.sendTone({ to: c.portA, count: 10, ssrc: 0x55 });
    const good = await c.a.sendPacket(buildPlain(0x55, 1100), c.portA);
    const badTag = c.a.protect(buildPlain(0x55, 1101));
    badTag[badTag.length - 1] = badTag[badTag.length - 1]! ^ 0x01;
    const badPayload = c.a.protect(buildPlain(0x55, 1102));
    badPayload[20] = badPayload[20]! ^ 0xff;
    await c.a.sendWire(badTag, c.portA);
    await c.a.sendWire(badPayload, c.portA);
    await c.a.sendWire(good, c.portA); // replay of a packet already accepted
    await waitUntil('counters', async () => {
      const st = (await c.session.stats()).a[0]!;
      return st.srtpAuthFailures === 2 && st.srtpReplays === 1 ? st : undefined;
    }, 3000);
    await sleep(100);
    assert.equal(c.b.count(), 11, 'only the 11 genuine packets reach B');
  });

  it('survives garbage on an SRTP leg (random bytes and lengths): nothing forwarded, media goes on', async () => {
    const c = await callWithSrtpSenderOnA('AES_CM_128_HMAC_SHA1_80');
    await c.a.sendTone({ to: c.portA, count: 5, ssrc: 0x42 });
    for (let i = 0; i < 300; i++) {
      const junk = randomBytes(i % 7 === 0 ? 0 : 1 + Math.floor(Math.random() * 300));
      if (i % 2 === 0 && junk.length >= 2) junk[0] = 0x80; // looks like RTP v2 half of the time
      await c.a.sendWire(junk, c.portA);
      if (i % 50 === 49) await sleep(5);
    }
    await c.a.sendTone({ to: c.portA, count: 5, ssrc: 0x42, seqStart: 2000 });
    await waitUntil('genuine packets relayed after the garbage', () => (c.b.count(0x42) === 10 ? true : undefined), 5000);
    await sleep(100);
    assert.equal(c.b.count(), 10, 'no garbage forwarded');
    const st = (await c.session.stats()).a[0]!;
    assert.ok(st.srtpAuthFailures > 0, 'garbage that looks like SRTP fails authentication');
  });

  it('accepts media only from the SDP address and the latched port (no RTP Bleed)', async () => {
    const c = await call();
    await c.session.configure('a', legOf(stream(c.a)));
    await c.session.configure('b', legOf(stream(c.b)));
    // Before anything else, a stranger on another loopback address and one on another port.
    const strangerAddr = await TestEndpoint.open('127.0.0.2');
    const strangerPort = await TestEndpoint.open('127.0.0.1');
    endpoints.push(strangerAddr, strangerPort);
    await strangerAddr.sendTone({ to: c.portA, count: 5, ssrc: 0xbad1 });
    await c.a.sendTone({ to: c.portA, count: 10, ssrc: 0x600d });
    await sleep(100);
    // The latched port is A's own; another port of the same address is now refused too.
    await strangerPort.sendTone({ to: c.portA, count: 7, ssrc: 0xbad2 });
    await waitUntil('A packets at B', () => (c.b.count(0x600d) === 10 ? true : undefined), 3000);
    const st = await waitUntil('rejections counted', async () => {
      const s = (await c.session.stats()).a[0]!;
      return s.rejectedSource === 12 ? s : undefined;
    }, 3000);
    assert.equal(st.packetsIn, 10);
    assert.equal(c.b.count(0xbad1) + c.b.count(0xbad2), 0, 'no stranger packet forwarded');
    // Before leg B has answered, nothing from leg B's port goes anywhere.
    const c2 = await call();
    await c2.session.configure('a', legOf(stream(c2.a)));
    await c2.b.sendTone({ to: c2.portB, count: 5, ssrc: 0x77 });
    await sleep(200);
    assert.equal(c2.a.count(), 0);
  });

  it('does not forward RTP to a leg that negotiated recvonly/inactive (hold), and resumes', async () => {
    const c = await call();
    await c.session.configure('a', legOf(stream(c.a)));
    await c.session.configure('b', legOf(stream(c.b, { direction: 'recvonly' })));
    await c.a.sendTone({ to: c.portA, count: 10, ssrc: 0x10 });
    await sleep(200);
    assert.equal(c.b.count(), 0);
    await c.session.configure('b', legOf(stream(c.b, { direction: 'sendrecv' })));
    await c.a.sendTone({ to: c.portA, count: 10, ssrc: 0x10, seqStart: 2000 });
    await waitUntil('resumed', () => (c.b.count() === 10 ? true : undefined), 3000);
  });

  it('refuses a malformed DTLS fingerprint, ZRTP hello hash or SDES key, and a refused suite, with a clear error', async () => {
    const c = await call();
    await assert.rejects(
      c.session.configure('a', legOf({ ...stream(c.a), encryption: 'dtls-srtp', dtls: { role: 'client', remoteFingerprint: 'sha-256 not-hex' } })),
      /B2BUA_SDP_INVALID: .*a=fingerprint "sha-256 not-hex" is not a hash name and colon-separated hex bytes/,
    );
    await assert.rejects(
      c.session.configure('a', legOf({ ...stream(c.a), encryption: 'zrtp', zrtp: { peerHelloHash: '1.10 abc' } })),
      /B2BUA_SDP_INVALID: .*a=zrtp-hash "1.10 abc" is not/,
    );
    await assert.rejects(
      c.session.configure('a', legOf(stream(c.a, { srtp: { send: { suite: 'AES_CM_128_HMAC_SHA1_80', keySalt: 'AAAA' }, recv: generateSrtpKey('AES_CM_128_HMAC_SHA1_80') } }))),
      /B2BUA_MEDIA_FAILED: .*30/,
    );
    const k192 = generateSrtpKey('AES_192_CM_HMAC_SHA1_80');
    await assert.rejects(
      c.session.configure('a', legOf(stream(c.a, { srtp: { send: k192, recv: k192 } }))),
      /B2BUA_MEDIA_UNSUPPORTED: .*AES_192_CM_HMAC_SHA1_80 is refused: GStreamer 1.22/,
    );
  });

  it('emits leg-silent when a leg sends no RTP for no-rtp-timeout', async () => {
    const c = await call(600);
    await c.session.configure('a', legOf(stream(c.a)));
    await c.session.configure('b', legOf(stream(c.b)));
    const feed = (async () => {
      for (let i = 0; i < 8; i++) {
        await c.a.sendTone({ to: c.portA, count: 1, ssrc: 1, seqStart: i });
        await sleep(150);
      }
    })();
    const ev = await waitUntil('leg-silent on b', () => c.events.find((e) => e.type === 'leg-silent'), 4000);
    await feed;
    assert.deepEqual({ ...ev, silentForMs: 0 }, { type: 'leg-silent', leg: 'b', silentForMs: 0 });
    assert.ok(!c.events.some((e) => e.type === 'leg-silent' && e.leg === 'a'), 'leg A kept sending: not silent');
  });

  it('closes with final statistics and frees its ports', async () => {
    const c = await call();
    await c.session.configure('a', legOf(stream(c.a)));
    await c.session.configure('b', legOf(stream(c.b)));
    await c.a.sendTone({ to: c.portA, count: 5, ssrc: 9 });
    await waitUntil('relayed', () => (c.b.count() === 5 ? true : undefined), 3000);
    const before = engine.counters();
    const final = await c.session.close();
    assert.equal(final.a[0]!.packetsIn, 5);
    assert.equal(engine.counters().sessions, before.sessions - 1);
    assert.equal(engine.counters().portsInUse, before.portsInUse - 4);
    assert.deepEqual(await c.session.close(), final, 'close is idempotent');
  });

  it('a dead worker fails its sessions (the call ends) and is respawned; new sessions work', async () => {
    const c = await call();
    await c.session.configure('a', legOf(stream(c.a)));
    await engine.crashWorkerOf(c.session.id);
    const failed = await waitUntil('failed event', () => c.events.find((e) => e.type === 'failed'), 5000);
    assert.match((failed as { reason: string }).reason, /media worker died/);
    await assert.rejects(c.session.configure('b', legOf(stream(c.b))), /B2BUA_MEDIA_FAILED/);
    await c.session.close();
    const c2 = await call();
    await c2.session.configure('a', legOf(stream(c2.a)));
    await c2.session.configure('b', legOf(stream(c2.b)));
    await c2.a.sendTone({ to: c2.portA, count: 10, ssrc: 3 });
    await waitUntil('new session relays', () => (c2.b.count() === 10 ? true : undefined), 5000);
  });
});

describe('gstreamer media engine port ranges', function () {
  this.timeout(30_000);
  let engine: GstEngine | undefined;
  after(async () => engine?.close());

  it('allocates RTP/RTCP pairs inside audio-port and says so when the range is exhausted', async () => {
    const [p0] = await freePorts(4);
    engine = await createGstEngine(config({ audioPort: { min: p0!, max: p0! + 3 } }), silentLogger());
    const s1 = await engine.createSession({ callId: 'r1', noRtpTimeoutMs: 0 });
    const e1 = await s1.allocate('a', 0, 'audio');
    const e2 = await s1.allocate('b', 0, 'audio');
    const ports = [e1.rtpPort, e1.rtcpPort, e2.rtpPort, e2.rtcpPort].sort((x, y) => x - y);
    assert.deepEqual(ports, [p0!, p0! + 1, p0! + 2, p0! + 3]);
    assert.deepEqual(await s1.allocate('a', 0, 'audio'), e1, 'allocate is idempotent');
    const s2 = await engine.createSession({ callId: 'r2', noRtpTimeoutMs: 0 });
    await assert.rejects(s2.allocate('a', 0, 'audio'), /B2BUA_MEDIA_PORTS_EXHAUSTED: no free RTP\/RTCP port pair in audio-port=/);
    await s1.close();
    const e3 = await s2.allocate('a', 0, 'audio');
    assert.ok(e3.rtpPort >= p0! && e3.rtpPort <= p0! + 2);
    await s2.close();
  });
});

function buildPlain(ssrc: number, seq: number): Buffer {
  const b = Buffer.alloc(172);
  b[0] = 0x80;
  b.writeUInt16BE(seq, 2);
  b.writeUInt32BE(seq * 160, 4);
  b.writeUInt32BE(ssrc, 8);
  b.fill(0x55, 12);
  return b;
}
