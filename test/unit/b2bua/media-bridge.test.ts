/**
 * MediaBridge: the SDP each leg gets and the parameters the media engine is given, per encryption
 * mode. The media session here only records calls: what is under test is the offer/answer logic.
 */
import assert from 'node:assert/strict';
import sdpTransform from 'sdp-transform';
import { MediaBridge } from '../../../core/b2bua/media-bridge.js';
import { isB2buaError } from '../../../core/errors/index.js';
import type { LegParams, LocalEndpoint, MediaSession, SessionStats } from '../../../core/media/types.js';
import type { LegId, MediaKind } from '../../../core/vocabulary/index.js';
import { parseSdp } from '../../../core/sdp/parse.js';
import type { ParsedSdp } from '../../../core/sdp/model.js';

class RecordingSession implements MediaSession {
  readonly id = 'rec';
  readonly configured: Record<LegId, LegParams[]> = { a: [], b: [] };
  private port = 40000;
  async allocate(leg: LegId, _index: number, _kind: MediaKind): Promise<LocalEndpoint> {
    const p = (this.port += 2);
    return { address: '10.0.0.1', rtpPort: p, rtcpPort: p + 1, fingerprint: `sha-256 ${leg === 'a' ? 'AA' : 'BB'}:00` };
  }
  async configure(leg: LegId, params: LegParams): Promise<void> { this.configured[leg].push(params); }
  async stats(): Promise<SessionStats> { return { a: [], b: [] }; }
  onEvent(): void {}
  async close(): Promise<SessionStats> { return { a: [], b: [] }; }
}

const KEY = Buffer.alloc(30, 9).toString('base64');

function parsed(text: string): ParsedSdp {
  const r = parseSdp(text);
  assert.ok(r.ok, !r.ok ? r.error : '');
  return r.sdp;
}

function sdp(media: string): string {
  return `v=0\r\no=p 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n${media}`;
}

const PLAIN_OFFER = sdp('m=audio 7000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\nm=video 7002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 profile-level-id=42e01f\r\n');

describe('MediaBridge offer/answer', () => {
  it('an engine that converts DTMF: an audio offer without telephone-event gets one on the other leg (101, else a free PT; the media clock rate), never answered back to the offerer', async () => {
    class DtmfSession extends RecordingSession { sendDtmf(): boolean { return true; } }
    const audioOf = (text: string) => sdpTransform.parse(text).media[0]!;
    const teOf = (text: string) => audioOf(text).rtp.filter((r) => r.codec.toLowerCase() === 'telephone-event').map((r) => `${r.payload} ${r.rate}`);
    const s = new DtmfSession();
    const bridge = new MediaBridge(s, { encryption: 'none', suites: [] }, { encryption: 'none', suites: [] }, { audio: '', video: '' });
    const offerB = await bridge.forwardOffer('a', parsed(sdp('m=audio 7000 RTP/AVP 0 8\r\na=sendrecv\r\n')));
    assert.equal(String(audioOf(offerB).payloads), '0 8 101');
    assert.deepEqual(teOf(offerB), ['101 8000']);
    const answerA = await bridge.forwardAnswer('b', parsed(sdp('m=audio 8000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n')));
    assert.equal(String(audioOf(answerA).payloads), '0', 'leg A did not offer it: not in its answer');
    assert.deepEqual(bridge.telephoneEvent('b', 0), { pt: 101, clockRate: 8000 });
    assert.equal(bridge.telephoneEvent('a', 0), undefined);
    // 101 taken: the first free dynamic PT; no 8 kHz codec: the first codec's rate
    const taken = await new MediaBridge(new DtmfSession(), { encryption: 'none', suites: [] }, { encryption: 'none', suites: [] }, { audio: '', video: '' })
      .forwardOffer('a', parsed(sdp('m=audio 7000 RTP/AVP 96 101\r\na=rtpmap:96 opus/48000/2\r\na=rtpmap:101 speex/16000\r\n')));
    assert.deepEqual(teOf(taken), ['97 48000']);
    // an engine that does not convert: the offer as it came
    const plain = await new MediaBridge(new RecordingSession(), { encryption: 'none', suites: [] }, { encryption: 'none', suites: [] }, { audio: '', video: '' })
      .forwardOffer('a', parsed(sdp('m=audio 7000 RTP/AVP 0\r\n')));
    assert.equal(String(audioOf(plain).payloads), '0');
    // an offer with telephone-event keeps its own
    const own = await new MediaBridge(new DtmfSession(), { encryption: 'none', suites: [] }, { encryption: 'none', suites: [] }, { audio: '', video: '' })
      .forwardOffer('a', parsed(sdp('m=audio 7000 RTP/AVP 0 100\r\na=rtpmap:100 telephone-event/8000\r\n')));
    assert.deepEqual(teOf(own), ['100 8000']);
  });

  it('none → SDES: leg B gets RTP/SAVP with one a=crypto per suite; its answer gives the engine both keys', async () => {
    const s = new RecordingSession();
    const bridge = new MediaBridge(s, { encryption: 'none', suites: [] }, { encryption: 'sdes', suites: ['AES_CM_128_HMAC_SHA1_80', 'AES_256_CM_HMAC_SHA1_80'] }, { audio: '', video: '' });
    const offerB = sdpTransform.parse(await bridge.forwardOffer('a', parsed(PLAIN_OFFER)));
    assert.deepEqual(offerB.media.map((m) => [m.type, m.protocol, m.connection?.ip ?? offerB.connection?.ip]), [['audio', 'RTP/SAVP', '10.0.0.1'], ['video', 'RTP/SAVP', '10.0.0.1']]);
    assert.deepEqual(offerB.media[0]!.crypto!.map((c) => [c.id, c.suite]), [[1, 'AES_CM_128_HMAC_SHA1_80'], [2, 'AES_256_CM_HMAC_SHA1_80']]);
    assert.equal(offerB.media[1]!.fmtp[0]!.config, 'profile-level-id=42e01f');
    const ourKey = offerB.media[0]!.crypto![1]!.config.replace('inline:', '');
    const key46 = Buffer.alloc(46, 3).toString('base64');
    const answerB = sdp(`m=audio 8000 RTP/SAVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=crypto:2 AES_256_CM_HMAC_SHA1_80 inline:${key46}\r\nm=video 0 RTP/SAVP 96\r\n`);
    const answerA = sdpTransform.parse(await bridge.forwardAnswer('b', parsed(answerB)));
    // leg A: plain, PCMA + telephone-event (intersection), video refused
    assert.deepEqual(answerA.media.map((m) => [m.type, m.port > 0, m.protocol, String(m.payloads)]), [['audio', true, 'RTP/AVP', '8 101'], ['video', false, 'RTP/AVP', '96']]);
    assert.equal(answerA.media[0]!.crypto, undefined);
    const b = s.configured.b.at(-1)!.streams[0]!;
    assert.deepEqual(b.srtp, { send: { suite: 'AES_256_CM_HMAC_SHA1_80', keySalt: ourKey }, recv: { suite: 'AES_256_CM_HMAC_SHA1_80', keySalt: key46 } });
    assert.equal(b.encryption, 'sdes');
    assert.deepEqual(b.remote, { address: '192.0.2.9', rtpPort: 8000, rtcpPort: 8001 });
    assert.equal(s.configured.b.at(-1)!.streams[1]!.enabled, false);
    const a = s.configured.a.at(-1)!.streams[0]!;
    assert.equal(a.encryption, 'none');
    assert.deepEqual(a.remote, { address: '192.0.2.9', rtpPort: 7000, rtcpPort: 7001 });
  });

  it('leg B forced to AVPF (sip-bridge enableAvpf true): RTP/AVPF or RTP/SAVPF with leg A\'s a=rtcp-fb; leg A answered in its own AVP', async () => {
    const offerA = sdp('m=audio 7000 RTP/AVP 0\r\nm=video 7002 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack pli\r\n');
    for (const [encryption, proto] of [['none', 'RTP/AVPF'], ['sdes', 'RTP/SAVPF'], ['dtls-srtp', 'UDP/TLS/RTP/SAVPF']] as const) {
      const s = new RecordingSession();
      const bridge = new MediaBridge(s, { encryption: 'none', suites: [] }, { encryption, suites: [], avpf: true }, { audio: '', video: '' });
      const offerB = sdpTransform.parse(await bridge.forwardOffer('a', parsed(offerA)));
      assert.deepEqual(offerB.media.map((m) => m.protocol), [proto, proto], encryption);
      assert.deepEqual(offerB.media[1]!.rtcpFb?.map((f) => `${f.type} ${f.subtype ?? ''}`.trim()), ['nack pli']);
      const keys = (encryption === 'sdes' ? `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY}\r\n` : '') + (encryption === 'dtls-srtp' ? 'a=setup:active\r\na=fingerprint:sha-256 CC:00\r\n' : '');
      const answerB = sdp(`m=audio 8000 ${proto} 0\r\n${keys}m=video 8002 ${proto} 96\r\na=rtpmap:96 VP8/90000\r\n${keys}`);
      const answerA = sdpTransform.parse(await bridge.forwardAnswer('b', parsed(answerB)));
      assert.deepEqual(answerA.media.map((m) => m.protocol), ['RTP/AVP', 'RTP/AVP'], 'leg A keeps the profile it offered');
    }
  });

  it('leg B forced to AVP (enableAvpf false): an AVPF offer from leg A goes out as RTP/AVP without a=rtcp-fb', async () => {
    const s = new RecordingSession();
    const bridge = new MediaBridge(s, { encryption: 'none', suites: [] }, { encryption: 'none', suites: [], avpf: false }, { audio: '', video: '' });
    const offerB = await bridge.forwardOffer('a', parsed(sdp('m=video 7002 RTP/AVPF 96\r\na=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack pli\r\na=rtcp-fb:96 ccm fir\r\n')));
    assert.match(offerB, /m=video \d+ RTP\/AVP 96/);
    assert.doesNotMatch(offerB, /a=rtcp-fb/);
    const unforced = new MediaBridge(new RecordingSession(), { encryption: 'none', suites: [] }, { encryption: 'none', suites: [] }, { audio: '', video: '' });
    assert.match(await unforced.forwardOffer('a', parsed(sdp('m=video 7002 RTP/AVPF 96\r\na=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack pli\r\n'))), /m=video \d+ RTP\/AVPF 96[\s\S]*a=rtcp-fb:96 nack pli/, 'not forced: as leg A offered');
  });

  it('SDES → none: leg A is answered with one a=crypto of an allowed suite, keys handed to the engine', async () => {
    const s = new RecordingSession();
    const offerA = sdp(`m=audio 7000 RTP/SAVP 0\r\na=crypto:5 AES_CM_128_HMAC_SHA1_32 inline:${KEY}\r\na=crypto:6 AES_CM_128_HMAC_SHA1_80 inline:${KEY}\r\n`);
    const bridge = new MediaBridge(s, { encryption: 'sdes', suites: ['AES_CM_128_HMAC_SHA1_80'] }, { encryption: 'none', suites: [] }, { audio: '', video: '' });
    const offerB = await bridge.forwardOffer('a', parsed(offerA));
    assert.match(offerB, /m=audio \d+ RTP\/AVP 0/);
    assert.doesNotMatch(offerB, /a=crypto/);
    const answerA = sdpTransform.parse(await bridge.forwardAnswer('b', parsed(sdp('m=audio 8000 RTP/AVP 0\r\n'))));
    assert.equal(answerA.media[0]!.protocol, 'RTP/SAVP');
    assert.deepEqual(answerA.media[0]!.crypto!.map((c) => [c.id, c.suite]), [[6, 'AES_CM_128_HMAC_SHA1_80']]);
    const a = s.configured.a.at(-1)!.streams[0]!;
    assert.equal(a.srtp!.recv.keySalt, KEY);
    assert.equal(`inline:${a.srtp!.send.keySalt}`, answerA.media[0]!.crypto![0]!.config);
  });

  it('DTLS-SRTP on leg B: our fingerprint and actpass in the offer, role from the answer', async () => {
    const s = new RecordingSession();
    const bridge = new MediaBridge(s, { encryption: 'none', suites: [] }, { encryption: 'dtls-srtp', suites: [] }, { audio: '', video: '' });
    const offerB = sdpTransform.parse(await bridge.forwardOffer('a', parsed(sdp('m=audio 7000 RTP/AVP 0\r\n'))));
    assert.equal(offerB.media[0]!.protocol, 'UDP/TLS/RTP/SAVP');
    assert.deepEqual(offerB.media[0]!.fingerprint, { type: 'sha-256', hash: 'BB:00' });
    assert.equal(offerB.media[0]!.setup, 'actpass');
    await bridge.forwardAnswer('b', parsed(sdp('m=audio 8000 UDP/TLS/RTP/SAVP 0\r\na=fingerprint:sha-256 CC:11\r\na=setup:active\r\na=rtcp-mux\r\n')));
    const b = s.configured.b.at(-1)!.streams[0]!;
    assert.deepEqual(b.dtls, { role: 'server', remoteFingerprint: 'sha-256 CC:11' });
  });

  it('hold both ways: directions forwarded, the engine told what it may send to each leg', async () => {
    const s = new RecordingSession();
    const bridge = new MediaBridge(s, { encryption: 'none', suites: [] }, { encryption: 'none', suites: [] }, { audio: '', video: '' });
    await bridge.forwardOffer('a', parsed(sdp('m=audio 7000 RTP/AVP 0\r\n')));
    await bridge.forwardAnswer('b', parsed(sdp('m=audio 8000 RTP/AVP 0\r\n')));
    const hold = parsed(sdp('m=audio 7000 RTP/AVP 0\r\na=sendonly\r\n'));
    assert.equal(bridge.needsForwarding('a', hold), true);
    const toB = await bridge.forwardOffer('a', hold);
    assert.match(toB, /a=sendonly/);
    const answerA = await bridge.forwardAnswer('b', parsed(sdp('m=audio 8000 RTP/AVP 0\r\na=recvonly\r\n')));
    assert.match(answerA, /a=recvonly/);
    assert.equal(s.configured.a.at(-1)!.streams[0]!.direction, 'recvonly'); // A only sends: nothing to A
    assert.equal(s.configured.b.at(-1)!.streams[0]!.direction, 'sendonly');
    // the SDP version moves when the content changes
    assert.match(answerA, /^o=- \d+ (\d+) /m);
  });

  describe('hold mapped as Flexisip\'s B2BUA maps it (tester pauseWithAudioInactive, answerToPauseWithAudioInactive, paused on both sides)', () => {
    async function established(): Promise<{ s: RecordingSession; bridge: MediaBridge }> {
      const s = new RecordingSession();
      const bridge = new MediaBridge(s, { encryption: 'none', suites: [] }, { encryption: 'none', suites: [] }, { audio: '', video: '' });
      await bridge.forwardOffer('a', parsed(sdp('m=audio 7000 RTP/AVP 0\r\n')));
      await bridge.forwardAnswer('b', parsed(sdp('m=audio 8000 RTP/AVP 0\r\n')));
      return { s, bridge };
    }
    const dir = (text: string): string => /^a=(sendrecv|sendonly|recvonly|inactive)\r?$/m.exec(text)?.[1] ?? 'sendrecv';

    it('a pause with a=inactive puts the other leg on hold with a=sendonly; the pauser is answered inactive', async () => {
      const { bridge } = await established();
      const toB = await bridge.forwardOffer('a', parsed(sdp('m=audio 7000 RTP/AVP 0\r\na=inactive\r\n')));
      assert.equal(dir(toB), 'sendonly');
      const toA = await bridge.forwardAnswer('b', parsed(sdp('m=audio 8000 RTP/AVP 0\r\na=recvonly\r\n')));
      assert.equal(dir(toA), 'inactive');
    });

    it('a pause with a=sendonly answered a=inactive by the pausee: the pauser is still answered recvonly (it stays sendonly)', async () => {
      const { bridge, s } = await established();
      assert.equal(dir(await bridge.forwardOffer('a', parsed(sdp('m=audio 7000 RTP/AVP 0\r\na=sendonly\r\n')))), 'sendonly');
      const toA = await bridge.forwardAnswer('b', parsed(sdp('m=audio 8000 RTP/AVP 0\r\na=inactive\r\n')));
      assert.equal(dir(toA), 'recvonly');
      assert.equal(s.configured.b.at(-1)!.streams[0]!.direction, 'inactive', 'nothing sent to the pausee, which said inactive');
    });

    it('paused on both sides: the second pauser\'s peer is held with inactive ("on hold for me too"), the second pauser answered inactive', async () => {
      const { bridge } = await established();
      await bridge.forwardOffer('a', parsed(sdp('m=audio 7000 RTP/AVP 0\r\na=sendonly\r\n')));
      await bridge.forwardAnswer('b', parsed(sdp('m=audio 8000 RTP/AVP 0\r\na=recvonly\r\n')));
      const toA = await bridge.forwardOffer('b', parsed(sdp('m=audio 8000 RTP/AVP 0\r\na=sendonly\r\n')));
      assert.equal(dir(toA), 'inactive');
      const toB = await bridge.forwardAnswer('a', parsed(sdp('m=audio 7000 RTP/AVP 0\r\na=inactive\r\n')));
      assert.equal(dir(toB), 'inactive', 'we hold B already: its sendonly is answered inactive');
      // resume from A: forwarded sendrecv; B, still holding, answers sendonly, which A gets
      assert.equal(dir(await bridge.forwardOffer('a', parsed(sdp('m=audio 7000 RTP/AVP 0\r\na=sendrecv\r\n')))), 'sendrecv');
      assert.equal(dir(await bridge.forwardAnswer('b', parsed(sdp('m=audio 8000 RTP/AVP 0\r\na=sendonly\r\n')))), 'sendonly');
    });

    it('an initial offer with a=sendonly is forwarded as it is (a call started on hold)', async () => {
      const bridge = new MediaBridge(new RecordingSession(), { encryption: 'none', suites: [] }, { encryption: 'none', suites: [] }, { audio: '', video: '' });
      assert.equal(dir(await bridge.forwardOffer('a', parsed(sdp('m=audio 7000 RTP/AVP 0\r\na=inactive\r\n')))), 'inactive');
    });
  });

  it('refuses with 488 when the forced codec is not offered', async () => {
    const bridge = new MediaBridge(new RecordingSession(), { encryption: 'none', suites: [] }, { encryption: 'none', suites: [] }, { audio: 'opus/48000', video: '' });
    await assert.rejects(bridge.forwardOffer('a', parsed(sdp('m=audio 7000 RTP/AVP 0\r\n'))), (e: unknown) => isB2buaError(e, 'B2BUA_SDP_INVALID') && e.status === 488 && /opus/.test(e.message));
  });
});
