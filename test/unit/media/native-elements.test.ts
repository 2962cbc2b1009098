/**
 * The C elements of core/native (b2bsrtp, b2bingress) in real GStreamer pipelines (no network):
 * RTP from audiotestsrc ! mulawenc ! rtppcmupay, counters read back like the worker does.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { NATIVE_PLUGIN_DIR } from '../../../core/media/gst/index.js';
import { SRTP_KEY_SALT_BYTES } from '../../../core/media/sdes.js';
import type { SrtpSuite } from '../../../core/plugin-api/index.js';

type Gst = typeof import('../../../core/media/worker/gst.js');
let gst: Gst;

async function run(description: string, timeoutMs = 5000): Promise<import('../../../core/media/worker/gst.js').Pipeline> {
  const p = gst.Pipeline.parse(description);
  p.play();
  const end = Date.now() + timeoutMs;
  for (;;) {
    const end_ = p.popEnd();
    if (end_ === 'eos') return p;
    if (end_) throw new Error(end_.error);
    if (Date.now() > end) throw new Error(`no EOS within ${timeoutMs} ms: ${description}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const rtp = (n: number, ssrc: number) => `audiotestsrc num-buffers=${n} samplesperbuffer=160 ! mulawenc ! rtppcmupay ssrc=${ssrc}`;
const key = (suite: SrtpSuite) => `${suite} ${randomBytes(SRTP_KEY_SALT_BYTES[suite]).toString('base64')}`;

describe('native GStreamer elements (core/native)', function () {
  this.timeout(20_000);
  let suites: string[];
  before(async () => {
    process.env['GST_PLUGIN_PATH'] = [NATIVE_PLUGIN_DIR, process.env['GST_PLUGIN_PATH']].filter(Boolean).join(':');
    gst = await import('../../../core/media/worker/gst.js');
    suites = gst.initGst().srtpSuites;
  });

  it('b2bsrtp reports the suites libsrtp can do', () => {
    for (const s of ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32', 'AES_256_CM_HMAC_SHA1_80', 'AEAD_AES_128_GCM', 'AEAD_AES_256_GCM']) {
      assert.ok(suites.includes(s), `${s} in ${suites.join(' ')}`);
    }
  });

  for (const suite of ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32', 'AES_256_CM_HMAC_SHA1_32', 'AEAD_AES_256_GCM'] as const) {
    it(`b2bsrtp protects and unprotects ${suite} round trip`, async () => {
      const k = key(suite);
      const p = await run(`${rtp(30, 1)} ! b2bsrtp name=enc srtp-params="${k}" ! b2bsrtp name=dec mode=unprotect srtp-params="${k}" ! fakesink`);
      assert.equal(p.element('enc').number('packets'), 30);
      assert.equal(p.element('dec').number('packets'), 30);
      assert.equal(p.element('dec').number('auth-failures'), 0);
      assert.ok(p.element('enc').number('bytes') > p.element('dec').number('bytes'), 'SRTP adds an authentication tag');
      p.stop();
    });
  }

  it('b2bsrtp carries an MKI when the params give one (and the receiver needs it)', async () => {
    const k = key('AES_CM_128_HMAC_SHA1_80');
    const p = await run(`${rtp(10, 1)} ! b2bsrtp name=enc srtp-params="${k} 258:2" ! tee name=t ! queue ! b2bsrtp name=ok mode=unprotect srtp-params="${k} 258:2" ! fakesink  t. ! queue ! b2bsrtp name=nomki mode=unprotect srtp-params="${k}" ! fakesink`);
    assert.equal(p.element('ok').number('packets'), 10);
    assert.equal(p.element('nomki').number('packets'), 0);
    assert.equal(p.element('nomki').number('auth-failures'), 10);
    p.stop();
    const bad = await run(`${rtp(4, 1)} ! b2bsrtp name=enc srtp-params="${k} 300:1" ! fakesink`);
    assert.equal(bad.element('enc').number('errors'), 4, 'an MKI value that does not fit its length is refused');
    bad.stop();
  });

  it('b2bsrtp drops and counts authentication failures (wrong key)', async () => {
    const p = await run(`${rtp(25, 1)} ! b2bsrtp srtp-params="${key('AES_CM_128_HMAC_SHA1_80')}" ! b2bsrtp name=dec mode=unprotect srtp-params="${key('AES_CM_128_HMAC_SHA1_80')}" ! fakesink`);
    assert.equal(p.element('dec').number('auth-failures'), 25);
    assert.equal(p.element('dec').number('packets'), 0);
    p.stop();
  });

  it('b2bsrtp drops and counts replays (every packet duplicated)', async () => {
    const k = key('AES_CM_128_HMAC_SHA1_80');
    const p = await run(`${rtp(20, 1)} ! b2bsrtp srtp-params="${k}" ! tee name=t ! queue ! funnel name=f ! b2bsrtp name=dec mode=unprotect srtp-params="${k}" ! fakesink  t. ! queue ! f.`);
    assert.equal(p.element('dec').number('packets'), 20);
    assert.equal(p.element('dec').number('replays'), 20);
    p.stop();
  });

  it('b2bsrtp decrypts SSRCs it was never told about (SSRC change, no a=ssrc)', async () => {
    const k = key('AEAD_AES_128_GCM');
    const p = await run(`${rtp(15, 0x11)} ! funnel name=f ! b2bsrtp srtp-params="${k}" ! b2bsrtp name=dec mode=unprotect srtp-params="${k}" ! fakesink  ${rtp(15, 0x22)} ! f.`);
    assert.equal(p.element('dec').number('packets'), 30);
    assert.equal(p.element('dec').number('auth-failures'), 0);
    p.stop();
  });

  it('b2bsrtp passes plain RTP through when unkeyed and drops (counted) when its key is unusable', async () => {
    const p = await run(`${rtp(12, 1)} ! b2bsrtp name=plain ! b2bsrtp name=bad srtp-params="AES_CM_128_HMAC_SHA1_80 AAAA" ! fakesink`);
    assert.equal(p.element('plain').number('packets'), 12);
    assert.equal(p.element('bad').number('errors'), 12);
    assert.equal(p.element('bad').number('packets'), 0);
    p.stop();
  });

  it('b2bingress accepts nothing without a known source address (no RTP Bleed) and counts it', async () => {
    const p = await run(`${rtp(10, 1)} ! b2bingress name=in remote-address=127.0.0.1 remote-port=4000 ! fakesink`);
    assert.equal(p.element('in').number('rejected'), 10);
    assert.equal(p.element('in').number('packets-in'), 0);
    p.stop();
  });
});
