/**
 * Soak (issue 12): calls at a steady rate through the real daemon (`bin/b2bua-server`, dist/) for minutes, SDES SRTP
 * AES_CM_128_HMAC_SHA1_80 on both legs, real SRTP both ways, one media worker SIGKILLed every `--kill-every` seconds.
 * At the end (calls drained) prints one JSON report: failed calls (and those on a killed worker), media delivery,
 * leaked media ports / FDs / media sessions, RSS drift of the daemon after a warm-up minute; exits 1 when a
 * "done when" criterion fails (0 failed calls outside killed workers, 0 leaks, RSS drift < 5 %).
 *
 *   npx tsc -p . && npx tsx bench/soak.ts [--minutes 10] [--cps 20] [--kill-every 120] [--hold 5]
 *
 * The endpoints are ours (test/harness/srtp-call.ts: SIP + SRTP in TypeScript, in this process): sipp 3.6.1 sends
 * no SRTP. Everything is bounded: the command ends by minutes + 1 min, stopping the daemon (and its workers).
 */
import fs from 'node:fs';
import os from 'node:os';
import { startB2bua, type B2buaDaemon, type Counters } from '../test/harness/b2bua.js';
import { stopAllStarted } from '../test/harness/processes.js';
import { createRunDir } from '../test/harness/run-dir.js';
import { header, SipError, SipUa } from '../test/harness/sip-ua.js';
import { placeCall, sdes, startAnswerer, type Answerer, type PlacedCall } from '../test/harness/srtp-call.js';
import { sleep } from '../test/harness/wait.js';

function arg(name: string, def: number, min: number, max: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : def;
  if (!Number.isFinite(v) || v < min || v > max) throw new Error(`--${name} ${process.argv[i + 1]}: expected a number in [${min}, ${max}]`);
  return v;
}

const MINUTES = arg('minutes', 10, 0.1, 60);
const CPS = arg('cps', 20, 0.1, 100);
const KILL_EVERY_S = arg('kill-every', 120, 0, 3600); // 0: no kill
const HOLD_S = arg('hold', 5, 1, 60);
/** NODE_OPTIONS of the daemon (its media workers inherit it), e.g. "--max-semi-space-size=2": bounds V8's heap sizing. */
const NODE_OPTIONS = ((): string | undefined => {
  const i = process.argv.indexOf('--node-options');
  return i >= 0 ? process.argv[i + 1] : undefined;
})();
const WORKERS = 2;
const SUITE = 'AES_CM_128_HMAC_SHA1_80' as const;
const LOAD_MS = MINUTES * 60_000;
const BUDGET_MS = LOAD_MS + 60_000;
const WARMUP_MS = Math.min(60_000, LOAD_MS / 2);
const DRAIN_MS = 25_000;

interface Outcome {
  callIdA: string | undefined;
  setupMs?: number;
  answered: boolean;
  failed: string | undefined;
  sent: number;
  received: number;
}

interface Kill { atS: number; pid: number }

const fdCount = (pid: number): number => {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return -1;
  }
};
/** FD kinds (socket, pipe, anon_inode:[eventfd], /path...) and how many of each. */
const fdKinds = (pid: number): Record<string, number> => {
  const kinds: Record<string, number> = {};
  try {
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      try {
        const k = fs.readlinkSync(`/proc/${pid}/fd/${fd}`).replace(/:\[\d+\]$/, '').replace(/^\/.*\//, '/…/');
        kinds[k] = (kinds[k] ?? 0) + 1;
      } catch { /* closed meanwhile */ }
    }
  } catch { /* exited */ }
  return kinds;
};
const rssKb = (pid: number): number => {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? -1);
  } catch {
    return -1;
  }
};

/** The daemon's V8 heap (prom-client's default metrics on /metrics), KiB: used and total (what V8 reserved). */
async function heapKb(b2bua: B2buaDaemon): Promise<{ used: number; total: number }> {
  try {
    const text = await (await fetch(`http://${b2bua.adminAddress}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
    const read = (name: string): number => Math.round(Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN) / 1024);
    return { used: read('nodejs_heap_size_used_bytes'), total: read('nodejs_heap_size_total_bytes') };
  } catch {
    return { used: -1, total: -1 };
  }
}

/** The media workers of the daemon, from /proc (a stuck worker does not answer /health): children running worker/main. */
function workerPids(daemonPid: number): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== daemonPid) continue;
      if (fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('worker/main')) out.push(Number(d));
    } catch {
      /* exited meanwhile */
    }
  }
  return out.sort((a, b) => a - b);
}

const pct = (sorted: number[], p: number): number => (sorted.length ? Number(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!.toFixed(1)) : NaN);

/** One call: INVITE, hold (media both ways), BYE; what the far side got of what each side sent. */
async function oneCall(caller: SipUa, answerer: Answerer, target: string): Promise<Outcome> {
  const packets = HOLD_S * 50;
  let call: PlacedCall;
  try {
    call = await placeCall(caller, target, sdes(SUITE), { frequency: 440, keepAudio: false, maxPackets: packets });
  } catch (e) {
    const callIdA = e instanceof SipError ? header(e.response, 'call-id') : undefined;
    return { callIdA, answered: false, failed: `INVITE: ${(e as Error).message.split('\n')[0]}`, sent: 0, received: 0 };
  }
  const out: Outcome = { callIdA: call.dialog.callId, setupMs: call.setupMs, answered: true, failed: undefined, sent: 0, received: 0 };
  const until = Date.now() + HOLD_S * 1000 + 300; // + packets in flight through the b2bua
  while (Date.now() < until && !call.dialog.ended) await sleep(100);
  call.media.stop();
  const callee = [...answerer.calls.values()].find((c) => c.media.received.has(call.media.ssrc));
  callee?.media.stop();
  if (call.dialog.ended) out.failed = `ended by the b2bua after ${Math.round(call.setupMs)} ms set-up, before the hold time`;
  else {
    try {
      await call.dialog.bye();
    } catch (e) {
      out.failed = `BYE: ${(e as Error).message.split('\n')[0]}`;
    }
  }
  const aToB = callee?.media.received.get(call.media.ssrc)?.count ?? 0;
  const bToA = callee ? call.media.received.get(callee.media.ssrc)?.count ?? 0 : 0;
  out.sent = call.media.totalSent() + (callee?.media.totalSent() ?? 0);
  out.received = aToB + bToA;
  if (!out.failed && (aToB === 0 || bToA === 0)) out.failed = `no media: ${aToB} packets A->B, ${bToA} B->A`;
  call.media.close();
  caller.forget(call.dialog);
  if (callee) {
    callee.media.close();
    answerer.calls.delete(callee.dialog.callId);
    answerer.ua.forget(callee.dialog);
  }
  return out;
}

/** Leg-A Call-IDs the daemon log ties to a media worker's death, and the pids of the workers it saw die. */
function workerDeathsInLog(b2bua: B2buaDaemon): { callIds: Set<string>; deadPids: number[] } {
  const callIds = new Set<string>();
  const deadPids: number[] = [];
  for (const line of b2bua.logLines()) {
    if (line['msg'] === 'media worker died; its calls end; respawning') deadPids.push(Number(line['pid']));
    if (typeof line['callIdA'] === 'string' && /media worker (died|exited)|media worker \d+ killed by SIG|worker.{0,40}(died|exited|gone)/i.test(JSON.stringify(line))) callIds.add(line['callIdA']);
  }
  return { callIds, deadPids };
}

async function main(): Promise<number> {
  const t0 = Date.now();
  const since = (): number => Number(((Date.now() - t0) / 1000).toFixed(1));
  const loadStart = os.loadavg().map((x) => Number(x.toFixed(2)));
  const runDir = createRunDir('soak');
  const answerer = await startAnswerer(sdes(SUITE), { frequency: 880, keepAudio: false, maxPackets: HOLD_S * 50 });
  const caller = await SipUa.open({ user: 'alice', transactionTimeoutMs: 8000 });
  const b2bua = await startB2bua({
    runDir,
    outboundProxy: `sip:127.0.0.1:${answerer.ua.port};transport=udp`,
    settings: { application: 'trenscrypter', 'media-engine': 'gstreamer', 'media-workers': WORKERS, 'max-calls': 2000 },
    extraIni: `[b2bua-server::trenscrypter]\noutgoing-enc-regex=sdes sip:bob@.*\noutgoing-srtp-regex=${SUITE} sip:bob@.*`,
    maxSeconds: BUDGET_MS / 1000,
    ...(NODE_OPTIONS ? { env: { NODE_OPTIONS } } : {}),
  });
  try {
    const main = b2bua.process.pid;
    // one call per worker first: GStreamer opens a few FDs on its first pipeline, which is no leak
    const target = `sip:bob@${b2bua.address}`;
    const warmup = await Promise.all(Array.from({ length: WORKERS }, () => oneCall(caller, answerer, target)));
    await b2bua.waitUntilCounters('warm-up calls drained', (c) => c.calls === 0 && c.mediaSessions === 0, 10_000).catch(() => undefined);
    const workers0 = workerPids(main);
    const fdsStart = { main: fdCount(main), workers: workers0.map(fdCount) };
    const fdKindsStart = { main: fdKinds(main), workers: workers0.map(fdKinds) };
    const cpu0 = process.cpuUsage();
    const rssSamples: { atS: number; main: number; workers: number[]; heapUsed: number; heapTotal: number }[] = [];
    const kills: Kill[] = [];
    const outcomes: Promise<Outcome>[] = [];
    const loadT0 = Date.now();
    let nextKill = KILL_EVERY_S > 0 ? KILL_EVERY_S * 1000 : Infinity;
    let nextSample = 0;
    let maxLive = 0;
    for (let i = 0; ; i++) {
      const due = loadT0 + (i * 1000) / CPS;
      if (due - loadT0 >= LOAD_MS) break;
      while (Date.now() < due) {
        const el = Date.now() - loadT0;
        if (el >= nextKill) {
          nextKill += KILL_EVERY_S * 1000;
          const ws = workerPids(main);
          const victim = ws[kills.length % ws.length];
          if (victim) {
            try {
              process.kill(victim, 'SIGKILL');
              kills.push({ atS: Number((el / 1000).toFixed(1)), pid: victim });
            } catch { /* gone already */ }
          }
        }
        if (el >= nextSample) {
          nextSample += 10_000;
          const heap = await heapKb(b2bua);
          rssSamples.push({ atS: Number((el / 1000).toFixed(1)), main: rssKb(main), workers: workerPids(main).map(rssKb), heapUsed: heap.used, heapTotal: heap.total });
          const c = await b2bua.counters().catch(() => undefined);
          if (c) maxLive = Math.max(maxLive, c.calls);
        }
        await sleep(Math.max(1, Math.min(20, due - Date.now())));
      }
      outcomes.push(oneCall(caller, answerer, target));
    }
    const heapEnd = await heapKb(b2bua);
    const atLoadEnd = { atS: since(), main: rssKb(main), workers: workerPids(main).map(rssKb), heapUsed: heapEnd.used, heapTotal: heapEnd.total };
    const cpuUsed = process.cpuUsage(cpu0);
    const results = await Promise.all(outcomes);
    let drained: Counters | undefined;
    try {
      drained = await b2bua.waitUntilCounters('calls and media drained', (c) => c.calls === 0 && c.mediaSessions === 0 && c.mediaPorts === 0, DRAIN_MS);
    } catch {
      drained = await b2bua.counters().catch(() => undefined);
    }
    await sleep(1000);
    const workersEnd = workerPids(main);
    const fdsEnd = { main: fdCount(main), workers: workersEnd.map(fdCount) };
    const fdKindsEnd = { main: fdKinds(main), workers: workersEnd.map(fdKinds) };
    const rssDrained = { main: rssKb(main), workers: workersEnd.map(rssKb), heap: await heapKb(b2bua) };
    const { callIds, deadPids } = workerDeathsInLog(b2bua);

    const failed = results.filter((r) => r.failed);
    const onKilled = failed.filter((r) => r.callIdA !== undefined && callIds.has(r.callIdA));
    const otherFailures = failed.filter((r) => !onKilled.includes(r));
    const reasons: Record<string, number> = {};
    for (const r of otherFailures) {
      const k = r.failed!.replace(/\d+/g, 'N');
      reasons[k] = (reasons[k] ?? 0) + 1;
    }
    const warm = rssSamples.find((s) => s.atS * 1000 >= WARMUP_MS) ?? rssSamples[rssSamples.length - 1]!;
    const driftPct = (a: number, b: number): number => Number(((100 * (b - a)) / a).toFixed(2));
    const sent = results.reduce((n, r) => n + r.sent, 0);
    const received = results.reduce((n, r) => n + r.received, 0);
    const okResults = results.filter((r) => !r.failed);
    const okSent = okResults.reduce((n, r) => n + r.sent, 0);
    const leaked = {
      ports: drained?.mediaPorts ?? -1,
      pipelines: drained?.mediaSessions ?? -1,
      calls: drained?.calls ?? -1,
      fds: {
        main: { start: fdsStart.main, end: fdsEnd.main, kinds: fdKindsStart.main, kindsEnd: fdKindsEnd.main },
        workers: fdsStart.workers.map((s, i) => ({ slot: i, start: s, end: fdsEnd.workers[i] ?? -1, kinds: fdKindsStart.workers[i], kindsEnd: fdKindsEnd.workers[i] })),
      },
    };
    const report = {
      command: `npx tsx bench/soak.ts --minutes ${MINUTES} --cps ${CPS} --kill-every ${KILL_EVERY_S} --hold ${HOLD_S}${NODE_OPTIONS ? ` --node-options '${NODE_OPTIONS}'` : ''}`,
      media: `SDES ${SUITE} on both legs (trenscrypter, media-engine=gstreamer, ${WORKERS} media workers), ${HOLD_S} s of PCMU SRTP each way per call`,
      warmup_calls_failed: warmup.filter((r) => r.failed).length,
      calls_attempted: results.length,
      calls_answered: results.filter((r) => r.answered).length,
      calls_failed: failed.length,
      calls_failed_on_killed_worker: onKilled.length,
      calls_failed_otherwise: otherFailures.length,
      failure_reasons_otherwise: reasons,
      // admission control (core/b2bua/admission.ts): shed load, still counted as failed above
      calls_refused_media_overloaded: failed.filter((r) => /\b503\b.*media workers overloaded/.test(r.failed!)).length,
      max_live_calls: maxLive,
      setup_ms: (() => {
        const v = results.flatMap((r) => (r.setupMs === undefined ? [] : [r.setupMs])).sort((a, b) => a - b);
        return { p50: pct(v, 50), p95: pct(v, 95), max: pct(v, 100) };
      })(),
      generator_cpu_pct_of_one_core: Number((((cpuUsed.user + cpuUsed.system) / 1e4) / (LOAD_MS / 1000)).toFixed(1)),
      kills,
      worker_deaths_in_log: deadPids.length,
      unexpected_worker_deaths: deadPids.filter((p) => !kills.some((k) => k.pid === p)).length,
      media_delivery: {
        all_calls: Number((received / Math.max(1, sent)).toFixed(4)),
        calls_not_failed: Number((okResults.reduce((n, r) => n + r.received, 0) / Math.max(1, okSent)).toFixed(4)),
        sent, received,
      },
      leaked,
      counters_after_drain: drained,
      rss: {
        warmup_at_s: warm.atS,
        start_kb: warm.main, end_kb: atLoadEnd.main, drift_pct: driftPct(warm.main, atLoadEnd.main),
        after_drain_kb: rssDrained.main,
        // a leak grows linearly; heap sizing and JIT do not: the drift over the second half of the load alone
        second_half_drift_pct: (() => {
          const mid = rssSamples.find((x) => x.atS * 1000 >= LOAD_MS / 2) ?? warm;
          return driftPct(mid.main, atLoadEnd.main);
        })(),
        // where the daemon's growth is: V8's heap (used: live objects + garbage not yet collected; total: what V8 reserved) or outside it
        heap_used_kb: { start: warm.heapUsed, end: atLoadEnd.heapUsed, after_drain: rssDrained.heap.used },
        heap_total_kb: { start: warm.heapTotal, end: atLoadEnd.heapTotal, after_drain: rssDrained.heap.total },
        outside_heap_kb: { start: warm.main - warm.heapTotal, end: atLoadEnd.main - atLoadEnd.heapTotal, after_drain: rssDrained.main - rssDrained.heap.total },
        growth_kb: { rss: atLoadEnd.main - warm.main, heap_total: atLoadEnd.heapTotal - warm.heapTotal, outside_heap: atLoadEnd.main - atLoadEnd.heapTotal - (warm.main - warm.heapTotal) },
        workers: { start_kb: warm.workers, end_kb: atLoadEnd.workers, after_drain_kb: rssDrained.workers, note: 'a killed worker is replaced by a fresh one: informative only' },
        node_options: NODE_OPTIONS ?? null,
        samples_note: '[s, main RSS KiB, heap used KiB, heap total KiB, worker RSS KiB...]',
        samples: rssSamples.map((s) => [s.atS, s.main, s.heapUsed, s.heapTotal, ...s.workers]),
      },
      loadavg: { start: loadStart, end: os.loadavg().map((x) => Number(x.toFixed(2))), cpus: os.availableParallelism() },
      duration_s: since(),
      run_dir: runDir,
    };
    const problems = [
      otherFailures.length > 0 && `${otherFailures.length} failed calls not on a killed worker`,
      warmup.some((r) => r.failed) && 'a warm-up call failed',
      leaked.ports !== 0 && `media ports in use after drain: ${leaked.ports}`,
      leaked.pipelines !== 0 && `media sessions after drain: ${leaked.pipelines}`,
      leaked.fds.main.end !== leaked.fds.main.start && `daemon FDs ${leaked.fds.main.start} -> ${leaked.fds.main.end}`,
      ...leaked.fds.workers.filter((w) => w.end !== w.start).map((w) => `worker ${w.slot} FDs ${w.start} -> ${w.end}`),
      !(report.rss.drift_pct < 5) && `daemon RSS drift ${report.rss.drift_pct} %`,
      kills.length < Math.floor((LOAD_MS / 1000 - 1) / (KILL_EVERY_S || Infinity)) && `only ${kills.length} workers killed`,
    ].filter((p): p is string => typeof p === 'string');
    console.log(JSON.stringify({ ...report, pass: problems.length === 0, problems }, null, 1));
    return problems.length === 0 ? 0 : 1;
  } finally {
    caller.close();
    answerer.close();
    await b2bua.stop(15000).catch((e: Error) => console.error(`daemon stop: ${e.message.split('\n')[0]}`));
  }
}

const guard = setTimeout(() => {
  console.error(`soak: time budget (${BUDGET_MS / 1000} s) exceeded`);
  void stopAllStarted(1000).finally(() => process.exit(2));
}, BUDGET_MS);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => void stopAllStarted(1000).finally(() => process.exit(130)));
}
main()
  .then((code) => { process.exitCode = code; })
  .catch((e: unknown) => {
    console.error(e);
    process.exitCode = 2;
  })
  .finally(async () => {
    clearTimeout(guard);
    await stopAllStarted(1000);
  });
