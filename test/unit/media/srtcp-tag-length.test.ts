/**
 * b2bsrtp (unprotect) and the SRTCP tag length of the _32 suites, in real GStreamer pipelines:
 * SRTCP packets made by our independent TypeScript SRTP (test/e2e/media/srtp-peer.ts) are
 * written one per file, read back one buffer per file by multifilesrc, decrypted by b2bsrtp,
 * and written one per file by multifilesink so the plaintext can be compared.
 *
 * liblinphone protects SRTCP with the 32-bit tag under AES_CM_128_HMAC_SHA1_32 and
 * AES_256_CM_HMAC_SHA1_32; RFC 4568 says 80 bits. The element accepts both for those suites.
 */
import assert from 'node:assert/strict';
import { SrtpContext, type Suite } from '../../e2e/media/srtp-peer.js';
import { masterKey, senderReport } from './srtp-test-packets.js';
import { loadGst, removePacketDirs, throughFiles, type Gst } from './packet-files.js';

let gst: Gst;

interface Result {
  packets: number;
  authFailures: number;
  replays: number;
  errors: number;
  shortTag: boolean;
  /** The decrypted packets, in order. */
  out: Buffer[];
}

/** Feeds `wire` (one buffer each, in order) to an unprotecting b2bsrtp keyed with `suite keySalt`. */
async function unprotect(suite: Suite, keySalt: string, wire: Buffer[]): Promise<Result> {
  const { pipeline: p, out } = await throughFiles(gst, wire, `b2bsrtp name=dec mode=unprotect srtp-params="${suite} ${keySalt}"`);
  const dec = p.element('dec');
  const r: Result = {
    packets: dec.number('packets'), authFailures: dec.number('auth-failures'), replays: dec.number('replays'), errors: dec.number('errors'),
    shortTag: dec.string('srtcp-short-tag') === 'true',
    out,
  };
  p.stop();
  return r;
}

describe('b2bsrtp: SRTCP tag length with the _32 suites (real pipelines)', function () {
  this.timeout(20_000);
  before(async () => {
    gst = await loadGst();
  });
  after(removePacketDirs);

  for (const suite of ['AES_CM_128_HMAC_SHA1_32', 'AES_256_CM_HMAC_SHA1_32'] as const) {
    it(`${suite}: accepts SRTCP with the 32-bit tag (liblinphone) as good and decrypts it`, async () => {
      const k = masterKey(suite);
      const peer = new SrtpContext(suite, k, undefined, { srtcpTagLength: 4 });
      const plain = [1, 2, 3, 4, 5].map((n) => senderReport(0xa1, n));
      const wire = plain.map((pk) => peer.protectRtcp(pk));
      assert.equal(wire[0]!.length, 52 + 4 + 4, 'E||index then a 4-byte tag');
      const r = await unprotect(suite, k, wire);
      assert.deepEqual({ packets: r.packets, authFailures: r.authFailures, errors: r.errors, shortTag: r.shortTag }, { packets: 5, authFailures: 0, errors: 0, shortTag: true });
      assert.deepEqual(r.out, plain, 'decrypted to the sender reports that were sent');
    });

    it(`${suite}: still accepts the RFC 4568 80-bit SRTCP tag`, async () => {
      const k = masterKey(suite);
      const peer = new SrtpContext(suite, k);
      const plain = [1, 2, 3].map((n) => senderReport(0xb2, n));
      const r = await unprotect(suite, k, plain.map((pk) => peer.protectRtcp(pk)));
      assert.deepEqual({ packets: r.packets, authFailures: r.authFailures, shortTag: r.shortTag }, { packets: 3, authFailures: 0, shortTag: false });
      assert.deepEqual(r.out, plain);
    });
  }

  it('counts a corrupted 32-bit-tag SRTCP packet as an authentication failure, before and after the variant is known', async () => {
    const suite = 'AES_CM_128_HMAC_SHA1_32' as const;
    const k = masterKey(suite);
    const peer = new SrtpContext(suite, k, undefined, { srtcpTagLength: 4 });
    const wire = [1, 2, 3, 4].map((n) => peer.protectRtcp(senderReport(0xc3, n)));
    const flip = (b: Buffer, at: number): Buffer => {
      const c = Buffer.from(b);
      c[at] = c[at]! ^ 0x01;
      return c;
    };
    // Bad tag first (neither variant decided yet), then good ones, then a bad payload and a bad tag.
    const r = await unprotect(suite, k, [flip(wire[0]!, wire[0]!.length - 1), wire[1]!, wire[2]!, flip(wire[3]!, 20), flip(peer.protectRtcp(senderReport(0xc3, 5)), 59)]);
    assert.deepEqual({ packets: r.packets, authFailures: r.authFailures, errors: r.errors, shortTag: r.shortTag }, { packets: 2, authFailures: 3, errors: 0, shortTag: true });
  });

  it('keeps replay protection: a replay is dropped, and an 80-bit packet truncated to 32 bits does not pass again', async () => {
    const suite = 'AES_256_CM_HMAC_SHA1_32' as const;
    const k = masterKey(suite);
    const short = new SrtpContext(suite, k, undefined, { srtcpTagLength: 4 });
    const a = [1, 2].map((n) => short.protectRtcp(senderReport(0xd4, n)));
    const r1 = await unprotect(suite, k, [a[0]!, a[1]!, a[0]!]);
    assert.deepEqual({ packets: r1.packets, replays: r1.replays, shortTag: r1.shortTag }, { packets: 2, replays: 1, shortTag: true });
    // The 32-bit tag is the first 4 bytes of the 80-bit one: once the 80-bit variant has been
    // accepted, its packets cut to 32 bits must not be accepted a second time.
    const rfc = new SrtpContext(suite, k);
    const b = [1, 2].map((n) => rfc.protectRtcp(senderReport(0xd5, n)));
    const truncated = b.map((w) => w.subarray(0, w.length - 6));
    const r2 = await unprotect(suite, k, [b[0]!, b[1]!, truncated[0]!, truncated[1]!]);
    assert.equal(r2.packets, 2);
    assert.equal(r2.shortTag, false);
    assert.equal(r2.authFailures + r2.replays + r2.errors, 2, 'both truncated copies dropped');
  });

  for (const suite of ['AES_CM_128_HMAC_SHA1_80', 'AES_256_CM_HMAC_SHA1_80'] as const) {
    it(`${suite}: does NOT accept a 32-bit SRTCP tag (every packet dropped and counted)`, async () => {
      const k = masterKey(suite);
      const peer = new SrtpContext(suite, k, undefined, { srtcpTagLength: 4 });
      const r = await unprotect(suite, k, [1, 2, 3].map((n) => peer.protectRtcp(senderReport(0xe5, n))));
      assert.deepEqual({ packets: r.packets, out: r.out.length, shortTag: r.shortTag }, { packets: 0, out: 0, shortTag: false });
      // Read with an 80-bit tag, the E||index word lands in the ciphertext: libsrtp then fails the
      // tag (auth-failures) or, when that word's E bit is 0, refuses an unencrypted packet (errors).
      assert.equal(r.authFailures + r.errors, 3, `auth-failures ${r.authFailures} + errors ${r.errors}`);
      // Control: the same element takes the RFC form of the same key.
      const ok = await unprotect(suite, k, [new SrtpContext(suite, k).protectRtcp(senderReport(0xe5, 9))]);
      assert.equal(ok.packets, 1);
    });
  }
});
