/**
 * Side by side with rtpengine and Kamailio: the media benchmark (bench/side-by-side/media.ts) then the signalling
 * one (bench/side-by-side/signalling.ts), the relays on core 0 and the load (this process, sipp) on core 1, under
 * one hard deadline of 14 minutes; prints one JSON object with both ratios. See bench/README.md.
 *
 *   npx tsc -p . && npx tsx bench/side-by-side.ts              # full: ~13 min
 *   BENCH_QUICK=1 npx tsx bench/side-by-side.ts                # 2 levels each, 5 s per level: ~2 min
 */
import os from 'node:os';
import { createRunDir } from '../test/harness/run-dir.js';
import { runBench } from './run-bench.js';
import { runMedia } from './side-by-side/media.js';
import { pinSelfToLoadCore } from './side-by-side/procs.js';
import { rtpengineMissing } from './side-by-side/rtpengine.js';
import { runSignalling } from './side-by-side/signalling.js';

const QUICK = process.env['BENCH_QUICK'] === '1';
const TOTAL_MS = 14 * 60_000;
const MEDIA_MS = QUICK ? 60_000 : 5.5 * 60_000;
const MEDIA_LEVELS = QUICK ? [10, 25] : [25, 50, 100, 200, 400, 800];
const MEDIA_SECONDS = QUICK ? 5 : 10;
const RATES = QUICK ? [50, 100] : [200, 400, 600, 800, 1000, 1500, 2000, 3000, 4000];
const RATE_SECONDS = QUICK ? 5 : 20;

async function main(): Promise<void> {
  if (os.cpus().length < 2) throw new Error('bench/side-by-side.ts needs 2 cores (relay on core 0, load on core 1)');
  const missing = rtpengineMissing();
  if (missing) throw new Error(missing);
  pinSelfToLoadCore();
  const start = Date.now();
  const runDir = createRunDir('bench-side-by-side');
  const media = await runMedia({ levels: MEDIA_LEVELS, seconds: MEDIA_SECONDS, deadline: start + MEDIA_MS, runDir });
  const signalling = await runSignalling({ rates: RATES, seconds: RATE_SECONDS, deadline: start + TOTAL_MS - 30_000, runDir });
  console.log(JSON.stringify({
    quick: QUICK,
    cores: os.cpus().length,
    loadavg: os.loadavg().map((x) => Number(x.toFixed(2))),
    wallSeconds: Math.round((Date.now() - start) / 1000),
    runDir,
    media,
    signalling,
    ratios: { mediaCallsPerCoreAt80OursOverRtpengine: media.ratio, signallingCpsOursOverKamailio: signalling.ratio },
  }));
}

runBench(main, TOTAL_MS);
