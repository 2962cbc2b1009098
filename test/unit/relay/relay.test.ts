import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { createRelayEngine } from '../../../core/media/relay/index.js';
import type { MediaEngine, MediaEvent, MediaSession, StreamParams } from '../../../core/media/types.js';
import { silentLogger } from '../../../core/log/index.js';
import { freePorts } from '../../harness/ports.js';
import { testConfig } from '../b2bua/helpers.js';

/** A fake phone: one UDP socket for RTP, counting what it receives. */
interface Phone { socket: dgram.Socket; port: number; got: Buffer[]; fromPorts: number[] }

async function phone(): Promise<Phone> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  const p: Phone = { socket, port: socket.address().port, got: [], fromPorts: [] };
  socket.on('message', (m, r) => { p.got.push(m); p.fromPorts.push(r.port); });
  return p;
}

function rtp(seq: number, pt = 0): Buffer {
  const b = Buffer.alloc(172);
  b[0] = 0x80; b[1] = pt; b.writeUInt16BE(seq, 2); b.writeUInt32BE(seq * 160, 4); b.writeUInt32BE(0x1234, 8);
  return b;
}

function params(remotePort: number, direction: StreamParams['direction'] = 'sendrecv', address = '127.0.0.1'): { streams: StreamParams[] } {
  return { streams: [{ index: 0, kind: 'audio', enabled: true, remote: { address, rtpPort: remotePort, rtcpPort: remotePort + 1 }, rtcpMux: false, direction, encryption: 'none' }] };
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('plain RTP relay engine', function () {
  this.timeout(10000);
  let engine: MediaEngine;
  let session: MediaSession;
  const phones: Phone[] = [];

  beforeEach(async () => {
    engine = await createRelayEngine(testConfig({ transport: 'sip:127.0.0.1:0' }), silentLogger());
  });
  afterEach(async () => {
    for (const p of phones.splice(0)) p.socket.close();
    await engine.close();
  });

  async function bridge(noRtpTimeoutMs = 0): Promise<{ a: Phone; b: Phone; epA: number; epB: number }> {
    session = await engine.createSession({ callId: 'test', noRtpTimeoutMs });
    const a = await phone();
    const b = await phone();
    phones.push(a, b);
    const epA = (await session.allocate('a', 0, 'audio')).rtpPort;
    const epB = (await session.allocate('b', 0, 'audio')).rtpPort;
    await session.configure('a', params(a.port));
    await session.configure('b', params(b.port));
    return { a, b, epA, epB };
  }

  it('says it does plain RTP only', () => {
    assert.deepEqual(engine.capabilities.encryption, ['none']);
    assert.deepEqual(engine.capabilities.srtpSuites, []);
    assert.match(engine.capabilities.unavailable?.sdes ?? '', /plain RTP only .*media-engine=gstreamer/, 'says what to change');
  });

  it('relays RTP both ways, from its own socket (symmetric), telephone-events included, and counts it', async () => {
    const { a, b, epA, epB } = await bridge();
    for (let i = 0; i < 10; i++) a.socket.send(rtp(i), epA, '127.0.0.1');
    for (let i = 0; i < 5; i++) b.socket.send(rtp(i, 101), epB, '127.0.0.1');
    await until(() => b.got.length === 10 && a.got.length === 5);
    assert.deepEqual(b.got[3], rtp(3));
    assert.deepEqual([...new Set(b.fromPorts)], [epB]);
    assert.deepEqual([...new Set(a.fromPorts)], [epA]);
    assert.equal(a.got[0]![1], 101);
    const stats = await session.stats();
    assert.equal(stats.a[0]!.packetsIn, 10);
    assert.equal(stats.b[0]!.packetsOut, 10);
    assert.equal(stats.b[0]!.packetsIn, 5);
    assert.ok(stats.a[0]!.lastPacketAt > 0);
    assert.equal(engine.counters().sessions, 1);
    assert.equal(engine.counters().portsInUse, 4);
  });

  it('latches the first source from the SDP address and rejects others', async () => {
    const { a, b, epA } = await bridge();
    const intruder = await phone();
    phones.push(intruder);
    a.socket.send(rtp(1), epA, '127.0.0.1');
    await until(() => b.got.length === 1);
    intruder.socket.send(rtp(2), epA, '127.0.0.1'); // same IP, other port: not the latched source
    a.socket.send(rtp(3), epA, '127.0.0.1');
    await until(() => b.got.length === 2);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(b.got.length, 2);
    assert.equal(b.got[1]!.readUInt16BE(2), 3);
    assert.equal((await session.stats()).a[0]!.rejectedSource, 1);
  });

  it('rejects packets from an address other than the SDP one', async () => {
    session = await engine.createSession({ callId: 'test', noRtpTimeoutMs: 0 });
    const a = await phone();
    const b = await phone();
    phones.push(a, b);
    const epA = (await session.allocate('a', 0, 'audio')).rtpPort;
    await session.allocate('b', 0, 'audio');
    await session.configure('a', params(a.port, 'sendrecv', '127.0.0.2'));
    await session.configure('b', params(b.port));
    a.socket.send(rtp(1), epA, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(b.got.length, 0);
    assert.equal((await session.stats()).a[0]!.rejectedSource, 1);
  });

  it('does not forward to a leg whose direction forbids it (hold)', async () => {
    const { a, b, epA, epB } = await bridge();
    await session.configure('b', params(b.port, 'recvonly')); // we only receive from B: nothing goes to B
    a.socket.send(rtp(1), epA, '127.0.0.1');
    b.socket.send(rtp(2), epB, '127.0.0.1');
    await until(() => a.got.length === 1);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(b.got.length, 0);
  });

  it('emits leg-silent once per silence period', async () => {
    const { a, epA } = await bridge(150);
    const events: MediaEvent[] = [];
    session.onEvent((e) => events.push(e));
    const keepA = setInterval(() => a.socket.send(rtp(1), epA, '127.0.0.1'), 20);
    await until(() => events.length >= 1, 3000);
    clearInterval(keepA);
    assert.deepEqual(events.map((e) => e.type === 'leg-silent' && e.leg), ['b']);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(events.map((e) => e.type === 'leg-silent' && e.leg).sort(), ['a', 'b']);
  });

  it('binds RTP/RTCP pairs inside audio-port, and frees every port on close (idempotent)', async () => {
    const [min] = await freePorts(6);
    const ranged = await createRelayEngine(testConfig({ transport: 'sip:127.0.0.1:0', audioPort: { min: min!, max: min! + 5 } }), silentLogger());
    try {
      const s = await ranged.createSession({ callId: 'r', noRtpTimeoutMs: 0 });
      const e1 = await s.allocate('a', 0, 'audio');
      const e2 = await s.allocate('b', 0, 'audio');
      assert.equal(await s.allocate('a', 0, 'audio').then((e) => e.rtpPort), e1.rtpPort); // idempotent
      for (const e of [e1, e2]) {
        assert.ok(e.rtpPort >= min! && e.rtcpPort <= min! + 5, JSON.stringify(e));
        assert.equal(e.rtpPort % 2, 0);
        assert.equal(e.rtcpPort, e.rtpPort + 1);
      }
      assert.equal(ranged.counters().portsInUse, 4);
      await s.close();
      await s.close();
      assert.deepEqual(ranged.counters(), { sessions: 0, portsInUse: 0 });
      const probe = dgram.createSocket('udp4');
      await new Promise<void>((resolve, reject) => { probe.once('error', reject); probe.bind(e1.rtpPort, '127.0.0.1', () => resolve()); });
      probe.close();
    } finally {
      await ranged.close();
    }
  });
});
