/**
 * b2bsocketsrc / b2bsocketsink (core/native): a leg's UDP socket read by the process's one poller thread and written
 * without a GstBaseSink, in real pipelines on loopback; and b2bsrtp's AES-CM / HMAC-SHA1 done by OpenSSL
 * (core/native/b2bsrtpcrypto.c) and interoperating with an independent SRTP implementation (node:crypto).
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { NATIVE_PLUGIN_DIR } from '../../../core/media/gst/index.js';
import { SrtpContext } from '../../e2e/media/srtp-peer.js';
import { rtpPacket } from './srtp-test-packets.js';

type Gst = typeof import('../../../core/media/worker/gst.js');
type Pipeline = import('../../../core/media/worker/gst.js').Pipeline;
type UdpSocket = import('../../../core/media/worker/gst.js').UdpSocket;
let gst: Gst;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const threads = () => readdirSync('/proc/self/task').length;

async function receiver(): Promise<{ socket: dgram.Socket; got: { msg: Buffer; port: number }[] }> {
  const socket = dgram.createSocket('udp4');
  const got: { msg: Buffer; port: number }[] = [];
  socket.on('message', (msg, rinfo) => got.push({ msg, port: rinfo.port }));
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  return { socket, got };
}

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await sleep(10);
}

describe('b2bsocketsrc / b2bsocketsink: one poller thread per process, no preroll (real pipelines)', function () {
  this.timeout(20_000);
  const cleanup: (() => void)[] = [];
  before(async () => {
    process.env['GST_PLUGIN_PATH'] = [NATIVE_PLUGIN_DIR, process.env['GST_PLUGIN_PATH']].filter(Boolean).join(':');
    gst = await import('../../../core/media/worker/gst.js');
    gst.initGst();
  });
  afterEach(() => {
    for (const c of cleanup.splice(0).reverse()) c();
  });

  /** socket ! sink on the same socket (symmetric), sending to `to`. */
  function relay(to?: number): { pipeline: Pipeline; socket: UdpSocket } {
    const socket = gst.UdpSocket.bind('127.0.0.1', 0);
    const pipeline = gst.Pipeline.parse('b2bsocketsrc name=s ! b2bsocketsink name=k');
    pipeline.element('s').set('socket', socket);
    pipeline.element('k').set('socket', socket);
    if (to !== undefined) {
      pipeline.element('k').set('host', '127.0.0.1');
      pipeline.element('k').set('port', to);
    }
    cleanup.push(() => {
      pipeline.dispose();
      socket.close();
    });
    return { pipeline, socket };
  }

  it('forwards every datagram intact, from the leg\'s own socket, and counts it', async () => {
    const rx = await receiver();
    cleanup.push(() => rx.socket.close());
    const { pipeline, socket } = relay(rx.socket.address().port);
    pipeline.play();
    const tx = dgram.createSocket('udp4');
    cleanup.push(() => tx.close());
    const sent = Array.from({ length: 60 }, (_, i) => randomBytes(20 + i * 7));
    for (const m of sent) tx.send(m, socket.port, '127.0.0.1');
    await until(() => rx.got.length >= sent.length);
    assert.equal(rx.got.length, sent.length);
    assert.deepEqual(rx.got.map((g) => g.msg.toString('hex')).sort(), sent.map((m) => m.toString('hex')).sort());
    assert.ok(rx.got.every((g) => g.port === socket.port), 'sent from the leg\'s socket (symmetric RTP)');
    assert.equal(pipeline.element('s').number('packets-received'), sent.length);
    assert.equal(pipeline.element('k').number('packets-sent'), sent.length);
    assert.ok(pipeline.element('s').number('wakeups') >= 1);
  });

  it('sends nothing before host and port are set (no default address), then follows a new destination', async () => {
    const rx1 = await receiver();
    const rx2 = await receiver();
    cleanup.push(() => { rx1.socket.close(); rx2.socket.close(); });
    const { pipeline, socket } = relay();
    pipeline.play();
    const tx = dgram.createSocket('udp4');
    cleanup.push(() => tx.close());
    for (let i = 0; i < 5; i++) tx.send(Buffer.from(`x${i}`), socket.port, '127.0.0.1');
    await until(() => pipeline.element('k').number('dropped-no-destination') >= 5);
    assert.equal(pipeline.element('k').number('dropped-no-destination'), 5);
    const k = pipeline.element('k');
    k.set('host', '127.0.0.1');
    k.set('port', rx1.socket.address().port);
    tx.send(Buffer.from('one'), socket.port, '127.0.0.1');
    await until(() => rx1.got.length >= 1);
    k.set('port', rx2.socket.address().port);
    tx.send(Buffer.from('two'), socket.port, '127.0.0.1');
    await until(() => rx2.got.length >= 1);
    assert.deepEqual(rx1.got.map((g) => g.msg.toString()), ['one']);
    assert.deepEqual(rx2.got.map((g) => g.msg.toString()), ['two']);
    k.set('host', 'not-an-address');
    tx.send(Buffer.from('three'), socket.port, '127.0.0.1');
    await until(() => k.number('dropped-no-destination') >= 6);
    assert.equal(k.number('dropped-no-destination'), 6, 'a host that is not an IP literal sends nothing (no resolution)');
  });

  it('40 sockets in 40 pipelines add no thread per socket (udpsrc would add 40)', async () => {
    relay().pipeline.play(); // the poller thread exists from here on
    await sleep(50);
    const before = threads();
    const rx = await receiver();
    cleanup.push(() => rx.socket.close());
    const legs = Array.from({ length: 40 }, () => relay(rx.socket.address().port));
    for (const l of legs) l.pipeline.play();
    await sleep(100);
    const added = threads() - before;
    const tx = dgram.createSocket('udp4');
    cleanup.push(() => tx.close());
    for (const l of legs) tx.send(Buffer.from('p'), l.socket.port, '127.0.0.1');
    await until(() => rx.got.length >= legs.length);
    assert.equal(rx.got.length, legs.length, 'every pipeline forwarded its datagram');
    assert.ok(added <= 2, `threads added by 40 playing pipelines: ${added}`);
  });

  it('a stopped pipeline leaves its datagrams in the socket; played again, it reads them', async () => {
    const rx = await receiver();
    cleanup.push(() => rx.socket.close());
    const { pipeline, socket } = relay(rx.socket.address().port);
    pipeline.play();
    pipeline.stop();
    const tx = dgram.createSocket('udp4');
    cleanup.push(() => tx.close());
    tx.send(Buffer.from('queued'), socket.port, '127.0.0.1');
    await sleep(200);
    assert.equal(rx.got.length, 0, 'nothing read while stopped (the watch was removed)');
    pipeline.play();
    await until(() => rx.got.length >= 1);
    assert.deepEqual(rx.got.map((g) => g.msg.toString()), ['queued']);
  });

  it('b2bsrtp runs OpenSSL\'s AES-CM and HMAC-SHA1, which an independent SRTP implementation (node:crypto) reads both ways', async () => {
    const probe = gst.Element.create('b2bsrtp');
    assert.equal(probe.string('crypto'), 'openssl', 'libsrtp took the replacement (else the worker logs a warning)');
    for (const suite of ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32', 'AES_256_CM_HMAC_SHA1_80'] as const) {
      const rx = await receiver();
      const socket = gst.UdpSocket.bind('127.0.0.1', 0);
      const inKey = randomBytes(suite.startsWith('AES_256') ? 46 : 30);
      const outKey = randomBytes(inKey.length);
      const p = gst.Pipeline.parse('b2bsocketsrc name=s ! b2bsrtp name=dec mode=unprotect ! b2bsrtp name=enc mode=protect ! b2bsocketsink name=k');
      p.element('s').set('socket', socket);
      p.element('k').set('socket', socket);
      p.element('k').set('host', '127.0.0.1');
      p.element('k').set('port', rx.socket.address().port);
      p.element('dec').set('srtp-params', `${suite} ${inKey.toString('base64')}`);
      p.element('enc').set('srtp-params', `${suite} ${outKey.toString('base64')}`);
      const tx = dgram.createSocket('udp4');
      try {
        p.play();
        const sender = new SrtpContext(suite, inKey.toString('base64'));
        const reader = new SrtpContext(suite, outKey.toString('base64'));
        const plain = Array.from({ length: 20 }, (_, i) => rtpPacket(0x1234, 100 + i));
        for (const pk of plain) tx.send(sender.protectRtp(pk), socket.port, '127.0.0.1');
        await until(() => rx.got.length >= plain.length);
        const back = rx.got.map((g) => reader.unprotectRtp(g.msg));
        assert.deepEqual(back.map((b) => b?.toString('hex')), plain.map((b) => b.toString('hex')), suite);
        assert.equal(p.element('dec').number('auth-failures'), 0, suite);
      } finally {
        p.dispose();
        socket.close();
        tx.close();
        rx.socket.close();
      }
    }
  });
});
