/** The e2e media analysis (G.711, Goertzel, pcap reader, RTP flows, WAV) checked on synthetic data. */
import assert from 'node:assert/strict';
import { alawToLinear, decodeG711, encodeG711, linearToAlaw, linearToUlaw, ulawToLinear } from '../../harness/g711.js';
import { toneSeconds } from '../../harness/goertzel.js';
import { sine } from '../../harness/tones.js';
import { buildPcap, parsePcap } from '../../harness/pcap.js';
import { buildRtp, classify, parseRtp } from '../../harness/rtp.js';
import { packetsTo, summarizeFlows, toneSecondsIn } from '../../harness/flows.js';
import { decodeWav, encodeWav } from '../../harness/wav.js';
import { wireVerdict } from '../../harness/wire.js';

function rtpStream(freq: number, seconds: number, law: 'ulaw' | 'alaw', from: number, to: number, t0 = 1000) {
  const pcm = encodeG711(sine(freq, seconds), law);
  const out = [];
  for (let i = 0; i * 160 < pcm.length; i++) {
    out.push({
      time: t0 + i * 0.02, src: '127.0.0.1', srcPort: from, dst: '127.0.0.1', dstPort: to,
      payload: buildRtp({ payloadType: law === 'ulaw' ? 0 : 8, sequence: i, timestamp: i * 160, ssrc: 0x1234, payload: pcm.subarray(i * 160, i * 160 + 160) }),
    });
  }
  return out;
}

describe('harness media analysis', () => {
  it('G.711 µ-law and A-law round-trip within the quantisation step', () => {
    for (const x of [0, 1, -1, 100, -100, 1000, -5000, 12345, -32768, 32767]) {
      const u = ulawToLinear(linearToUlaw(x));
      const a = alawToLinear(linearToAlaw(x));
      const tol = Math.max(8, Math.abs(x) / 16);
      assert.ok(Math.abs(u - x) <= tol, `ulaw ${x} -> ${u}`);
      assert.ok(Math.abs(a - x) <= tol, `alaw ${x} -> ${a}`);
    }
    assert.equal(linearToUlaw(0), 0xff); // well-known code words
    assert.equal(linearToAlaw(0), 0xd5);
  });

  it('Goertzel finds the tone that is there and not the one that is not', () => {
    const s = sine(440, 2);
    assert.ok(Math.abs(toneSeconds(s, 8000, 440) - 2) < 0.05);
    assert.equal(toneSeconds(s, 8000, 880), 0);
    assert.equal(toneSeconds(new Int16Array(16000), 8000, 440), 0, 'silence is no tone');
    const noisy = Int16Array.from(s, (v) => v + Math.round((Math.random() - 0.5) * 2000));
    assert.ok(toneSeconds(noisy, 8000, 440) > 1.8, 'survives moderate noise');
  });

  it('RTP is recognised and parsed; RTCP, STUN and garbage are not RTP', () => {
    const p = buildRtp({ payloadType: 8, sequence: 7, timestamp: 99, ssrc: 5, payload: new Uint8Array([1, 2, 3]), marker: true });
    assert.deepEqual({ ...parseRtp(p)!, payload: [...parseRtp(p)!.payload] }, { payloadType: 8, marker: true, sequence: 7, timestamp: 99, ssrc: 5, payload: [1, 2, 3] });
    assert.equal(classify(Buffer.from([0x81, 200, 0, 6, 0, 0, 0, 1])), 'RTCP');
    const stun = Buffer.alloc(20);
    stun.writeUInt16BE(1, 0);
    stun.writeUInt32BE(0x2112a442, 4);
    assert.equal(classify(stun), 'STUN');
    assert.equal(classify(Buffer.from('INVITE sip:x SIP/2.0')), 'other');
    assert.equal(parseRtp(Buffer.from([0x80, 0])), undefined);
  });

  it('DTLS records and ZRTP packets are recognised (RFC 7983 first byte + their own marks)', () => {
    const zrtp = Buffer.alloc(28);
    zrtp[0] = 0x10;
    zrtp.writeUInt32BE(0x5a525450, 4);
    assert.equal(classify(zrtp), 'ZRTP');
    const dtls = Buffer.from('16fefd000000000000000000100100000c', 'hex'); // handshake, DTLS 1.2
    assert.equal(classify(dtls), 'DTLS');
    assert.equal(classify(Buffer.from('16030100000000000000000010', 'hex')), 'other', 'TLS (not DTLS) version');
    zrtp.writeUInt32BE(0x5a525451, 4);
    assert.equal(classify(zrtp), 'other', 'no ZRTP magic');
  });

  it('wire verdict: plain, SDES, DTLS then SRTP, ZRTP then SRTP, and what is none of them', () => {
    const plain = rtpStream(440, 2, 'ulaw', 4000, 5000).map((p) => ({ ...p, protocol: 'udp' as const }));
    assert.equal(wireVerdict(plain, { frequency: 440 }).protocol, 'plain');
    // SRTP look-alike: random payload of 160 + 10-byte tag
    const srtp = plain.map((p) => ({ ...p, payload: Buffer.concat([p.payload.subarray(0, 12), Buffer.from(Array.from({ length: 170 }, () => Math.floor(Math.random() * 256)))]) }));
    assert.equal(wireVerdict(srtp, { frequency: 440 }).protocol, 'sdes');
    const at = (t: number, payload: Buffer) => ({ time: t, protocol: 'udp' as const, src: '127.0.0.1', srcPort: 4000, dst: '127.0.0.1', dstPort: 5000, payload });
    const zrtp = Buffer.alloc(28);
    zrtp[0] = 0x10;
    zrtp.writeUInt32BE(0x5a525450, 4);
    const dtls = Buffer.from('16fefd000000000000000000100100000c', 'hex');
    assert.equal(wireVerdict([at(999, zrtp), ...srtp], { frequency: 440 }).protocol, 'zrtp');
    assert.equal(wireVerdict([at(999, dtls), ...srtp], { frequency: 440 }).protocol, 'dtls');
    assert.equal(wireVerdict([...srtp, at(2000, dtls)], { frequency: 440 }).protocol, 'unknown', 'SRTP before the handshake');
    assert.equal(wireVerdict([at(999, zrtp), ...plain], { frequency: 440 }).protocol, 'unknown', 'ZRTP next to plain RTP');
    assert.match(wireVerdict(plain.slice(0, 10), { frequency: 440 }).why, /10 RTP-shaped packets < 50/);
  });

  it('pcap round-trip, per-flow classification and tone decoding of both G.711 laws', () => {
    const packets = [...rtpStream(440, 2, 'ulaw', 4000, 5000), ...rtpStream(880, 1.5, 'alaw', 5000, 4000), {
      time: 1000.5, src: '127.0.0.1', srcPort: 5060, dst: '127.0.0.1', dstPort: 5070, payload: Buffer.from('SIP/2.0 200 OK\r\n\r\n'),
    }];
    const parsed = parsePcap(buildPcap(packets));
    assert.equal(parsed.length, packets.length);
    assert.equal(parsed[0]!.dstPort, 5000);
    assert.ok(Math.abs(parsed[1]!.time - 1000.02) < 1e-5);
    const flows = summarizeFlows(parsed, [440, 880]);
    const ab = flows.find((f) => f.key === '127.0.0.1:4000>127.0.0.1:5000')!;
    const ba = flows.find((f) => f.key === '127.0.0.1:5000>127.0.0.1:4000')!;
    assert.equal(ab.classes.RTP, 100);
    assert.deepEqual(ab.payloadTypes, { 0: 100 });
    assert.deepEqual(ab.sizes, { 172: 100 });
    assert.ok(ab.toneSeconds[440]! > 1.9 && ab.toneSeconds[880] === 0);
    assert.ok(ba.toneSeconds[880]! > 1.4 && ba.toneSeconds[440] === 0);
    assert.equal(flows.find((f) => f.dstPort === 5070)!.classes.other, 1);
    assert.ok(toneSecondsIn(packetsTo(parsed, 4000), 880) > 1.4);
  });

  it('rejects pcapng with a message that says how to capture', () => {
    assert.throws(() => parsePcap(Buffer.from('0a0d0d0a000000000000000000000000000000000000000000', 'hex')), /dumpcap -P/);
  });

  it('WAV write/read round-trip, including an unfinalised data size', () => {
    const s = sine(880, 0.5);
    const w = encodeWav(s, 8000);
    const back = decodeWav(w);
    assert.equal(back.sampleRate, 8000);
    assert.deepEqual([...back.samples], [...s]);
    w.writeUInt32LE(0, 40); // recorder killed before it wrote the size
    assert.equal(decodeWav(w).samples.length, s.length);
    assert.ok(toneSeconds(decodeG711(encodeG711(back.samples, 'ulaw'), 'ulaw'), 8000, 880) > 0.45);
    assert.throws(() => decodeWav(Buffer.from('not a wav file at all')), /RIFF/);
  });
});
