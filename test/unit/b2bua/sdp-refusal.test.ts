/**
 * Leg A's INVITE refused before anything else happens: an SDP that breaks core/sdp/validate.ts gets 488 with a
 * Warning naming the problem, no hook runs, no media session is opened; exhausted media ports get 503 + Retry-After.
 */
import assert from 'node:assert/strict';
import { createB2buaServer } from '../../../core/b2bua/index.js';
import { errorHeaders, PORTS_EXHAUSTED_RETRY_AFTER_S } from '../../../core/b2bua/error-response.js';
import { b2buaError } from '../../../core/errors/index.js';
import { silentLogger } from '../../../core/log/index.js';
import type { MediaEngine, MediaSession } from '../../../core/media/types.js';
import { createHooks } from '../../../core/plugin-api/index.js';
import { closedAfterEach, rawInvite, testConfig, udpPeer, type RawPeer } from './helpers.js';

const KEY30 = Buffer.alloc(30, 7).toString('base64');

function sdp(media: string, session = 'c=IN IP4 127.0.0.1\r\n'): string {
  return `v=0\r\no=alice 1 2 IN IP4 127.0.0.1\r\ns=-\r\n${session}t=0 0\r\n${media}`;
}

/** A media engine that counts sessions; its allocate() fails with `allocateError` when given. */
function countingMedia(allocateError?: Error): MediaEngine & { sessions: number } {
  const engine = {
    name: 'counting',
    capabilities: { encryption: ['none', 'sdes'], srtpSuites: [] },
    sessions: 0,
    createSession: (): Promise<MediaSession> => {
      engine.sessions++;
      return Promise.resolve({
        id: `s${engine.sessions}`,
        allocate: () => (allocateError ? Promise.reject(allocateError) : Promise.resolve({ address: '127.0.0.1', rtpPort: 40000, rtcpPort: 40001 })),
        configure: () => Promise.resolve(),
        stats: () => Promise.resolve({ a: [], b: [] }),
        onEvent: () => undefined,
        close: () => Promise.resolve({ a: [], b: [] }),
      });
    },
    counters: () => ({ sessions: 0, portsInUse: 0 }),
    close: () => Promise.resolve(),
  } as MediaEngine & { sessions: number };
  return engine;
}

describe('b2bua: leg A SDP checked before leg B, port exhaustion', function () {
  this.timeout(10000);
  const { open, peers } = closedAfterEach();

  async function setUp(media: MediaEngine, outboundPort = 9): Promise<{ peer: RawPeer; hooksRun: string[] }> {
    const hooks = createHooks();
    const hooksRun: string[] = [];
    hooks.incomingCall.tapPromise('test', async () => { hooksRun.push('incomingCall'); });
    const s = createB2buaServer({
      config: testConfig({ outboundProxy: `sip:127.0.0.1:${outboundPort};transport=udp` }), hooks, log: silentLogger(), media, version: '9.9.9',
    });
    open.push(s);
    const { transports } = await s.start();
    const port = Number(/:(\d+);/.exec(transports[0]!)![1]);
    const peer = await udpPeer(port);
    peers.push(peer);
    return { peer, hooksRun };
  }

  const refusals: [string, string, RegExp][] = [
    ['every a=crypto line unusable', sdp(`m=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:QUFB\r\na=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:${KEY30}|1:200\r\n`), /no usable a=crypto line/],
    ['49 m-lines', sdp(Array.from({ length: 49 }, (_, i) => `m=audio ${4000 + 2 * i} RTP/AVP 0\r\n`).join('')), /more than 5 m-lines \(max-media-lines\)/],
    ['c= not an address', sdp('m=audio 4000 RTP/AVP 0\r\n', 'c=IN IP4 example.invalid\r\n'), /c= address 'example.invalid' is not an IP4 address literal/],
    ['a=ptime 2^64', sdp('m=audio 4000 RTP/AVP 0\r\na=ptime:18446744073709551616\r\n'), /a=ptime:18446744073709551616 is not 1\.\.1000 ms/],
  ];
  for (const [label, body, why] of refusals) {
    it(`${label}: 488 with Warning 399, no hook, no media session`, async () => {
      const media = countingMedia();
      const { peer, hooksRun } = await setUp(media);
      peer.send(rawInvite(peer.port, { sdp: body }));
      const res = await peer.expect(/^SIP\/2\.0 [2-6]\d\d/);
      assert.match(res, /^SIP\/2\.0 488 Not Acceptable Here/);
      const warning = /^Warning: (.*)\r$/m.exec(res)?.[1];
      assert.ok(warning, res);
      assert.match(warning, /^399 127\.0\.0\.1:\d+ "/);
      assert.match(warning, why);
      assert.deepEqual(hooksRun, [], 'the call never reached the hooks (leg B never created)');
      assert.equal(media.sessions, 0, 'no media session opened');
    });
  }

  it('a valid SDES offer reaches the hooks (the checks do not refuse good offers)', async () => {
    const media = countingMedia();
    const { peer, hooksRun } = await setUp(media);
    peer.send(rawInvite(peer.port, { sdp: sdp(`m=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY30}\r\n`) }));
    await peer.expect(/^SIP\/2\.0 100/);
    for (let i = 0; i < 50 && media.sessions === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(hooksRun, ['incomingCall']);
    assert.equal(media.sessions, 1);
  });

  it('media ports exhausted: 503 with Retry-After, not 500; the phrase names neither the range nor the address', async () => {
    const exhausted = b2buaError('B2BUA_MEDIA_PORTS_EXHAUSTED', { key: 'audio-port', min: 40000, max: 40003, address: '127.0.0.1' });
    const { peer } = await setUp(countingMedia(exhausted));
    peer.send(rawInvite(peer.port, { sdp: sdp('m=audio 4000 RTP/AVP 0\r\n') }));
    const res = await peer.expect(/^SIP\/2\.0 [3-6]\d\d/);
    assert.match(res, /^SIP\/2\.0 503 Service Unavailable\r$/m);
    assert.doesNotMatch(res, /audio-port|40000|127\.0\.0\.1:4000|port pair/, 'our configuration stays in our log');
    assert.match(res, new RegExp(`^Retry-After: ${PORTS_EXHAUSTED_RETRY_AFTER_S}\\r$`, 'm'));
  });

  it('errorHeaders: Warning for SDP problems (double quotes made single, backslashes dropped), Retry-After for exhausted ports, nothing else', () => {
    assert.deepEqual(errorHeaders(b2buaError('B2BUA_SDP_INVALID', { why: 'a "quoted" \\ why' }), 'sip:10.0.0.1:5070;transport=udp'),
      [['warning', '399 10.0.0.1:5070 "a \'quoted\'  why"']]);
    assert.deepEqual(errorHeaders(b2buaError('B2BUA_MEDIA_PORTS_EXHAUSTED', { key: 'video-port', min: 1, max: 2, address: 'x' }), 'sip:h'),
      [['retry-after', '5']]);
    assert.deepEqual(errorHeaders(b2buaError('B2BUA_MEDIA_FAILED', { problem: 'x' }), 'sip:h'), []);
  });
});
