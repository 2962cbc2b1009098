/**
 * Element tests with packets as files: each buffer written to a file, read back one buffer per file by multifilesrc,
 * through the elements under test, written one per file by multifilesink; plus loading GStreamer with our plugin.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NATIVE_PLUGIN_DIR } from '../../../core/media/gst/index.js';

export type Gst = typeof import('../../../core/media/worker/gst.js');
export type Pipeline = ReturnType<Gst['Pipeline']['parse']>;

/** node-gtk's GStreamer with core/native's plugin on GST_PLUGIN_PATH (for a before() hook). */
export async function loadGst(): Promise<Gst> {
  process.env['GST_PLUGIN_PATH'] = [NATIVE_PLUGIN_DIR, process.env['GST_PLUGIN_PATH']].filter(Boolean).join(':');
  const gst = await import('../../../core/media/worker/gst.js');
  gst.initGst();
  return gst;
}

const dirs: string[] = [];

/** Removes the folders made by throughFiles (for an after() hook). */
export function removePacketDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** `packets` through `elements` (a gst-launch fragment) to EOS: the pipeline (still to be stopped, for its counters) and what came out, in order. */
export async function throughFiles(gst: Gst, packets: readonly Buffer[], elements: string): Promise<{ pipeline: Pipeline; out: Buffer[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'b2b-packets-'));
  dirs.push(dir);
  packets.forEach((w, i) => writeFileSync(join(dir, `in${String(i).padStart(3, '0')}.bin`), w));
  const pipeline = gst.Pipeline.parse(`multifilesrc location=${dir}/in%03d.bin index=0 ! ${elements} ! multifilesink location=${dir}/out%03d.bin`);
  pipeline.play();
  const end = Date.now() + 5000;
  for (;;) {
    const e = pipeline.popEnd();
    if (e === 'eos') break;
    if (e) throw new Error(e.error);
    if (Date.now() > end) throw new Error('no EOS within 5 s');
    await new Promise((r) => setTimeout(r, 10));
  }
  return { pipeline, out: readdirSync(dir).filter((f) => f.startsWith('out')).sort().map((f) => readFileSync(join(dir, f))) };
}
