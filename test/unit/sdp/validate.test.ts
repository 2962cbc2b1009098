import assert from 'node:assert/strict';
import { parseCrypto } from '../../../core/media/sdes.js';
import { checkSdpText, readPeerSdp } from '../../../core/sdp/validate.js';

const KEY30 = Buffer.alloc(30, 7).toString('base64');
const LIMITS = { maxMediaLines: 5 };

function sdp(media: string, session = 'c=IN IP4 192.0.2.1\r\n'): string {
  return `v=0\r\no=alice 1 2 IN IP4 192.0.2.1\r\ns=-\r\n${session}t=0 0\r\n${media}`;
}
const audio = (extra = '', proto = 'RTP/AVP', formats = '0 101'): string =>
  `m=audio 4000 ${proto} ${formats}\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n${extra}`;

/** readPeerSdp's verdict: 'ok', or the error code and reason. */
function verdict(text: string, limits = LIMITS): string {
  const r = readPeerSdp(text, limits);
  return r.ok ? 'ok' : `${r.error.code}: ${r.error.reason}`;
}

describe('sdp validation (before leg B)', () => {
  it('accepts what real clients send: plain, SDES, DTLS, ZRTP, linphone audio+video+text, hold', () => {
    const linphone = sdp(`${audio('a=ptime:20\r\na=maxptime:240\r\nb=AS:80\r\n')}m=video 4002 RTP/AVPF 96\r\nb=TIAS:1500000\r\na=rtpmap:96 VP8/90000\r\n` +
      'a=rtcp-fb:96 nack pli\r\na=rtcp:4003 IN IP4 192.0.2.1\r\nm=text 4004 RTP/AVP 98\r\na=rtpmap:98 t140/1000\r\n');
    assert.equal(verdict(linphone), 'ok');
    assert.equal(verdict(sdp(audio(`a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY30}|2^31|1:4\r\n`, 'RTP/SAVP'))), 'ok');
    assert.equal(verdict(sdp(audio('a=fingerprint:sha-256 AB:CD\r\na=setup:actpass\r\n', 'UDP/TLS/RTP/SAVPF'))), 'ok');
    assert.equal(verdict(sdp(audio('a=zrtp-hash:1.10 0123abcd\r\n'))), 'ok');
    assert.equal(verdict(sdp(audio(), 'c=IN IP4 0.0.0.0\r\n')), 'ok');
    assert.equal(verdict(sdp(audio(), 'c=IN IP6 2001:db8::1\r\n')), 'ok');
    assert.equal(verdict(sdp('m=audio 0 RTP/AVP 0\r\n')), 'ok', 'a refused stream');
  });

  it('refuses c= that is not an IP literal of its address type', () => {
    assert.match(verdict(sdp(audio(), 'c=IN IP4 media.example.com\r\n')), /^B2BUA_SDP_INVALID: session: c= address "media.example.com" is not an IP4 address literal/);
    assert.match(verdict(sdp(audio(), 'c=IN IP4 2001:db8::1\r\n')), /is not an IP4 address literal/);
    assert.match(verdict(sdp(audio(), 'c=IN IP6 192.0.2.1\r\n')), /is not an IP6 address literal/);
    assert.match(verdict(sdp(audio(), 'c=IN IP4 224.2.1.1/127\r\n')), /"224\.2\.1\.1\/127" is not an IP4/);
    assert.match(verdict(sdp(`${audio()}c=IN IP4 not-an-address\r\n`)), /m-line 0: c= address/);
    assert.match(verdict(sdp(audio(), 'c=IN\r\n')), /is not "IN IP4\|IP6 <address>"/);
  });

  it('refuses ports outside 0..65535, port counts and payload types outside 0..127', () => {
    assert.match(verdict(sdp('m=audio 70000 RTP/AVP 0\r\n')), /m-line 0: port "70000" is not 0\.\.65535/);
    assert.match(verdict(sdp('m=audio 4000/2 RTP/AVP 0\r\n')), /port count "2" is not supported/);
    assert.match(verdict(sdp('m=audio 4000 RTP/AVP 0 128\r\n')), /payload type outside 0\.\.127/);
    assert.match(verdict(sdp(audio('a=rtcp:99999\r\n'))), /a=rtcp port "99999"/);
  });

  it('refuses more m-lines than max-media-lines (49 m-lines; the cap is configurable)', () => {
    const many = sdp(Array.from({ length: 49 }, (_, i) => `m=audio ${4000 + 2 * i} RTP/AVP 0\r\n`).join(''));
    assert.match(verdict(many), /^B2BUA_SDP_INVALID: more than 5 m-lines \(max-media-lines\)$/);
    assert.equal(verdict(many, { maxMediaLines: 49 }), 'ok');
    const six = sdp(Array.from({ length: 6 }, (_, i) => `m=audio ${4000 + 2 * i} RTP/AVP 0\r\n`).join(''));
    assert.match(verdict(six), /more than 5 m-lines/);
    assert.equal(verdict(six, { maxMediaLines: 6 }), 'ok');
  });

  it('refuses ptime / maxptime out of range (2^64 included), and bad rtpmap clock rates, channels, fmtp', () => {
    assert.match(verdict(sdp(audio('a=ptime:18446744073709551616\r\n'))), /m-line 0: a=ptime:18446744073709551616 is not 1\.\.1000 ms/);
    assert.match(verdict(sdp(audio('a=ptime:0\r\n'))), /a=ptime:0 is not/);
    assert.match(verdict(sdp(audio('a=ptime:-20\r\n'))), /a=ptime:-20 is not/);
    assert.match(verdict(sdp(audio('a=maxptime:5000\r\n'))), /a=maxptime:5000 is not/);
    assert.match(verdict(sdp('m=audio 4000 RTP/AVP 96\r\na=rtpmap:96 opus/0\r\n')), /clock rate 0 is not 1\.\.192000/);
    assert.match(verdict(sdp('m=audio 4000 RTP/AVP 96\r\na=rtpmap:96 opus/4294967296/2\r\n')), /clock rate 4294967296/);
    assert.match(verdict(sdp('m=audio 4000 RTP/AVP 96\r\na=rtpmap:96 opus/48000/200\r\n')), /channels 200 is not 1\.\.16/);
    assert.match(verdict(sdp('m=audio 4000 RTP/AVP 96\r\na=rtpmap:300 opus/48000\r\n')), /a=rtpmap payload type 300/);
    assert.match(verdict(sdp('m=audio 4000 RTP/AVP 96\r\na=rtpmap:96 opus\r\n')), /is not "<pt> <name>\/<rate>/);
    assert.match(verdict(sdp(`m=audio 4000 RTP/AVP 96\r\na=fmtp:96 ${'x'.repeat(1025)}\r\n`)), /a=fmtp parameters longer than 1024/);
    assert.match(verdict(sdp('m=audio 4000 RTP/AVP 96\r\na=fmtp:abc x=1\r\n')), /a=fmtp payload type "abc"/);
  });

  it('refuses bandwidth that is not a number in range, too many attributes and too long lines', () => {
    assert.match(verdict(sdp(audio('b=AS:99999999999\r\n'))), /b=AS:99999999999 is not/);
    assert.match(verdict(sdp(audio('b=AS:fast\r\n'))), /b=AS:fast is not/);
    assert.match(verdict(sdp(audio('a=x:1\r\n'.repeat(130)))), /m-line 0: more than 128 a= lines/);
    assert.match(verdict(sdp(audio(`a=x-long:${'y'.repeat(3000)}\r\n`))), /a line is longer than 2048/);
  });

  it('refuses a secure profile without usable keying (never read as plain RTP)', () => {
    const refusals = {
      'short key': `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${Buffer.alloc(10, 1).toString('base64')}\r\n`,
      'bad base64': 'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAAA=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n',
      'unknown suite': `a=crypto:1 F8_128_HMAC_SHA1_80 inline:${KEY30}\r\n`,
      'huge MKI': `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY30}|2^31|99999999999999999999:4\r\n`,
      'MKI length 200': `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY30}|1:200\r\n`,
      'lifetime 2^64': `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY30}|2^64\r\n`,
      'lifetime 0': `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY30}|0\r\n`,
      'no crypto line': '',
    };
    for (const [label, lines] of Object.entries(refusals)) {
      assert.match(verdict(sdp(audio(lines, 'RTP/SAVP'))), /^B2BUA_SDP_INVALID: m-line 0 \(RTP\/SAVP\): no usable a=crypto line/, label);
    }
    // one good line among bad ones is enough
    assert.equal(verdict(sdp(audio(`${refusals['short key']}${refusals['huge MKI']}a=crypto:3 AES_CM_128_HMAC_SHA1_32 inline:${KEY30}\r\n`, 'RTP/SAVPF'))), 'ok');
    assert.match(verdict(sdp(audio('a=setup:actpass\r\n', 'UDP/TLS/RTP/SAVP'))), /DTLS-SRTP profile without a=fingerprint/);
  });

  it('refuses audio and video in different encryptions (one stream would be answered without its security)', () => {
    const mixed = sdp(`m=audio 4000 RTP/AVP 0\r\nm=video 4002 RTP/SAVP 96\r\na=rtpmap:96 VP8/90000\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY30}\r\n`);
    assert.match(verdict(mixed), /different encryptions \(none, sdes\)/);
  });

  it('checks the text before parsing: invalid is 488 (B2BUA_SDP_INVALID), unreadable stays B2BUA_SDP_UNPARSABLE', () => {
    const bad = readPeerSdp(sdp(audio(), 'c=IN IP4 example.com\r\n'), LIMITS);
    assert.ok(!bad.ok);
    assert.equal(bad.error.status, 488);
    const unreadable = readPeerSdp('hello', LIMITS);
    assert.ok(!unreadable.ok);
    assert.equal(unreadable.error.code, 'B2BUA_SDP_UNPARSABLE');
    assert.equal(unreadable.error.status, 400);
    const inDialog = readPeerSdp('hello', LIMITS, 488);
    assert.ok(!inDialog.ok);
    assert.equal(inDialog.error.status, 488);
    assert.deepEqual(checkSdpText(sdp(audio()), LIMITS), { ok: true });
  });
});

describe('SDES a=crypto parsing limits', () => {
  const parse = (config: string, suite = 'AES_CM_128_HMAC_SHA1_80') => parseCrypto({ id: 1, suite, config });
  it('keeps valid MKI and lifetime, refuses what does not fit RFC 4568 / RFC 3711', () => {
    const good = parse(`inline:${KEY30}|2^20|1:4`);
    assert.ok(good.ok);
    assert.deepEqual(good.line.mki, { value: 1, length: 4 });
    assert.equal(good.line.lifetime, '2^20');
    assert.ok(parse(`inline:${KEY30.replace(/=+$/, '')}`).ok, 'padding may be left out');
    for (const [config, why] of [
      [`inline:${KEY30}|256:1`, /does not fit in 1 bytes/],
      [`inline:${KEY30}|1:0`, /MKI length 0 is not 1\.\.128/],
      [`inline:${KEY30}|1:129`, /MKI length 129/],
      [`inline:${KEY30}|1234567890123456:8`, /too large/],
      [`inline:${KEY30}|2^49`, /lifetime "2\^49" is not 1\.\.2\^48/],
      [`inline:${KEY30}|281474976710657`, /lifetime/],
      ['inline:AA==AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', /is not base64/],
    ] as const) {
      const r = parse(config);
      assert.ok(!r.ok, config);
      assert.match(r.error, why, config);
    }
  });
});
