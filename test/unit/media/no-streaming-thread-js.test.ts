/**
 * Guard for the node-gtk deadlock hazard (media-plane.md): the media worker must never connect a
 * JavaScript handler to a GStreamer/GObject signal, and only gst.ts may touch node-gtk.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const workerDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../core/media/worker');
const sources = readdirSync(workerDir)
  .filter((f) => f.endsWith('.ts'))
  .map((f) => ({ file: f, text: readFileSync(path.join(workerDir, f), 'utf8') }));

describe('media worker: no JavaScript on GStreamer streaming threads', () => {
  it('has sources to check', () => assert.ok(sources.some((s) => s.file === 'gst.ts')));

  it('connects no signal handler (connect / on / once on GObjects) in the GStreamer wrapper', () => {
    const gst = sources.find((s) => s.file === 'gst.ts')!.text;
    assert.doesNotMatch(gst, /\.(connect|connectAfter|on|once)\s*\(/);
    assert.doesNotMatch(gst, /addWatch|addSignalWatch|signalWatch/i, 'bus is polled, not watched');
  });

  it('keeps node-gtk inside gst.ts', () => {
    for (const s of sources) {
      if (s.file !== 'gst.ts') assert.doesNotMatch(s.text, /from 'node-gtk'/, `${s.file} imports node-gtk`);
    }
  });
});
