/**
 * Media engine benchmark: N concurrent SDES -> SDES sessions (leg A AES_CM_128_HMAC_SHA1_80,
 * leg B AES_CM_128_HMAC_SHA1_32), 50 packets/s each way per session, on loopback, through the
 * GStreamer engine's worker processes. Prints one JSON object per level:
 *   workers' CPU (% of one core, summed), RSS and threads, packets delivered.
 *
 *   npx tsx bench/media.ts                 # levels 50 100 200, 5 s each
 *   BENCH_LEVELS=50,100 BENCH_SECONDS=10 MEDIA_WORKERS=2 npx tsx bench/media.ts
 *
 * The load generator runs in this process on the same cores (SRTP packets are encrypted before
 * the measured window; 1 packet in 25 is decrypted at the far end to check the transcoding).
 */
import os from 'node:os';
import { parseConfigText } from '../core/config/load.js';
import { createGstEngine } from '../core/media/gst/index.js';
import { silentLogger } from '../core/log/index.js';
import type { MediaSession } from '../core/media/types.js';
import { openEngineCall } from './engine-call.js';
import { mediaWorkers } from './worker-procs.js';
import { LoadSide, loadResult, PPS, stream } from './srtp-load.js';

const LEVELS = (process.env['BENCH_LEVELS'] ?? '50,100,200').split(',').map(Number);
const SECONDS = Math.min(Number(process.env['BENCH_SECONDS'] ?? 5), 60);
const WORKERS = Number(process.env['MEDIA_WORKERS'] ?? 0);
const CLK_TCK = 100;

async function level(n: number): Promise<Record<string, unknown>> {
  const engine = await createGstEngine(
    { ...parseConfigText('', 'bench.conf').config.server, transport: 'sip:127.0.0.1:5060', mediaWorkers: WORKERS },
    silentLogger(),
  );
  const sessions: MediaSession[] = [];
  const sides: LoadSide[] = [];
  const packets = SECONDS * PPS;
  try {
    for (let i = 0; i < n; i++) {
      const { session, sides: pair } = await openEngineCall(engine, i, packets);
      sessions.push(session);
      sides.push(...pair);
    }
    const before = mediaWorkers();
    const elapsedS = await stream(sides, packets);
    const after = mediaWorkers();
    const cpuTicks = after.reduce((t, p) => t + p.ticks - (before.find((q) => q.pid === p.pid)?.ticks ?? p.ticks), 0);
    const load = loadResult(sides, packets);
    const stats = await Promise.all(sessions.map((s) => s.stats()));
    const engineAuthFailures = stats.reduce((t, st) => t + st.a[0]!.srtpAuthFailures + st.b[0]!.srtpAuthFailures, 0);
    return {
      sessions: n,
      workers: after.length,
      seconds: Number(elapsedS.toFixed(2)),
      packetsPerSecondEachWay: PPS,
      sent: load.sent,
      delivered: load.delivered,
      deliveredPct: load.deliveredPct,
      addedLatencyMs: load.latencyMs,
      workerCpuPctOfOneCore: Number(((100 * cpuTicks) / CLK_TCK / elapsedS).toFixed(1)),
      workerRssMB: Number((after.reduce((t, p) => t + p.rssKb, 0) / 1024).toFixed(1)),
      workerThreads: after.reduce((t, p) => t + p.threads, 0),
      farEndChecked: load.farEndChecked,
      farEndAuthFailures: load.farEndAuthFailures,
      engineAuthFailures,
      cores: os.availableParallelism(),
    };
  } finally {
    await Promise.all(sessions.map((s) => s.close().catch(() => undefined)));
    for (const s of sides) s.close();
    await engine.close();
  }
}

for (const n of LEVELS) {
  if (!Number.isInteger(n) || n <= 0 || n > 1000) throw new Error(`BENCH_LEVELS: ${n} is not a session count in 1..1000`);
  console.log(JSON.stringify(await level(n)));
}
