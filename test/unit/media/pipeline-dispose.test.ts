/**
 * Pipeline.dispose() (core/media/worker/gst.ts) gives back everything a call's pipeline held: node-gtk never
 * collects the wrappers of a pipeline, its bus and the elements we looked up, so a stopped pipeline used to keep
 * its bus's poll FDs and its elements for the life of the media worker (found by bench/soak.ts).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { NATIVE_PLUGIN_DIR } from '../../../core/media/gst/index.js';

type Gst = typeof import('../../../core/media/worker/gst.js');
let gst: Gst;

const fds = (): number => fs.readdirSync('/proc/self/fd').length;
const gc = async (): Promise<void> => {
  for (let i = 0; i < 3; i++) {
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((r) => setTimeout(r, 50));
  }
};

/** A call-like pipeline: a socket shared by udpsrc, b2bingress and udpsink, the elements looked up as the worker does. */
function cycle(): void {
  const sock = gst.UdpSocket.bind('127.0.0.1', 0);
  const p = gst.Pipeline.parse(
    'udpsrc name=src close-socket=false ! b2bingress name=ing ! fakesink sync=false async=false '
    + 'fakesrc num-buffers=0 ! udpsink name=out sync=false async=false close-socket=false host=127.0.0.1 port=9',
  );
  for (const n of ['src', 'ing', 'out']) p.element(n).set('socket', sock);
  p.play();
  assert.equal(p.element('ing').number('latched-port'), 0);
  p.popError();
  p.dispose();
  sock.close();
}

describe('media worker Pipeline.dispose()', function () {
  this.timeout(20_000);
  before(async () => {
    process.env['GST_PLUGIN_PATH'] = [NATIVE_PLUGIN_DIR, process.env['GST_PLUGIN_PATH']].filter(Boolean).join(':');
    gst = await import('../../../core/media/worker/gst.js');
    gst.initGst();
  });

  it('50 pipelines played and disposed leave no FD behind (at most 2 strays)', async () => {
    cycle(); // first use: GStreamer's own lazily opened FDs
    await gc();
    const before = fds();
    for (let i = 0; i < 50; i++) cycle();
    await gc();
    // without dispose() each pipeline keeps 2 (100 in all); a stray FD of the process (tsx, mocha) may come and go
    assert.ok(fds() - before <= 2, `FDs left by 50 disposed pipelines: ${fds() - before}`);
  });

  it('dispose() twice is harmless; element() afterwards throws', () => {
    const p = gst.Pipeline.parse('fakesrc name=s num-buffers=0 ! fakesink');
    p.element('s');
    p.dispose();
    p.dispose();
    assert.throws(() => p.element('s'), /disposed/);
  });
});
