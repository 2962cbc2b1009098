/**
 * Side by side with rtpengine and Kamailio: the media benchmark (bench/side-by-side/media.ts) then the signalling
 * one (bench/side-by-side/signalling.ts), the relays on core 0 and the load (this process, sipp) on core 1, under
 * one hard deadline of 14 minutes; prints one JSON object with both ratios. See bench/README.md.
 *
 *   npx tsc -p . && npx tsx bench/side-by-side.ts              # full: ~13 min
 *   BENCH_QUICK=1 npx tsx bench/side-by-side.ts                # 2 levels each, 5 s per level: ~2 min
 *   npx tsx bench/side-by-side.ts --only signalling --relays b2bua --rates 100,200,400 --seconds 20 [--cpu-prof <dir>]
 *     (only the signalling half; --cpu-prof: the daemon runs under node --cpu-prof, profiles written to <dir>)
 */
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createRunDir } from '../test/harness/run-dir.js';
import { runBench } from './run-bench.js';
import { runMedia } from './side-by-side/media.js';
import { pinSelfToLoadCore } from './side-by-side/procs.js';
import { rtpengineMissing } from './side-by-side/rtpengine.js';
import { runSignalling, type SignallingRelay } from './side-by-side/signalling.js';

const QUICK = process.env['BENCH_QUICK'] === '1';
const TOTAL_MS = 14 * 60_000;
const MEDIA_MS = QUICK ? 60_000 : 5.5 * 60_000;
const MEDIA_LEVELS = QUICK ? [10, 25] : [25, 50, 100, 200, 400, 800];
const MEDIA_SECONDS = QUICK ? 5 : 10;
const { values: args } = parseArgs({
  options: { only: { type: 'string' }, rates: { type: 'string' }, seconds: { type: 'string' }, relays: { type: 'string' }, 'cpu-prof': { type: 'string' }, 'node-options': { type: 'string' } },
});
if (args.only !== undefined && args.only !== 'signalling' && args.only !== 'media') throw new Error('--only: media or signalling');
const list = (s: string): number[] => s.split(',').map((x) => {
  const n = Number(x);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--rates: "${x}" is not a positive integer`);
  return n;
});
const RATES = args.rates ? list(args.rates) : QUICK ? [50, 100] : [200, 400, 600, 800, 1000, 1500, 2000, 3000, 4000];
const RATE_SECONDS = args.seconds ? list(args.seconds)[0]! : QUICK ? 5 : 20;
const RELAYS = (args.relays ?? 'b2bua,kamailio').split(',') as SignallingRelay[];
if (RELAYS.some((r) => r !== 'b2bua' && r !== 'kamailio')) throw new Error('--relays: b2bua and/or kamailio');
const CPU_PROF = args['cpu-prof'] ? path.resolve(args['cpu-prof']) : undefined;
const DAEMON_NODE_ARGS = (args['node-options'] ?? '').split(/\s+/).filter(Boolean);

async function main(): Promise<void> {
  if (os.cpus().length < 2) throw new Error('bench/side-by-side.ts needs 2 cores (relay on core 0, load on core 1)');
  const missing = args.only === 'signalling' ? undefined : rtpengineMissing();
  if (missing) throw new Error(missing);
  pinSelfToLoadCore();
  const start = Date.now();
  const runDir = createRunDir('bench-side-by-side');
  const media = args.only === 'signalling' ? null : await runMedia({ levels: MEDIA_LEVELS, seconds: MEDIA_SECONDS, deadline: start + MEDIA_MS, runDir });
  const signalling = args.only === 'media'
    ? null
    : await runSignalling({ rates: RATES, seconds: RATE_SECONDS, deadline: start + TOTAL_MS - 30_000, runDir, relays: RELAYS, cpuProfDir: CPU_PROF, nodeArgs: DAEMON_NODE_ARGS });
  console.log(JSON.stringify({
    quick: QUICK,
    cores: os.cpus().length,
    loadavg: os.loadavg().map((x) => Number(x.toFixed(2))),
    wallSeconds: Math.round((Date.now() - start) / 1000),
    runDir,
    media,
    signalling,
    ratios: { mediaCallsPerCoreAt80OursOverRtpengine: media?.ratio ?? null, signallingCpsOursOverKamailio: signalling?.ratio ?? null },
  }));
}

runBench(main, TOTAL_MS);
