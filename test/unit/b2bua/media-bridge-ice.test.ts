/**
 * MediaBridge with ICE on (enable-ice): ICE-lite attributes in our offers and, when the peer offered ICE, in our
 * answers; host candidates for RTP and RTCP (RTCP only without rtcp-mux), nat-addresses as server-reflexive ones; the
 * engine gets ICE parameters only when both sides of a leg announced ICE; ICE off = no ICE attribute at all.
 */
import assert from 'node:assert/strict';
import sdpTransform from 'sdp-transform';
import { MediaBridge, iceCandidates } from '../../../core/b2bua/media-bridge.js';
import type { LegParams, LocalEndpoint, MediaSession, SessionStats } from '../../../core/media/types.js';
import type { LegId, MediaKind } from '../../../core/vocabulary/index.js';
import { parseSdp } from '../../../core/sdp/parse.js';
import type { ParsedSdp } from '../../../core/sdp/model.js';

class RecordingSession implements MediaSession {
  readonly id = 'rec';
  readonly configured: Record<LegId, LegParams[]> = { a: [], b: [] };
  private port = 40000;
  async allocate(_leg: LegId, _index: number, _kind: MediaKind): Promise<LocalEndpoint> {
    const p = (this.port += 2);
    return { address: '10.0.0.1', rtpPort: p, rtcpPort: p + 1 };
  }
  async configure(leg: LegId, params: LegParams): Promise<void> { this.configured[leg].push(params); }
  async stats(): Promise<SessionStats> { return { a: [], b: [] }; }
  onEvent(): void {}
  async close(): Promise<SessionStats> { return { a: [], b: [] }; }
}

function parsed(text: string): ParsedSdp {
  const r = parseSdp(text);
  assert.ok(r.ok, !r.ok ? r.error : '');
  return r.sdp;
}

const sdp = (session: string, media: string): string => `v=0\r\no=p 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n${session}${media}`;
/** liblinphone's way: ufrag / pwd at session level, full ICE (no ice-lite), host + srflx candidates, RTCP on its own port. */
const ICE_SESSION = 'a=ice-pwd:1f6ff5d1b1f6cb5d4ae1aeb4\r\na=ice-ufrag:3c1bd7ae\r\n';
const ICE_AUDIO = 'm=audio 7078 RTP/AVP 0\r\na=rtcp:7079\r\n' +
  'a=candidate:1 1 UDP 2130706431 192.0.2.9 7078 typ host\r\na=candidate:1 2 UDP 2130706430 192.0.2.9 7079 typ host\r\n' +
  'a=candidate:2 1 UDP 1694498815 198.51.100.4 40000 typ srflx raddr 192.0.2.9 rport 7078\r\n' +
  'a=candidate:2 2 UDP 1694498814 198.51.100.4 40001 typ srflx raddr 192.0.2.9 rport 7079\r\n';
const PLAIN_AUDIO = 'm=audio 7078 RTP/AVP 0\r\n';

const bridgeWith = (s: RecordingSession, ice: boolean, natAddresses: string[] = []) =>
  new MediaBridge(s, { encryption: 'none', suites: [] }, { encryption: 'none', suites: [] }, { audio: '', video: '' }, ice ? { natAddresses } : undefined);

describe('SDP: ICE attributes (RFC 8839)', () => {
  it('parse: session-level ufrag / pwd apply to each m-line; UDP candidates with raddr / rport; a=ice-lite', () => {
    const m = parsed(sdp(ICE_SESSION, ICE_AUDIO)).media[0]!;
    assert.equal(m.ice?.ufrag, '3c1bd7ae');
    assert.equal(m.ice?.pwd, '1f6ff5d1b1f6cb5d4ae1aeb4');
    assert.equal(m.ice?.lite, false);
    assert.deepEqual(m.ice?.candidates.map((c) => [c.component, c.type, c.ip, c.port, c.raddr, c.rport]),
      [[1, 'host', '192.0.2.9', 7078, undefined, undefined], [2, 'host', '192.0.2.9', 7079, undefined, undefined],
        [1, 'srflx', '198.51.100.4', 40000, '192.0.2.9', 7078], [2, 'srflx', '198.51.100.4', 40001, '192.0.2.9', 7079]]);
    const lite = parsed(sdp('a=ice-lite\r\n', 'm=audio 7078 RTP/AVP 0\r\na=ice-ufrag:abcd\r\na=ice-pwd:0123456789012345678901\r\na=candidate:1 1 udp 1 192.0.2.9 7078 typ host\r\n')).media[0]!;
    assert.equal(lite.ice?.lite, true);
    assert.equal(lite.ice?.ufrag, 'abcd', 'media-level credentials');
  });

  it('parse: no ufrag / pwd = no ICE (candidates alone are not ICE); TCP candidates are ignored', () => {
    assert.equal(parsed(sdp('', 'm=audio 7078 RTP/AVP 0\r\na=candidate:1 1 UDP 1 192.0.2.9 7078 typ host\r\n')).media[0]!.ice, undefined);
    const m = parsed(sdp(ICE_SESSION, 'm=audio 7078 RTP/AVP 0\r\na=candidate:1 1 TCP 1 192.0.2.9 9 typ host tcptype active\r\n')).media[0]!;
    assert.deepEqual(m.ice?.candidates, []);
  });

  it('candidates: host for RTP and RTCP, nat-addresses of the same family as server-reflexive ones (liblinphone\'s NAT policy), RFC 8445 priorities', () => {
    const ep = { address: '10.0.0.1', rtpPort: 5000, rtcpPort: 5001 };
    const c = iceCandidates(ep, true, ['203.0.113.7', '2001:db8::7']);
    assert.deepEqual(c.map((x) => [x.foundation, x.component, x.type, x.ip, x.port, x.raddr, x.rport]), [
      ['1', 1, 'host', '10.0.0.1', 5000, undefined, undefined], ['2', 1, 'srflx', '203.0.113.7', 5000, '10.0.0.1', 5000],
      ['1', 2, 'host', '10.0.0.1', 5001, undefined, undefined], ['2', 2, 'srflx', '203.0.113.7', 5001, '10.0.0.1', 5001],
    ]);
    assert.equal(c[0]!.priority, 126 * 2 ** 24 + 65535 * 2 ** 8 + 255);
    assert.equal(c[1]!.priority, 100 * 2 ** 24 + 65535 * 2 ** 8 + 255);
    assert.equal(c[2]!.priority, 126 * 2 ** 24 + 65535 * 2 ** 8 + 254);
    assert.deepEqual(iceCandidates(ep, false, ['10.0.0.1']).map((x) => [x.component, x.type]), [[1, 'host']], 'rtcp-mux: RTP only; a nat address equal to the host one is not repeated');
  });
});

describe('MediaBridge with ICE (ICE-lite on both legs)', () => {
  it('our offer to leg B always carries ICE-lite: session-level a=ice-lite / ice-ufrag / ice-pwd, RTP and RTCP candidates (nat-addresses as srflx)', async () => {
    const s = new RecordingSession();
    const bridge = bridgeWith(s, true, ['203.0.113.7']);
    const offerB = sdpTransform.parse(await bridge.forwardOffer('a', parsed(sdp('', PLAIN_AUDIO))));
    assert.equal(offerB.icelite, 'ice-lite');
    assert.match(String(offerB.iceUfrag), /^[A-Za-z0-9+/]{8}$/);
    assert.ok(String(offerB.icePwd).length >= 22, 'ice-pwd: at least 128 bits');
    const m = offerB.media[0]!;
    assert.deepEqual(m.candidates!.map((c) => `${c.component} ${c.transport} ${c.type} ${c.ip} ${c.port}`),
      [`1 UDP host 10.0.0.1 ${m.port}`, `1 UDP srflx 203.0.113.7 ${m.port}`, `2 UDP host 10.0.0.1 ${m.port + 1}`, `2 UDP srflx 203.0.113.7 ${m.port + 1}`]);
    assert.equal(m.endOfCandidates, undefined, 'no trickle ICE: no a=end-of-candidates');
  });

  it('leg A offered ICE: its answer carries ICE-lite with leg A\'s own credentials; each leg\'s engine parameters name its peer\'s ufrag and candidate addresses', async () => {
    const s = new RecordingSession();
    const bridge = bridgeWith(s, true);
    const offerB = sdpTransform.parse(await bridge.forwardOffer('a', parsed(sdp(ICE_SESSION, ICE_AUDIO))));
    const answerB = sdp('a=ice-ufrag:bobU\r\na=ice-pwd:bobPasswordbobPassword\r\n', 'm=audio 8000 RTP/AVP 0\r\na=candidate:1 1 UDP 2130706431 192.0.2.20 8000 typ host\r\na=candidate:1 2 UDP 2130706430 192.0.2.20 8001 typ host\r\n');
    const answerA = sdpTransform.parse(await bridge.forwardAnswer('b', parsed(answerB)));
    assert.equal(answerA.icelite, 'ice-lite');
    assert.notEqual(answerA.iceUfrag, offerB.iceUfrag, 'one set of credentials per leg');
    assert.deepEqual(answerA.media[0]!.candidates!.map((c) => c.component), [1, 2], 'no rtcp-mux: an RTCP candidate');
    const a = s.configured.a.at(-1)!.streams[0]!;
    assert.deepEqual(a.ice, { localUfrag: answerA.iceUfrag, localPwd: answerA.icePwd, remoteUfrag: '3c1bd7ae', remoteAddresses: ['192.0.2.9', '198.51.100.4'] });
    const b = s.configured.b.at(-1)!.streams[0]!;
    assert.deepEqual(b.ice, { localUfrag: offerB.iceUfrag, localPwd: offerB.icePwd, remoteUfrag: 'bobU', remoteAddresses: ['192.0.2.9', '192.0.2.20'] });
  });

  it('a peer without ICE: leg A\'s answer has no ICE attribute; leg B answering without ICE means no ICE on leg B', async () => {
    const s = new RecordingSession();
    const bridge = bridgeWith(s, true);
    await bridge.forwardOffer('a', parsed(sdp('', PLAIN_AUDIO)));
    const text = await bridge.forwardAnswer('b', parsed(sdp('', 'm=audio 8000 RTP/AVP 0\r\n')));
    assert.doesNotMatch(text, /ice-|candidate/);
    assert.equal(s.configured.a.at(-1)!.streams[0]!.ice, undefined);
    assert.equal(s.configured.b.at(-1)!.streams[0]!.ice, undefined, 'leg B offered ICE, answered without: no ICE');
  });

  it('rtcp-mux agreed: the answer has RTP candidates only and RTCP candidates of the peer do not widen the accepted addresses', async () => {
    const s = new RecordingSession();
    const bridge = bridgeWith(s, true);
    const offerA = sdp(ICE_SESSION, 'm=audio 7078 RTP/AVP 0\r\na=rtcp-mux\r\na=candidate:1 1 UDP 2130706431 192.0.2.9 7078 typ host\r\na=candidate:1 2 UDP 2130706430 192.0.2.99 7079 typ host\r\n');
    await bridge.forwardOffer('a', parsed(offerA));
    const answerA = sdpTransform.parse(await bridge.forwardAnswer('b', parsed(sdp('', 'm=audio 8000 RTP/AVP 0\r\na=rtcp-mux\r\n'))));
    assert.deepEqual(answerA.media[0]!.candidates!.map((c) => c.component), [1]);
    assert.deepEqual(s.configured.a.at(-1)!.streams[0]!.ice?.remoteAddresses, ['192.0.2.9']);
  });

  it('the same credentials in a re-INVITE answer (no ICE restart from our side)', async () => {
    const s = new RecordingSession();
    const bridge = bridgeWith(s, true);
    await bridge.forwardOffer('a', parsed(sdp(ICE_SESSION, ICE_AUDIO)));
    const first = sdpTransform.parse(await bridge.forwardAnswer('b', parsed(sdp('', 'm=audio 8000 RTP/AVP 0\r\n'))));
    const again = sdpTransform.parse(await bridge.answerLocally('a', parsed(sdp(ICE_SESSION, ICE_AUDIO).replace('o=p 1 1', 'o=p 1 2'))));
    assert.equal(again.iceUfrag, first.iceUfrag);
    assert.equal(again.icePwd, first.icePwd);
  });

  it('enable-ice=false: no ICE attribute in offers or answers even when the peer offered ICE', async () => {
    const s = new RecordingSession();
    const bridge = bridgeWith(s, false);
    const offerB = await bridge.forwardOffer('a', parsed(sdp(ICE_SESSION, ICE_AUDIO)));
    assert.doesNotMatch(offerB, /ice-|candidate/);
    const answerA = await bridge.forwardAnswer('b', parsed(sdp('a=ice-ufrag:bobU\r\na=ice-pwd:bobPasswordbobPassword\r\n', 'm=audio 8000 RTP/AVP 0\r\n')));
    assert.doesNotMatch(answerA, /ice-|candidate/);
    assert.equal(s.configured.a.at(-1)!.streams[0]!.ice, undefined);
    assert.equal(s.configured.b.at(-1)!.streams[0]!.ice, undefined);
  });
});
