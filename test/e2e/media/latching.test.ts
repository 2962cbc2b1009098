/**
 * Media latching that cannot be stolen (core/media/README.md, "Media latching"), GStreamer engine: real workers,
 * real pipelines, peers and attackers on loopback. The attacker is on the caller's IP address (127.0.0.1) from
 * another port; the "NATed" caller sends from a port that is not the one of its SDP.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createGstEngine } from '../../../core/media/gst/index.js';
import { generateSrtpKey } from '../../../core/media/sdes.js';
import type { MediaEngine, MediaSession, SrtpKey, StreamParams, StreamStats } from '../../../core/media/types.js';
import { silentLogger } from '../../../core/log/index.js';
import type { B2buaServerConfig } from '../../../core/plugin-api/index.js';
import { sleep, waitUntil } from '../../harness/wait.js';
import { TestEndpoint } from './endpoint.js';

const SUITE = 'AES_CM_128_HMAC_SHA1_80';
/** Two worker polls (B2BUA_MEDIA_POLL_MS, 200 ms): the udpsink follows the latch at the next poll. */
const POLLS = 450;

function config(): B2buaServerConfig {
  return {
    application: 'test', transport: 'sip:127.0.0.1:5060;transport=udp', outboundProxy: '', userAgent: 'test',
    audioPort: { min: 0, max: 0 }, videoPort: { min: 0, max: 0 }, noRtpTimeout: 30, maxCallDuration: 0, maxCalls: 0,
    maxMediaLines: 5, maxConnections: 4096, maxConnectionsPerAddress: 64, sipHeaderTimeout: 10, sipIdleTimeout: 300,
    enableKeepalive: false, enableIce: false, natAddresses: [], audioCodec: '', videoCodec: '', dataDirectory: '/tmp',
    oneConnectionPerAccount: false, tlsCertificate: '', tlsPrivateKey: '', pluginDirectories: [], mediaEngine: 'gstreamer', mediaAddress: '',
    mediaWorkers: 1, adminAddress: '', shutdownGracePeriod: 5, ringingTimeout: 120, sessionExpires: 1800,
  };
}

function stream(rtpPort: number, o: { mux?: boolean; rtcpPort?: number; srtp?: { send: SrtpKey; recv: SrtpKey } } = {}): StreamParams {
  return {
    index: 0, kind: 'audio', enabled: true, rtcpMux: o.mux ?? true, direction: 'sendrecv',
    remote: { address: '127.0.0.1', rtpPort, rtcpPort: o.rtcpPort ?? rtpPort },
    encryption: o.srtp ? 'sdes' : 'none',
    ...(o.srtp ? { srtp: o.srtp } : {}),
  };
}

/** Everything an endpoint got, decryptable or not. */
const received = (ep: TestEndpoint) => ep.rtp.length + ep.rtcp.length + ep.authFailures;

function rtpHeader(ssrc: number, seq: number, size = 172): Buffer {
  const b = randomBytes(size);
  b[0] = 0x80;
  b[1] = 0;
  b.writeUInt16BE(seq, 2);
  b.writeUInt32BE(ssrc, 8);
  return b;
}

describe('media latching cannot be stolen (gstreamer engine, loopback)', function () {
  this.timeout(30_000);
  let engine: MediaEngine;
  const endpoints: TestEndpoint[] = [];
  const sessions: MediaSession[] = [];
  const open = async () => {
    const ep = await TestEndpoint.open('127.0.0.1');
    endpoints.push(ep);
    return ep;
  };

  before(async () => {
    engine = await createGstEngine(config(), silentLogger());
  });
  after(async () => {
    for (const e of endpoints) e.close();
    await Promise.all(sessions.map((s) => s.close().catch(() => undefined)));
    await engine?.close();
  });

  async function session() {
    const s = await engine.createSession({ callId: `latch-${randomBytes(3).toString('hex')}`, noRtpTimeoutMs: 0 });
    sessions.push(s);
    const ea = await s.allocate('a', 0, 'audio');
    const eb = await s.allocate('b', 0, 'audio');
    return { s, ea, eb };
  }
  const statsA = async (s: MediaSession): Promise<StreamStats> => (await s.stats()).a[0]!;

  it('SRTP: garbage and wrongly keyed SRTP from another port before the caller never latch; the NATed caller latches once authenticated', async () => {
    const { s, ea, eb } = await session();
    const [caller, sdpPort, attacker, b] = [await open(), await open(), await open(), await open()];
    const legA = { send: generateSrtpKey(SUITE), recv: generateSrtpKey(SUITE) };
    caller.keys({ suite: SUITE, keySalt: legA.recv.keySalt }, { suite: SUITE, keySalt: legA.send.keySalt });
    attacker.keys({ suite: SUITE, keySalt: generateSrtpKey(SUITE).keySalt });
    // The caller's SDP names sdpPort; it sends from its own port (NAT).
    await s.configure('a', { streams: [stream(sdpPort.port, { srtp: legA })] });
    await s.configure('b', { streams: [stream(b.port)] });
    for (let i = 0; i < 5; i++) await attacker.sendWire(rtpHeader(0xbad, 100 + i), ea.rtpPort); // garbage that looks like RTP
    await attacker.sendTone({ to: ea.rtpPort, count: 5, ssrc: 0xbad, seqStart: 200 }); // SRTP under another key
    await sleep(POLLS);
    await caller.sendTone({ to: ea.rtpPort, count: 10, ssrc: 0x600d });
    await waitUntil('the caller\'s media at B', () => (b.count(0x600d) === 10 ? true : undefined), 5000);
    await sleep(POLLS);
    await b.sendTone({ to: eb.rtpPort, count: 20, ssrc: 0xb0b, frequency: 800 });
    await waitUntil('B\'s media at the caller', () => (caller.count(0xb0b) === 20 ? true : undefined), 5000);
    assert.ok(caller.toneSeconds(0xb0b, 800) >= 0.3, 'B\'s tone decrypts at the caller');
    // Latched: the attacker sends again, the caller goes on, B answers; still nothing for the attacker.
    await attacker.sendTone({ to: ea.rtpPort, count: 5, ssrc: 0x600d, seqStart: 5000 });
    await caller.sendTone({ to: ea.rtpPort, count: 5, ssrc: 0x600d, seqStart: 1010 });
    await b.sendTone({ to: eb.rtpPort, count: 10, ssrc: 0xb0b, seqStart: 1020 });
    await waitUntil('all of B\'s media at the caller', () => (caller.count(0xb0b) === 30 ? true : undefined), 5000);
    await sleep(100);
    assert.equal(b.count(0x600d), 15, 'only the caller\'s packets reach B');
    assert.equal(b.count(), 15, 'none of the attacker\'s');
    assert.equal(received(attacker), 0, 'nothing reached the attacker');
    assert.equal(received(sdpPort), 0, 'nothing went to the SDP port once the caller latched');
    const st = await statsA(s);
    assert.equal(st.rejectedUnauthenticated, 15, 'every attacker packet counted as unauthenticated from an unlatched port');
    assert.equal(st.srtpAuthFailures, 15);
    assert.equal(st.packetsIn, 15, 'the caller\'s packets only');
    assert.equal(st.rejectedWrongPort, 0);
    assert.equal(st.relatches, 0);
  });

  it('SRTP: the latch moves to a new port only with an authenticated packet (NAT rebinding)', async () => {
    const { s, ea, eb } = await session();
    const [caller, moved, b] = [await open(), await open(), await open()];
    const legA = { send: generateSrtpKey(SUITE), recv: generateSrtpKey(SUITE) };
    caller.keys({ suite: SUITE, keySalt: legA.recv.keySalt }, { suite: SUITE, keySalt: legA.send.keySalt });
    await s.configure('a', { streams: [stream(caller.port, { srtp: legA })] });
    await s.configure('b', { streams: [stream(b.port)] });
    await caller.sendTone({ to: ea.rtpPort, count: 10, ssrc: 0x600d });
    await waitUntil('caller at B', () => (b.count(0x600d) === 10 ? true : undefined), 5000);
    // The same SRTP context continues from another port: one authenticated packet moves the latch.
    moved.keys({ suite: SUITE, keySalt: legA.recv.keySalt }, { suite: SUITE, keySalt: legA.send.keySalt });
    await moved.sendPacket(rtpHeader(0x600d, 2000), ea.rtpPort);
    await waitUntil('relatched', async () => ((await statsA(s)).relatches === 1 ? true : undefined), 3000);
    await sleep(POLLS);
    await b.sendTone({ to: eb.rtpPort, count: 10, ssrc: 0xb0b });
    await waitUntil('B at the new port', () => (moved.count(0xb0b) === 10 ? true : undefined), 5000);
    assert.equal(caller.count(0xb0b), 0);
  });

  it('plain RTP: a stranger from another port first loses the latch to the SDP port and cannot take it back', async () => {
    const { s, ea, eb } = await session();
    const [caller, attacker, b] = [await open(), await open(), await open()];
    await s.configure('a', { streams: [stream(caller.port)] });
    await s.configure('b', { streams: [stream(b.port)] });
    await attacker.sendTone({ to: ea.rtpPort, count: 5, ssrc: 0xbad }); // first: latches (plain RTP cannot tell)
    await caller.sendTone({ to: ea.rtpPort, count: 10, ssrc: 0x600d }); // the SDP port takes it back
    await waitUntil('caller at B', () => (b.count(0x600d) === 10 ? true : undefined), 5000);
    await attacker.sendTone({ to: ea.rtpPort, count: 50, ssrc: 0xbad, seqStart: 2000 }); // many packets, its own SSRC
    await sleep(POLLS);
    await b.sendTone({ to: eb.rtpPort, count: 20, ssrc: 0xb0b });
    await waitUntil('B at the caller', () => (caller.count(0xb0b) === 20 ? true : undefined), 5000);
    await sleep(100);
    assert.equal(received(attacker), 0, 'nothing reached the attacker');
    assert.equal(b.count(0xbad), 5, 'only the attacker\'s packets sent before the caller\'s first passed');
    const st = await statsA(s);
    assert.equal(st.rejectedWrongPort, 50);
    assert.equal(st.rejectedWrongAddress, 0);
    assert.equal(st.relatches, 1, 'the SDP port took the latch from the stranger');
  });

  it('plain RTP: a NAT rebinding (same SSRC, new port) re-latches after 5 consecutive packets; a stranger\'s SSRC never does', async () => {
    const { s, ea, eb } = await session();
    const [sdpPort, caller, moved, stranger, b] = [await open(), await open(), await open(), await open(), await open()];
    await s.configure('a', { streams: [stream(sdpPort.port)] });
    await s.configure('b', { streams: [stream(b.port)] });
    await caller.sendTone({ to: ea.rtpPort, count: 10, ssrc: 0x600d }); // NAT: not the SDP port, first: latches
    await waitUntil('caller at B', () => (b.count(0x600d) === 10 ? true : undefined), 5000);
    await stranger.sendTone({ to: ea.rtpPort, count: 30, ssrc: 0x5742 });
    await moved.sendTone({ to: ea.rtpPort, count: 10, ssrc: 0x600d, seqStart: 1010 });
    await waitUntil('rebound stream at B', () => (b.count(0x600d) === 16 ? true : undefined), 5000);
    await sleep(POLLS);
    await b.sendTone({ to: eb.rtpPort, count: 10, ssrc: 0xb0b });
    await waitUntil('B at the new port', () => (moved.count(0xb0b) === 10 ? true : undefined), 5000);
    await sleep(100);
    assert.equal(received(stranger) + received(caller) + received(sdpPort), 0);
    assert.equal(b.count(0x5742), 0, 'nothing of the stranger forwarded');
    const st = await statsA(s);
    assert.equal(st.relatches, 1);
    assert.equal(st.rejectedWrongPort, 30 + 4, 'the stranger, and the first 4 packets from the new port');
  });

  it('RTCP on its own socket is latched like RTP: SRTCP from another port before the caller never latches', async () => {
    const { s, ea, eb } = await session();
    const [caller, callerRtcp, sdpRtcp, attacker, b] = [await open(), await open(), await open(), await open(), await open()];
    const legA = { send: generateSrtpKey(SUITE), recv: generateSrtpKey(SUITE) };
    for (const ep of [caller, callerRtcp]) ep.keys({ suite: SUITE, keySalt: legA.recv.keySalt }, { suite: SUITE, keySalt: legA.send.keySalt });
    attacker.keys({ suite: SUITE, keySalt: generateSrtpKey(SUITE).keySalt });
    // The caller's SDP names sdpRtcp for RTCP; its RTCP comes from callerRtcp (NAT).
    await s.configure('a', { streams: [stream(caller.port, { mux: false, rtcpPort: sdpRtcp.port, srtp: legA })] });
    await s.configure('b', { streams: [stream(b.port, { mux: false, rtcpPort: b.port })] });
    for (let i = 0; i < 3; i++) await attacker.sendPacket(TestEndpoint.rtcpReceiverReport(0xbad), ea.rtcpPort);
    await sleep(POLLS);
    for (let i = 0; i < 3; i++) await callerRtcp.sendPacket(TestEndpoint.rtcpReceiverReport(0x600d), ea.rtcpPort);
    await waitUntil('the caller\'s RTCP at B', () => (b.rtcp.length === 3 ? true : undefined), 5000);
    await sleep(POLLS);
    for (let i = 0; i < 3; i++) await b.sendPacket(TestEndpoint.rtcpReceiverReport(0xb0b), eb.rtcpPort);
    await waitUntil('B\'s RTCP at the caller\'s RTCP port', () => (callerRtcp.rtcp.length === 3 ? true : undefined), 5000);
    await sleep(100);
    assert.equal(callerRtcp.authFailures, 0);
    assert.equal(callerRtcp.rtcp[0]!.readUInt32BE(4), 0xb0b, 'B\'s report, decrypted with the caller\'s key');
    assert.equal(received(attacker) + received(sdpRtcp), 0, 'nothing to the attacker, nothing to the unused SDP port');
    assert.equal(b.rtcp.filter((p) => p.readUInt32BE(4) === 0xbad).length, 0);
    const st = await statsA(s);
    assert.equal(st.rejectedUnauthenticated, 3);
  });
});
