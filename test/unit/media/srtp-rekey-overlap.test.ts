/**
 * b2bsrtp (unprotect) across an SDES re-key, in a real GStreamer pipeline: packets made by our
 * independent TypeScript SRTP (test/e2e/media/srtp-peer.ts) are sent over loopback UDP to
 * `udpsrc ! b2bsrtp ! multifilesink` (one file per decrypted packet); between phases the test
 * waits for the element's counters, so `srtp-params` changes at a known point of the stream.
 *
 * RFC 4568 §7.1.4: the peer keeps protecting with its old key until it has our answer, so after
 * the new key is set, old-key packets are still accepted until the new key has authenticated
 * 16 packets, or 1 s after its first one (core/native/b2bsrtp.c); then the old key is refused.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NATIVE_PLUGIN_DIR } from '../../../core/media/gst/index.js';
import { SrtpContext, type SrtpContextOptions, type Suite } from '../../e2e/media/srtp-peer.js';
import { masterKey, rtpPacket, senderReport } from './srtp-test-packets.js';

import type { Pipeline, UdpSocket } from '../../../core/media/worker/gst.js';

type Gst = typeof import('../../../core/media/worker/gst.js');
let gst: Gst;

/** RETIRE_AFTER_PACKETS and RETIRE_AFTER_US in core/native/b2bsrtp.c. */
const RETIRE_AFTER = 16;
const RETIRE_AFTER_MS = 1000;

interface Counters {
  packets: number;
  authFailures: number;
  replays: number;
  errors: number;
  previousKey: number;
}

class Receiver {
  readonly dir = mkdtempSync(join(tmpdir(), 'b2bsrtp-rekey-'));
  private readonly sock: UdpSocket;
  private readonly pipeline: Pipeline;
  private readonly tx: Socket = createSocket('udp4');

  constructor(params: string) {
    this.sock = gst.UdpSocket.bind('127.0.0.1', 0);
    this.pipeline = gst.Pipeline.parse(
      `udpsrc name=src ! b2bsrtp name=dec mode=unprotect srtp-params="${params}" ! multifilesink location=${this.dir}/out%03d.bin`,
    );
    this.pipeline.element('src').set('socket', this.sock);
    this.pipeline.play();
  }

  counters(): Counters {
    const d = this.pipeline.element('dec');
    return {
      packets: d.number('packets'), authFailures: d.number('auth-failures'), replays: d.number('replays'), errors: d.number('errors'),
      previousKey: d.number('previous-key-packets'),
    };
  }

  rekey(params: string): void {
    this.pipeline.element('dec').set('srtp-params', params);
  }

  /** Sends `wire` in order and waits until the element has handled every packet. */
  async send(wire: Buffer[]): Promise<Counters> {
    const seen = (c: Counters) => c.packets + c.authFailures + c.replays + c.errors;
    const target = seen(this.counters()) + wire.length;
    for (const w of wire) await new Promise<void>((res, rej) => this.tx.send(w, this.sock.port, '127.0.0.1', (e) => (e ? rej(e) : res())));
    const end = Date.now() + 5000;
    for (;;) {
      const c = this.counters();
      if (seen(c) >= target) return c;
      const e = this.pipeline.popError();
      if (e) throw new Error(e);
      if (Date.now() > end) throw new Error(`element handled ${seen(c)} of ${target} packets within 5 s`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** The decrypted packets, in order. */
  out(): Buffer[] {
    return readdirSync(this.dir).filter((f) => f.startsWith('out')).sort().map((f) => readFileSync(join(this.dir, f)));
  }

  close(): void {
    this.pipeline.stop();
    this.sock.close();
    this.tx.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

describe('b2bsrtp: re-key overlap, previous key kept until the new one is in use (real pipeline)', function () {
  this.timeout(20_000);
  const open: Receiver[] = [];
  const receiver = (params: string) => {
    const r = new Receiver(params);
    open.push(r);
    return r;
  };
  /** Old key A (the receiver starts on it) and new key B, each with the peer's SRTP context. */
  const rekeyPair = (suite: Suite, oldKeyOptions: SrtpContextOptions = {}) => {
    const kA = masterKey(suite);
    const kB = masterKey(suite);
    return { kA, kB, a: new SrtpContext(suite, kA, undefined, oldKeyOptions), b: new SrtpContext(suite, kB), rx: receiver(`${suite} ${kA}`) };
  };
  before(async () => {
    process.env['GST_PLUGIN_PATH'] = [NATIVE_PLUGIN_DIR, process.env['GST_PLUGIN_PATH']].filter(Boolean).join(':');
    gst = await import('../../../core/media/worker/gst.js');
    gst.initGst();
  });
  afterEach(() => {
    for (const r of open.splice(0)) r.close();
  });

  for (const suite of ['AES_CM_128_HMAC_SHA1_80', 'AEAD_AES_128_GCM'] as const) {
    it(`${suite} RTP: old-key packets accepted and decrypted until ${RETIRE_AFTER} new-key packets, then refused; replays dropped`, async () => {
      const ssrc = 0x1234;
      const { kB, a, b, rx } = rekeyPair(suite);
      const plain = new Map<number, Buffer>();
      const pkt = (ctx: SrtpContext, seq: number) => {
        const p = rtpPacket(ssrc, seq);
        plain.set(seq, p);
        return ctx.protectRtp(p);
      };
      const expected: Buffer[] = [];
      const accept = (seq: number) => expected.push(plain.get(seq)!);

      let c = await rx.send([1, 2, 3, 4, 5].map((s) => pkt(a, s)));
      [1, 2, 3, 4, 5].forEach(accept);
      assert.deepEqual(c, { packets: 5, authFailures: 0, replays: 0, errors: 0, previousKey: 0 });

      rx.rekey(`${suite} ${kB}`); // the offer arrived; the peer has not got our answer yet
      const a6 = pkt(a, 6);
      const a7 = pkt(a, 7);
      const b9 = pkt(b, 9);
      // In flight under the old key, the first new-key packet, a reordered old-key straggler, replays of both.
      c = await rx.send([a6, a7, b9, pkt(a, 8), a7, b9]);
      [6, 7, 9, 8].forEach(accept);
      assert.deepEqual(c, { packets: 9, authFailures: 0, replays: 2, errors: 0, previousKey: 3 });

      // RETIRE_AFTER - 2 more new-key packets: the new key has authenticated RETIRE_AFTER - 1.
      const more = Array.from({ length: RETIRE_AFTER - 2 }, (_, i) => 10 + i);
      c = await rx.send(more.map((s) => pkt(b, s)));
      more.forEach(accept);
      let seq = 10 + more.length;
      // Still within the overlap: an old-key packet passes.
      c = await rx.send([pkt(a, seq)]);
      accept(seq++);
      assert.deepEqual({ packets: c.packets, previousKey: c.previousKey, authFailures: c.authFailures }, { packets: 9 + more.length + 1, previousKey: 4, authFailures: 0 });
      // The RETIRE_AFTER-th new-key packet retires the old key: the next old-key packet is refused.
      c = await rx.send([pkt(b, seq)]);
      accept(seq++);
      const before = c.packets;
      c = await rx.send([pkt(a, seq++)]);
      assert.deepEqual({ packets: c.packets, authFailures: c.authFailures, previousKey: c.previousKey }, { packets: before, authFailures: 1, previousKey: 4 });
      // The new key goes on working; a replay of a new-key packet is still dropped.
      const last = pkt(b, seq);
      c = await rx.send([last, last]);
      accept(seq);
      assert.deepEqual(c, { packets: before + 1, authFailures: 1, replays: 3, errors: 0, previousKey: 4 });

      assert.deepEqual(rx.out(), expected, 'every accepted packet decrypted to what was sent, in order');
    });
  }

  it('SRTCP under rtcp-mux, _32 suite: old key with the 32-bit tag (liblinphone) still accepted, new key with the RFC tag', async () => {
    const suite = 'AES_CM_128_HMAC_SHA1_32' as const;
    const { kB, a, b, rx } = rekeyPair(suite, { srtcpTagLength: 4 });
    const sr = [1, 2, 3, 4, 5, 6].map((n) => senderReport(0x77, n));
    const rtp = [1, 2, 3].map((s) => rtpPacket(0x77, s));
    let c = await rx.send([a.protectRtcp(sr[0]!), a.protectRtp(rtp[0]!)]);
    assert.deepEqual(c, { packets: 2, authFailures: 0, replays: 0, errors: 0, previousKey: 0 });
    rx.rekey(`${suite} ${kB}`);
    const oldSr = a.protectRtcp(sr[1]!);
    // Old-key SRTCP (32-bit tag) and RTP in flight, then new-key SRTCP (80-bit tag), then an old-key SRTCP replay.
    c = await rx.send([oldSr, a.protectRtp(rtp[1]!), b.protectRtcp(sr[2]!), b.protectRtp(rtp[2]!), a.protectRtcp(sr[3]!), oldSr]);
    assert.deepEqual(c, { packets: 7, authFailures: 0, replays: 1, errors: 0, previousKey: 3 });
    assert.deepEqual(rx.out(), [sr[0], rtp[0], sr[1], rtp[1], sr[2], rtp[2], sr[3]]);
    // A corrupted packet is refused by both keys and counted once as an authentication failure.
    const bad = Buffer.from(b.protectRtcp(sr[4]!));
    bad[bad.length - 1]! ^= 1;
    c = await rx.send([bad]);
    assert.deepEqual({ packets: c.packets, authFailures: c.authFailures }, { packets: 7, authFailures: 1 });
  });

  it('setting the same key again neither drops the overlap nor makes that key its own fallback', async () => {
    const suite = 'AES_CM_128_HMAC_SHA1_80' as const;
    const { kA, kB, a, b, rx } = rekeyPair(suite);
    const p1 = a.protectRtp(rtpPacket(5, 1));
    await rx.send([p1]);
    rx.rekey(`${suite} ${kA}`); // same key: same session and replay database (no fresh one to replay into)
    let c = await rx.send([p1]);
    assert.deepEqual({ packets: c.packets, replays: c.replays, authFailures: c.authFailures, previousKey: c.previousKey }, { packets: 1, replays: 1, authFailures: 0, previousKey: 0 });
    rx.rekey(`${suite} ${kB}`);
    rx.rekey(`${suite} ${kB}`); // set again (e.g. offer then answer): A is still the fallback
    c = await rx.send([a.protectRtp(rtpPacket(5, 2)), b.protectRtp(rtpPacket(5, 3))]);
    assert.deepEqual({ packets: c.packets, authFailures: c.authFailures, previousKey: c.previousKey }, { packets: 3, authFailures: 0, previousKey: 1 });
  });

  it(`a sparse stream: the old key is retired ${RETIRE_AFTER_MS} ms after the new key's first packet`, async () => {
    const suite = 'AES_CM_128_HMAC_SHA1_80' as const;
    const { kB, a, b, rx } = rekeyPair(suite);
    await rx.send([a.protectRtcp(senderReport(6, 1))]);
    rx.rekey(`${suite} ${kB}`);
    // However long the peer takes to switch, its old key is accepted until then.
    await new Promise((r) => setTimeout(r, RETIRE_AFTER_MS + 100));
    let c = await rx.send([a.protectRtcp(senderReport(6, 2)), b.protectRtcp(senderReport(6, 3)), a.protectRtcp(senderReport(6, 4))]);
    assert.deepEqual({ packets: c.packets, authFailures: c.authFailures, previousKey: c.previousKey }, { packets: 4, authFailures: 0, previousKey: 2 });
    await new Promise((r) => setTimeout(r, RETIRE_AFTER_MS + 100));
    c = await rx.send([a.protectRtcp(senderReport(6, 5)), b.protectRtcp(senderReport(6, 6))]);
    assert.deepEqual({ packets: c.packets, authFailures: c.authFailures, previousKey: c.previousKey }, { packets: 5, authFailures: 1, previousKey: 2 });
  });
});
