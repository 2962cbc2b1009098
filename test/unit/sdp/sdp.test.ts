import assert from 'node:assert/strict';
import sdpTransform from 'sdp-transform';
import { buildSdp, type OutStream } from '../../../core/sdp/build.js';
import {
  answerKeys, answerSetup, intersectCodecs, keysFromAnswer, negotiatedDirection, offerKeys, restrictCodecs, roleFromAnswer,
} from '../../../core/sdp/negotiate.js';
import { parseSdp, summarizeOffer } from '../../../core/sdp/parse.js';

const KEY30 = Buffer.alloc(30, 7).toString('base64');

function sdp(media: string, session = 'c=IN IP4 192.0.2.1\r\n'): string {
  return `v=0\r\no=alice 1 2 IN IP4 192.0.2.1\r\ns=-\r\n${session}t=0 0\r\n${media}`;
}

const PLAIN = sdp('m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=x-unknown:42\r\na=sendonly\r\nm=video 4002 RTP/AVPF 96\r\na=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack pli\r\na=rtcp-mux\r\n');
const SDES = sdp(`m=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY30}\r\na=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:${KEY30}|2^31\r\n`);
const DTLS = sdp('m=audio 4000 UDP/TLS/RTP/SAVPF 0\r\na=fingerprint:sha-256 AB:CD\r\na=setup:actpass\r\na=rtcp-mux\r\n');
const ZRTP = sdp('m=audio 4000 RTP/AVP 0\r\na=zrtp-hash:1.10 0123abcd\r\n');

describe('sdp parsing', () => {
  it('normalises codecs, static payload types, directions, rtcp-mux and ports', () => {
    const r = parseSdp(PLAIN);
    assert.ok(r.ok);
    const [audio, video] = r.sdp.media;
    assert.deepEqual(audio!.codecs.map((c) => `${c.pt} ${c.name}/${c.rate}`), ['0 PCMU/8000', '8 PCMA/8000', '101 telephone-event/8000']);
    assert.equal(audio!.codecs[2]!.fmtp, '0-15');
    assert.equal(audio!.direction, 'sendonly');
    assert.equal(audio!.address, '192.0.2.1');
    assert.equal(audio!.rtcpPort, 4001);
    assert.equal(audio!.ptime, 20);
    assert.equal(video!.rtcpMux, true);
    assert.equal(video!.avpf, true);
    assert.deepEqual(video!.codecs[0]!.rtcpFb, ['nack pli']);
  });

  it('recognises the encryption mode of each offer and its SDES suites', () => {
    const modes = [PLAIN, SDES, DTLS, ZRTP].map((t) => { const r = parseSdp(t); assert.ok(r.ok); return summarizeOffer(r.sdp); });
    assert.deepEqual(modes.map((m) => m.encryption), ['none', 'sdes', 'dtls-srtp', 'zrtp']);
    assert.deepEqual(modes[1]!.srtpSuites, ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32']);
    assert.deepEqual(modes[0]!.kinds, ['audio', 'video']);
    const r = parseSdp(DTLS);
    assert.ok(r.ok);
    assert.equal(r.sdp.media[0]!.fingerprint, 'sha-256 AB:CD');
  });

  it('returns an error instead of throwing on bad SDP', () => {
    for (const bad of ['', 'hello', 'v=0\r\n', 'v=1\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 1 RTP/AVP 0\r\n', sdp('m=audio 4000 RTP/AVP 0\r\n', ''),
      sdp('m=audio 99999 RTP/AVP 0\r\n'), sdp('m=audio 4000 RTP/AVP abc\r\n'), '\u0000\u0001v=0']) {
      const r = parseSdp(bad);
      assert.equal(r.ok, false, bad);
      if (!r.ok) assert.ok(r.error.length > 0);
    }
  });
});

describe('sdp robustness', () => {
  it('never throws on truncated or mutated SDP', () => {
    const inputs = [PLAIN, SDES, DTLS, ZRTP];
    for (let i = 0; i < 2000; i++) {
      const base = inputs[i % inputs.length]!;
      const cut = Math.floor(Math.random() * base.length);
      const mutated = i % 2 === 0 ? base.slice(0, cut) : `${base.slice(0, cut)}${String.fromCharCode(Math.floor(Math.random() * 256))}${base.slice(cut + 1)}`;
      const r = parseSdp(mutated);
      assert.equal(typeof r.ok, 'boolean');
      if (r.ok) summarizeOffer(r.sdp);
    }
  });

  it('reads c=0.0.0.0 as the old way to hold', () => {
    const r = parseSdp(sdp('m=audio 4000 RTP/AVP 0\r\n', 'c=IN IP4 0.0.0.0\r\n'));
    assert.ok(r.ok);
    assert.equal(r.sdp.media[0]!.direction, 'sendonly');
  });
});

describe('sdp negotiation', () => {
  const offer = (() => { const r = parseSdp(PLAIN); assert.ok(r.ok); return r.sdp; })();

  it('restricts codecs to audio-codec / video-codec, keeping telephone-event', () => {
    const audio = offer.media[0]!.codecs;
    assert.deepEqual(restrictCodecs(audio, 'audio', 'PCMA/8000').map((c) => c.name), ['PCMA', 'telephone-event']);
    assert.deepEqual(restrictCodecs(audio, 'audio', 'pcmu').map((c) => c.name), ['PCMU', 'telephone-event']);
    assert.deepEqual(restrictCodecs(audio, 'audio', 'opus/48000').map((c) => c.name), ['telephone-event']);
    assert.deepEqual(restrictCodecs(audio, 'audio', '').length, 3);
  });

  it('intersects an answer with the offer, in the answer order, with the offer payload types', () => {
    const answered = [{ pt: 8, name: 'pcma', rate: 8000, rtcpFb: [] }, { pt: 100, name: 'telephone-event', rate: 8000, fmtp: '0-16', rtcpFb: [] }];
    const r = intersectCodecs(offer.media[0]!.codecs, answered);
    assert.deepEqual(r.map((c) => [c.pt, c.name]), [[8, 'PCMA'], [101, 'telephone-event']]);
    assert.equal(r[1]!.fmtp, '0-16');
  });

  it('computes what we may do towards a peer, hold included', () => {
    assert.equal(negotiatedDirection('sendrecv', 'sendrecv'), 'sendrecv');
    assert.equal(negotiatedDirection('sendonly', 'recvonly'), 'sendonly');
    assert.equal(negotiatedDirection('sendrecv', 'sendonly'), 'recvonly');
    assert.equal(negotiatedDirection('sendonly', 'inactive'), 'inactive');
    assert.equal(negotiatedDirection('sendonly', 'sendonly'), 'inactive');
  });

  it('SDES: offers one line per suite, answers with the first allowed suite, reads the chosen tag back', () => {
    const keys = offerKeys(['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32']);
    assert.deepEqual(keys.map((k) => [k.tag, k.key.suite, Buffer.from(k.key.keySalt, 'base64').length]), [[1, 'AES_CM_128_HMAC_SHA1_80', 30], [2, 'AES_CM_128_HMAC_SHA1_32', 30]]);
    const r = parseSdp(SDES);
    assert.ok(r.ok);
    const chosen = answerKeys(r.sdp.media[0]!, ['AES_CM_128_HMAC_SHA1_32']);
    assert.ok(chosen.ok);
    assert.equal(chosen.ours.tag, 2);
    assert.equal(chosen.theirs.keySalt, KEY30);
    assert.ok(!answerKeys(r.sdp.media[0]!, ['AEAD_AES_128_GCM']).ok);
    const withMki = parseSdp(sdp(`m=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY30}|2^31|7:2\r\n`));
    assert.ok(withMki.ok);
    const m = answerKeys(withMki.sdp.media[0]!, ['AES_CM_128_HMAC_SHA1_80']);
    assert.ok(m.ok);
    assert.deepEqual(m.theirs.mki, { value: 7, length: 2 }); // the peer's MKI reaches the engine
    assert.equal(m.ours.key.mki, undefined);
    const answer = parseSdp(sdp(`m=audio 5000 RTP/SAVP 0\r\na=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:${KEY30}\r\n`));
    assert.ok(answer.ok);
    const back = keysFromAnswer(keys, answer.sdp.media[0]!);
    assert.ok(back.ok);
    assert.equal(back.ours.key, keys[1]!.key);
  });

  it('DTLS: a=setup decides the roles', () => {
    assert.deepEqual(answerSetup('actpass'), { setup: 'active', role: 'client' });
    assert.deepEqual(answerSetup('active'), { setup: 'passive', role: 'server' });
    assert.equal(roleFromAnswer('active'), 'server');
    assert.equal(roleFromAnswer('passive'), 'client');
  });
});

describe('sdp building', () => {
  const ep = { address: '127.0.0.1', rtpPort: 30000, rtcpPort: 30001 };
  const codecs = [{ pt: 0, name: 'PCMU', rate: 8000, rtcpFb: [] }, { pt: 101, name: 'telephone-event', rate: 8000, fmtp: '0-15', rtcpFb: [] }];

  function build(streams: OutStream[]): sdpTransform.SessionDescription {
    const text = buildSdp({ address: '127.0.0.1', sessionId: '42', sessionVersion: 3, streams });
    assert.doesNotMatch(text, /x-unknown/);
    return sdpTransform.parse(text);
  }

  it('writes our address, ports, codecs, direction and only known attributes', () => {
    const s = build([{ kind: 'audio', enabled: true, endpoint: ep, codecs, direction: 'sendonly', rtcpMux: false, ptime: 20, encryption: 'none', avpf: false }]);
    const m = s.media[0]!;
    assert.equal(s.origin.sessionVersion, 3);
    assert.equal(s.connection?.ip, '127.0.0.1');
    assert.equal(m.port, 30000);
    assert.equal(m.protocol, 'RTP/AVP');
    assert.equal(m.payloads, '0 101');
    assert.equal(m.direction, 'sendonly');
    assert.equal(m.ptime, 20);
    assert.deepEqual(m.fmtp, [{ payload: 101, config: '0-15' }]);
    assert.equal(m.rtcp, undefined); // rtcp = rtp + 1 needs no a=rtcp
  });

  it('keeps m-line order with refused streams at port 0, and writes a=rtcp when RTCP is not rtp+1', () => {
    const s = build([
      { kind: 'audio', enabled: true, endpoint: { ...ep, rtcpPort: 40000 }, codecs, direction: 'sendrecv', rtcpMux: false, encryption: 'none', avpf: false },
      { kind: 'video', enabled: false, codecs: [], direction: 'inactive', rtcpMux: false, encryption: 'none', avpf: false, formats: '96' },
      { kind: 'text', enabled: false, codecs: [], direction: 'inactive', rtcpMux: false, encryption: 'none', avpf: false, proto: 'RTP/AVP', formats: '98' },
    ]);
    assert.deepEqual(s.media.map((m) => [m.type, m.port, String(m.payloads)]), [['audio', 30000, '0 101'], ['video', 0, '96'], ['text', 0, '98']]);
    assert.equal(s.media[0]!.rtcp?.port, 40000);
  });

  it('SDES: RTP/SAVP with our a=crypto lines; DTLS: UDP/TLS/RTP/SAVPF, fingerprint and setup', () => {
    const keys = offerKeys(['AES_CM_128_HMAC_SHA1_80', 'AES_256_CM_HMAC_SHA1_80']);
    const s = build([{ kind: 'audio', enabled: true, endpoint: ep, codecs, direction: 'sendrecv', rtcpMux: true, encryption: 'sdes', avpf: false, crypto: keys }]);
    assert.equal(s.media[0]!.protocol, 'RTP/SAVP');
    assert.deepEqual(s.media[0]!.crypto!.map((c) => [c.id, c.suite, c.config]), keys.map((k) => [k.tag, k.key.suite, `inline:${k.key.keySalt}`]));
    assert.equal(s.media[0]!.rtcpMux, 'rtcp-mux');
    const d = build([{ kind: 'audio', enabled: true, endpoint: { ...ep, fingerprint: 'sha-256 AA:BB' }, codecs, direction: 'sendrecv', rtcpMux: true, encryption: 'dtls-srtp', avpf: true, setup: 'active' }]);
    assert.equal(d.media[0]!.protocol, 'UDP/TLS/RTP/SAVPF');
    assert.deepEqual(d.media[0]!.fingerprint, { type: 'sha-256', hash: 'AA:BB' });
    assert.equal(d.media[0]!.setup, 'active');
  });

  it('round-trips through our parser', () => {
    const text = buildSdp({ address: '::1', sessionId: '1', sessionVersion: 1, streams: [{ kind: 'audio', enabled: true, endpoint: { address: '::1', rtpPort: 5000, rtcpPort: 5001 }, codecs, direction: 'recvonly', rtcpMux: false, encryption: 'none', avpf: false }] });
    const r = parseSdp(text);
    assert.ok(r.ok, !r.ok ? r.error : '');
    assert.equal(r.sdp.media[0]!.address, '::1');
    assert.equal(r.sdp.media[0]!.direction, 'recvonly');
  });
});
