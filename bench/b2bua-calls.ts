/**
 * Calls THROUGH the daemon (SIP + media): for each level, N concurrent calls from our own SIP+SRTP load generator
 * (test/harness/call-load.ts) to our own answerer, through a fresh `bin/b2bua-server`:
 *   - gstreamer: trenscrypter, leg A SDES AES_CM_128_HMAC_SHA1_80 -> leg B SDES AES_CM_128_HMAC_SHA1_32;
 *   - relay (the reference): the same calls in plain RTP through `media-engine=relay`.
 * Prints one JSON object per engine and level: daemon and media workers' CPU (% of one core, from /proc over the
 * streaming window) and RSS, delivered % (packets received and authenticated / sent, both directions), call
 * set-up latency percentiles (INVITE -> 200 OK). Not a test: nothing is asserted.
 *
 *   npx tsc -p . && npx tsx bench/b2bua-calls.ts
 *   BENCH_LEVELS=50,100 BENCH_SECONDS=8 MEDIA_WORKERS=2 BENCH_ENGINES=gstreamer npx tsx bench/b2bua-calls.ts
 *
 * The load generator (SRTP in TypeScript) runs in this process on the same cores as the daemon.
 */
import fs from 'node:fs';
import os from 'node:os';
import { startB2bua } from '../test/harness/b2bua.js';
import { runConcurrentCalls, percentile } from '../test/harness/call-load.js';
import { createRunDir } from '../test/harness/run-dir.js';
import { runBench } from './run-bench.js';
import { SipUa } from '../test/harness/sip-ua.js';
import { plain, sdes, startAnswerer } from '../test/harness/srtp-call.js';
import { sleep } from '../test/harness/wait.js';

const LEVELS = (process.env['BENCH_LEVELS'] ?? '50,100,200').split(',').map(Number).filter((n) => n > 0 && n <= 400);
const SECONDS = Math.min(Math.max(Number(process.env['BENCH_SECONDS'] ?? 6), 3), 30);
const WORKERS = Number(process.env['MEDIA_WORKERS'] ?? 2);
const ENGINES = (process.env['BENCH_ENGINES'] ?? 'gstreamer,relay').split(',') as ('gstreamer' | 'relay')[];
const CLK_TCK = 100;

interface ProcSample { pid: number; ticks: number; rssKb: number; isDaemon: boolean }

/** The daemon (pid = its process group) and every process of its group (the media workers). */
function sampleGroup(pgid: number): ProcSample[] {
  const out: ProcSample[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) !== pgid) continue;
      const status = fs.readFileSync(`/proc/${d}/status`, 'utf8');
      out.push({ pid: Number(d), ticks: Number(f[11]) + Number(f[12]), rssKb: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0), isDaemon: Number(d) === pgid });
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

function cpuPct(before: ProcSample[], after: ProcSample[], seconds: number, daemon: boolean): number {
  const ticks = after.filter((p) => p.isDaemon === daemon)
    .reduce((t, p) => t + p.ticks - (before.find((q) => q.pid === p.pid)?.ticks ?? p.ticks), 0);
  return Number(((100 * ticks) / CLK_TCK / seconds).toFixed(1));
}

const mb = (kb: number): number => Number((kb / 1024).toFixed(1));

async function level(engine: 'gstreamer' | 'relay', calls: number): Promise<Record<string, unknown>> {
  const runDir = createRunDir(`bench-${engine}-${calls}`);
  const secure = engine === 'gstreamer';
  const packets = SECONDS * 50;
  const answerer = await startAnswerer(secure ? sdes('AES_CM_128_HMAC_SHA1_32') : plain, { frequency: 880, keepAudio: false, maxPackets: packets });
  const caller = await SipUa.open({ user: 'alice', transactionTimeoutMs: 32000 });
  const b2bua = await startB2bua({
    runDir,
    outboundProxy: `sip:127.0.0.1:${answerer.ua.port};transport=udp`,
    settings: { application: 'trenscrypter', 'media-engine': engine, 'media-workers': WORKERS, 'max-calls': Math.max(500, calls * 2) },
    extraIni: secure ? '[b2bua-server::trenscrypter]\noutgoing-enc-regex=sdes sip:bob@.*\noutgoing-srtp-regex=AES_CM_128_HMAC_SHA1_32 sip:bob@.*' : '',
    maxSeconds: SECONDS + 120,
  });
  try {
    let cpu = { daemon: NaN, workers: NaN, generator: NaN, seconds: 0 };
    let rss = { daemon: 0, workers: 0 };
    const r = await runConcurrentCalls({
      caller, answerer, target: `sip:bob@${b2bua.address}`, calls, packets, legA: secure ? sdes('AES_CM_128_HMAC_SHA1_80') : plain,
      whileStreaming: async () => {
        const window = Math.max(1, SECONDS - 2);
        await sleep(500); // let every call reach its steady state before sampling
        const before = sampleGroup(b2bua.process.pid);
        const t0 = performance.now();
        const own0 = process.cpuUsage();
        await sleep(window * 1000);
        const after = sampleGroup(b2bua.process.pid);
        const own = process.cpuUsage(own0);
        const seconds = (performance.now() - t0) / 1000;
        cpu = {
          daemon: cpuPct(before, after, seconds, true), workers: cpuPct(before, after, seconds, false),
          generator: Number(((own.user + own.system) / 1e4 / seconds).toFixed(1)), seconds: Number(seconds.toFixed(2)),
        };
        rss = { daemon: after.filter((p) => p.isDaemon).reduce((t, p) => t + p.rssKb, 0), workers: after.filter((p) => !p.isDaemon).reduce((t, p) => t + p.rssKb, 0) };
      },
    });
    return {
      engine, media: secure ? 'SDES AES_CM_128_HMAC_SHA1_80 -> SDES AES_CM_128_HMAC_SHA1_32' : 'plain RTP -> plain RTP',
      calls, established: r.established, seconds: SECONDS,
      daemonCpuPctOfOneCore: cpu.daemon, workersCpuPctOfOneCore: engine === 'gstreamer' ? cpu.workers : undefined,
      daemonRssMB: mb(rss.daemon), workersRssMB: engine === 'gstreamer' ? mb(rss.workers) : undefined,
      loadGeneratorCpuPctOfOneCore: cpu.generator, measuredSeconds: cpu.seconds,
      deliveredPct: Number(((100 * r.delivered) / Math.max(1, r.sent)).toFixed(2)), sent: r.sent, delivered: r.delivered,
      authFailures: r.authFailures,
      setupMs: { p50: Number(percentile(r.setupMs, 50).toFixed(1)), p95: Number(percentile(r.setupMs, 95).toFixed(1)), p99: Number(percentile(r.setupMs, 99).toFixed(1)) },
      failures: r.failures.slice(0, 3),
    };
  } finally {
    caller.close();
    answerer.close();
    await b2bua.stop(15000).catch((e: Error) => console.error(`daemon stop: ${e.message.split('\n')[0]}`));
  }
}

async function main(): Promise<void> {
  console.log(JSON.stringify({ host: { cpus: os.availableParallelism(), node: process.version }, levels: LEVELS, seconds: SECONDS, mediaWorkers: WORKERS, engines: ENGINES }));
  for (const calls of LEVELS) {
    for (const engine of ENGINES) {
      console.log(JSON.stringify(await level(engine, calls)));
      await sleep(1000);
    }
  }
}

runBench(main, (LEVELS.length * ENGINES.length * (SECONDS + 60) + 60) * 1000);
