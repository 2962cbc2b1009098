/** RFC 4733 parsing, one report per event, the rate bound, packets we send; the INFO body; the relay engine's conversion through real sockets. */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { DtmfDetector, eventDigit, eventPackets, parseEventPayload } from '../../../core/media/dtmf.js';
import { dtmfInfoBody, parseDtmfInfo } from '../../../core/b2bua/dtmf-conversion.js';
import { RelaySession } from '../../../core/media/relay/session.js';
import { PortRangeBinder } from '../../../core/media/relay/sockets.js';
import type { MediaEvent } from '../../../core/media/types.js';
import { silentLogger } from '../../../core/log/index.js';

function eventPacket(event: number, end: boolean, duration: number, ts: number, seq: number, ssrc = 0x1234, pt = 101): Buffer {
  const b = Buffer.alloc(16);
  b[0] = 0x80; b[1] = pt; b.writeUInt16BE(seq, 2); b.writeUInt32BE(ts, 4); b.writeUInt32BE(ssrc, 8);
  b[12] = event; b[13] = (end ? 0x80 : 0) | 10; b.writeUInt16BE(duration, 14);
  return b;
}

describe('DTMF (RFC 4733)', () => {
  it('parses the event payload and maps events to digits', () => {
    assert.deepEqual(parseEventPayload(Buffer.from([11, 0x8a, 0x03, 0x20])), { event: 11, end: true, volume: 10, duration: 800 });
    assert.equal(parseEventPayload(Buffer.from([1, 2, 3])), undefined);
    assert.deepEqual([0, 9, 10, 11, 12, 15, 16].map(eventDigit), ['0', '9', '*', '#', 'A', 'D', undefined]);
  });

  it('reports an event once, at its first end packet (the 3 end packets share a timestamp), with its duration in ms', () => {
    const d = new DtmfDetector(8000);
    const got = [
      eventPacket(1, false, 400, 1000, 1), eventPacket(1, false, 800, 1000, 2),
      eventPacket(1, true, 1600, 1000, 3), eventPacket(1, true, 1600, 1000, 4), eventPacket(1, true, 1600, 1000, 5),
      eventPacket(5, true, 800, 9000, 6), eventPacket(5, true, 800, 9000, 7),
    ].map((p) => d.push(p)).filter((x) => x);
    assert.deepEqual(got, [{ digit: '1', durationMs: 200 }, { digit: '5', durationMs: 100 }]);
  });

  it('forwards at most maxPerSecond events a second and counts the rest', () => {
    let now = 0;
    const d = new DtmfDetector(8000, 3, () => now);
    let n = 0;
    for (let i = 0; i < 10; i++) if (d.push(eventPacket(2, true, 800, i * 1000, i))) n++;
    assert.equal(n, 3);
    assert.equal(d.dropped, 7);
    now = 1000;
    assert.ok(d.push(eventPacket(2, true, 800, 99000, 50)));
  });

  it('writes a digit as a start (marker), 50 ms updates and 3 end packets on one timestamp', () => {
    const p = eventPackets('#', 200, 96, 8000, { ssrc: 7, seq: 10, timestamp: 5000 });
    assert.equal(p.length, 3 + 3);
    assert.deepEqual(p.map((b) => b.readUInt16BE(2)), [10, 11, 12, 13, 14, 15]);
    assert.ok(p.every((b) => b.readUInt32BE(4) === 5000 && b.readUInt32BE(8) === 7 && (b[1]! & 0x7f) === 96 && b[12] === 11));
    assert.deepEqual(p.map((b) => b[1]! >> 7), [1, 0, 0, 0, 0, 0]);
    assert.deepEqual(p.map((b) => parseEventPayload(b.subarray(12))!.end), [false, false, false, true, true, true]);
    assert.deepEqual(p.map((b) => b.readUInt16BE(14)), [400, 800, 1200, 1600, 1600, 1600]);
    assert.deepEqual(eventPackets('x', 200, 96, 8000, { ssrc: 7, seq: 10, timestamp: 5000 }), []);
  });
});

describe('DTMF SIP INFO bodies', () => {
  it('writes application/dtmf-relay as liblinphone does and reads it back', () => {
    assert.equal(dtmfInfoBody('1', 250), 'Signal=1\r\nDuration=250\r\n');
    assert.deepEqual(parseDtmfInfo('application/dtmf-relay', 'Signal=*\r\nDuration=160\r\n'), { digit: '*', durationMs: 160 });
    assert.deepEqual(parseDtmfInfo('Application/DTMF-Relay;x=1', 'signal= b\nDuration=junk'), { digit: 'B', durationMs: 250 });
    assert.deepEqual(parseDtmfInfo('application/dtmf', '7\r\n'), { digit: '7', durationMs: 250 });
    assert.equal(parseDtmfInfo('application/dtmf-relay', 'Signal=12\r\n'), undefined);
    assert.equal(parseDtmfInfo('text/plain', 'Signal=1'), undefined);
  });
});

describe('relay engine: DTMF when only one leg negotiated telephone-event', () => {
  const sock = async (): Promise<dgram.Socket> => {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    return s;
  };
  const send = (s: dgram.Socket, b: Buffer, port: number): Promise<void> => new Promise((r) => s.send(b, port, '127.0.0.1', () => r()));
  const audio = (seq: number, ssrc: number): Buffer => {
    const b = Buffer.alloc(172);
    b[0] = 0x80; b[1] = 0; b.writeUInt16BE(seq, 2); b.writeUInt32BE(seq * 160, 4); b.writeUInt32BE(ssrc, 8);
    return b;
  };

  it('drops the events leg B did not negotiate and reports each once; sends RFC 4733 on leg A, later packets shifted by the inserted ones', async () => {
    const binder = new PortRangeBinder({ min: 0, max: 0 }, '127.0.0.1');
    const session = new RelaySession('t', { callId: 't', noRtpTimeoutMs: 0 }, () => ({ audio: binder, video: binder, advertised: '127.0.0.1' }), silentLogger(), () => undefined);
    const [caller, callee] = [await sock(), await sock()];
    const atCaller: Buffer[] = [];
    const atCallee: Buffer[] = [];
    caller.on('message', (m) => atCaller.push(m));
    callee.on('message', (m) => atCallee.push(m));
    const events: MediaEvent[] = [];
    session.onEvent((e) => events.push(e));
    try {
      const ea = await session.allocate('a', 0, 'audio');
      const eb = await session.allocate('b', 0, 'audio');
      const st = (port: number, te: boolean) => ({ index: 0, kind: 'audio' as const, enabled: true, rtcpMux: false, direction: 'sendrecv' as const, encryption: 'none' as const,
        remote: { address: '127.0.0.1', rtpPort: port, rtcpPort: port }, ...(te ? { telephoneEvent: { pt: 101, clockRate: 8000 } } : {}) });
      await session.configure('a', { streams: [st(caller.address().port, true)] });
      await session.configure('b', { streams: [st(callee.address().port, false)] });
      await send(caller, audio(1, 0xa), ea.rtpPort);
      for (const p of [eventPacket(3, false, 400, 800, 2, 0xa), eventPacket(3, true, 800, 800, 3, 0xa), eventPacket(3, true, 800, 800, 4, 0xa), eventPacket(3, true, 800, 800, 5, 0xa)]) {
        await send(caller, p, ea.rtpPort);
      }
      await send(callee, audio(100, 0xb), eb.rtpPort);
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(events, [{ type: 'dtmf', leg: 'a', digit: '3', durationMs: 100 }]);
      assert.deepEqual(atCallee.map((b) => b[1]! & 0x7f), [0], 'only the audio packet reaches leg B');
      assert.equal(session.sendDtmf('b', 0, '1', 100), false, 'leg B did not negotiate telephone-event');
      assert.equal(session.sendDtmf('a', 0, '9', 100), true);
      await new Promise((r) => setTimeout(r, 300));
      await send(callee, audio(101, 0xb), eb.rtpPort);
      await new Promise((r) => setTimeout(r, 100));
      const dtmf = atCaller.filter((b) => (b[1]! & 0x7f) === 101);
      assert.equal(dtmf.length, 1 + 3);
      assert.ok(dtmf.every((b) => b[12] === 9 && b.readUInt32BE(8) === 0xb));
      assert.deepEqual(atCaller.map((b) => b.readUInt16BE(2)), [100, 101, 102, 103, 104, 105]);
    } finally {
      caller.close(); callee.close();
      await session.close();
    }
  });
});
