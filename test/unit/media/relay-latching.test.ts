/** The relay engine's plain-RTP latching rule (core/media/README.md, "Media latching"), pure and through real sockets. */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { latchPacket, newLatch, RELATCH_PACKETS, RelaySession } from '../../../core/media/relay/session.js';
import { PortRangeBinder } from '../../../core/media/relay/sockets.js';
import { silentLogger } from '../../../core/log/index.js';

const SDP = 4000;

describe('relay latching (plain RTP)', () => {
  it('latches the first port, gives the latch back to the SDP port, refuses a stranger\'s SSRC however many packets', () => {
    const l = newLatch();
    assert.equal(latchPacket(l, 5000, SDP, 0xbad), 'accept');
    assert.equal(l.port, 5000);
    assert.equal(latchPacket(l, SDP, SDP, 0x600d), 'relatched');
    for (let i = 0; i < 50; i++) assert.equal(latchPacket(l, 5000, SDP, 0xbad), 'wrong-port');
    assert.equal(l.port, SDP);
  });

  it('re-latches a new port after RELATCH_PACKETS consecutive packets with the latched SSRC; a packet from the latched port resets the count', () => {
    const l = newLatch();
    latchPacket(l, 5000, SDP, 0x600d);
    for (let i = 1; i < RELATCH_PACKETS; i++) assert.equal(latchPacket(l, 6000, SDP, 0x600d), 'wrong-port');
    assert.equal(latchPacket(l, 5000, SDP, 0x600d), 'accept');
    for (let i = 1; i < RELATCH_PACKETS; i++) assert.equal(latchPacket(l, 6000, SDP, 0x600d), 'wrong-port');
    assert.equal(latchPacket(l, 6000, SDP, 0x600d), 'relatched');
    assert.equal(l.port, 6000);
  });

  it('a relay session: a stranger first from another port loses the latch to the SDP port; RTP and RTCP counted per reason', async () => {
    const binder = new PortRangeBinder({ min: 0, max: 0 }, '127.0.0.1');
    const session = new RelaySession('t', { callId: 't', noRtpTimeoutMs: 0 }, () => ({ audio: binder, video: binder, advertised: '127.0.0.1' }), silentLogger(), () => undefined);
    const sock = async () => {
      const s = dgram.createSocket('udp4');
      await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
      return s;
    };
    const [caller, attacker, callee] = [await sock(), await sock(), await sock()];
    const got: Buffer[] = [];
    const gotAttacker: Buffer[] = [];
    callee.on('message', (m) => got.push(m));
    attacker.on('message', (m) => gotAttacker.push(m));
    try {
      const ea = await session.allocate('a', 0, 'audio');
      await session.allocate('b', 0, 'audio');
      const st = (port: number) => ({ index: 0, kind: 'audio' as const, enabled: true, rtcpMux: false, direction: 'sendrecv' as const, encryption: 'none' as const,
        remote: { address: '127.0.0.1', rtpPort: port, rtcpPort: port } });
      await session.configure('a', { streams: [st(caller.address().port)] });
      await session.configure('b', { streams: [st(callee.address().port)] });
      const rtp = (ssrc: number) => { const b = Buffer.alloc(172); b[0] = 0x80; b.writeUInt32BE(ssrc, 8); return b; };
      const rr = (ssrc: number) => { const b = Buffer.alloc(8); b[0] = 0x80; b[1] = 201; b.writeUInt32BE(ssrc, 4); return b; };
      const send = (s: dgram.Socket, b: Buffer, port: number) => new Promise<void>((r) => s.send(b, port, '127.0.0.1', () => r()));
      await send(attacker, rtp(0xbad), ea.rtpPort);
      await send(attacker, rr(0xbad), ea.rtcpPort);
      await send(caller, rtp(0x600d), ea.rtpPort);
      await send(caller, rr(0x600d), ea.rtcpPort);
      for (let i = 0; i < 10; i++) await send(attacker, rtp(0xbad), ea.rtpPort);
      await send(attacker, rr(0xbad), ea.rtcpPort);
      await new Promise((r) => setTimeout(r, 200));
      const a = (await session.stats()).a[0]! as unknown as Record<string, number>;
      assert.equal(a['relatches'], 2, 'RTP and RTCP latches taken back by the SDP ports');
      assert.equal(a['rejectedWrongPort'], 11);
      assert.equal(a['rejectedWrongAddress'], 0);
      assert.equal(got.filter((m) => m.length === 172 && m.readUInt32BE(8) === 0x600d).length, 1);
      assert.equal(got.length, 4, 'the stranger\'s first RTP and RTCP, then the caller\'s');
      assert.equal(gotAttacker.length, 0);
    } finally {
      await session.close();
      for (const s of [caller, attacker, callee]) s.close();
    }
  });
});
