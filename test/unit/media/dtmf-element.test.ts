/**
 * b2bdtmf (core/native/b2bdtmf.c) in real GStreamer pipelines:
 * - detection: RTP written one packet per file, read back by multifilesrc, through `b2bdtmf detect-pt=101`, written one
 *   per file by multifilesink: the events are dropped, each reported once (3 end packets), audio passes untouched;
 * - insertion: `udpsrc ! b2bdtmf send-pt=101 ! udpsink` between two loopback sockets of this process: after audio has
 *   passed, `send-dtmf` inserts the RFC 4733 packets of one digit on the audio's SSRC, timestamp and sequence, and the
 *   audio that follows is renumbered after them.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildRtp, parseRtp, type RtpPacket } from '../../harness/rtp.js';
import { loadGst, removePacketDirs, throughFiles, type Gst } from './packet-files.js';

let gst: Gst;

const SSRC = 0x11223344;
const audio = (seq: number, ts: number): Buffer => buildRtp({ payloadType: 0, sequence: seq, timestamp: ts, ssrc: SSRC, payload: Buffer.alloc(160, 0xff) });
const event = (seq: number, ts: number, ev: number, end: boolean, duration: number, marker = false): Buffer =>
  buildRtp({ payloadType: 101, sequence: seq, timestamp: ts, ssrc: SSRC, marker, payload: Buffer.from([ev, (end ? 0x80 : 0) | 10, duration >> 8, duration & 0xff]) });

async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('b2bdtmf: RFC 4733 detection and insertion (real pipelines)', function () {
  this.timeout(20_000);
  before(async () => {
    gst = await loadGst();
  });
  after(removePacketDirs);

  it('drops the telephone-event packets, reports each event once at its first end packet, passes audio as is', async () => {
    const wire = [
      audio(1, 0), audio(2, 160),
      event(3, 320, 5, false, 400, true), event(4, 320, 5, false, 800), event(5, 320, 5, true, 1600), event(6, 320, 5, true, 1600), event(7, 320, 5, true, 1600),
      audio(8, 1920),
      event(9, 2080, 11, true, 800, true), event(10, 2080, 11, true, 800), event(11, 2080, 11, true, 800),
      audio(12, 2880),
    ];
    const { pipeline: p, out } = await throughFiles(gst, wire, 'b2bdtmf name=d detect-pt=101');
    const d = p.element('d');
    const result = { events: d.string('dtmf-events'), detected: d.number('dtmf-detected'), dropped: d.number('dtmf-packets-dropped') };
    p.stop();
    assert.deepEqual(result, { events: '2 5:200 #:100', detected: 2, dropped: 8 });
    assert.deepEqual(out, [wire[0], wire[1], wire[7], wire[11]], 'audio passes, untouched');
  });

  it('without detect-pt every packet passes (both legs or neither negotiated telephone-event)', async () => {
    const wire = [audio(1, 0), event(2, 160, 1, true, 800, true), audio(3, 320)];
    const { pipeline: p, out } = await throughFiles(gst, wire, 'b2bdtmf name=d');
    const events = p.element('d').string('dtmf-events');
    p.stop();
    assert.equal(events, '0');
    assert.deepEqual(out, wire);
  });

  it('send-dtmf inserts start (marker), updates and 3 end packets continuing the stream, later audio renumbered; refused before any audio', async () => {
    const inPort = await freeUdpPort();
    const rx = dgram.createSocket('udp4');
    await new Promise<void>((r) => rx.bind(0, '127.0.0.1', () => r()));
    const got: RtpPacket[] = [];
    rx.on('message', (m) => { const pk = parseRtp(m); if (pk) got.push({ ...pk, payload: Buffer.from(pk.payload) }); });
    const tx = dgram.createSocket('udp4');
    const p = gst.Pipeline.parse(`udpsrc address=127.0.0.1 port=${inPort} ! b2bdtmf name=d send-pt=101 ! udpsink host=127.0.0.1 port=${rx.address().port} sync=false async=false`);
    try {
      p.play();
      const d = p.element('d');
      d.set('send-dtmf', '7 100');
      assert.equal(d.number('dtmf-send-refused'), 1, 'nothing to continue yet');
      let seq = 1000;
      let ts = 16000;
      const sendAudio = async (n: number) => {
        for (let i = 0; i < n; i++) {
          tx.send(audio(seq++, ts), inPort, '127.0.0.1');
          ts += 160;
          await sleep(20);
        }
      };
      await sendAudio(5);
      for (let i = 0; i < 50 && got.length < 5; i++) await sleep(20);
      assert.equal(got.length, 5, 'audio passes');
      d.set('send-dtmf', '7 120');
      assert.equal(d.number('dtmf-send-refused'), 1);
      await sendAudio(20);
      for (let i = 0; i < 50 && got.length < 25 + 5; i++) await sleep(20);
      const events = got.filter((x) => x.payloadType === 101);
      const info = JSON.stringify(got.map((x) => ({ pt: x.payloadType, m: x.marker, seq: x.sequence, ts: x.timestamp, ev: x.payloadType === 101 ? [...x.payload] : undefined })));
      // 120 ms at 8 kHz = 960: updates at 400 and 800, then the end 3 times
      assert.deepEqual(events.map((e) => [e.payload[0], e.payload[1]! & 0x80, e.payload.readUInt16BE(2), e.marker]),
        [[7, 0, 400, true], [7, 0, 800, false], [7, 0x80, 960, false], [7, 0x80, 960, false], [7, 0x80, 960, false]], info);
      assert.ok(events.every((e) => e.ssrc === SSRC), info);
      assert.equal(new Set(events.map((e) => e.timestamp)).size, 1, info);
      const ets = events[0]!.timestamp;
      assert.ok(ets >= 16000 + 4 * 160 && ets <= ts, `event timestamp on the audio's clock: ${ets}\n${info}`);
      const seqs = got.map((x) => x.sequence);
      assert.deepEqual(seqs, seqs.map((_, i) => 1000 + i), `one continuous sequence\n${info}`);
      assert.equal(d.number('dtmf-packets-sent'), 5);
      assert.equal(d.number('dtmf-sent'), 1);
    } finally {
      p.stop();
      rx.close();
      tx.close();
    }
  });
});
