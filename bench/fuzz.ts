/**
 * The SIP/SDP mutation fuzzer (test/fuzz) against the daemon for many cases: two thirds over UDP, one third
 * over TCP, an OPTIONS probe after every batch of 50. Prints one JSON object; asserts nothing (the bounded
 * run is test/e2e/security/fuzz.test.ts). Stops starting batches at the deadline (default 15 min).
 *
 *   npx tsc -p . && npx tsx bench/fuzz.ts --cases 100000 [--seed N] [--deadline-min 15]
 *
 * rss_drift_pct compares the end with the sample at 10 % of the cases (start-up allocations excluded).
 */
import { parseArgs } from 'node:util';
import { createRunDir } from '../test/harness/run-dir.js';
import { fuzzDaemon } from '../test/fuzz/session.js';
import { runBench } from './run-bench.js';

const { values } = parseArgs({ options: { cases: { type: 'string', default: '100000' }, seed: { type: 'string', default: '1' }, 'deadline-min': { type: 'string', default: '15' } } });
const CASES = Math.min(Math.max(Math.floor(Number(values.cases)), 1), 10_000_000);
const SEED = Math.floor(Number(values.seed)) >>> 0;
const DEADLINE_MIN = Math.min(Math.max(Number(values['deadline-min']), 0.1), 240);
if (!Number.isFinite(CASES) || !Number.isFinite(DEADLINE_MIN)) throw new Error('--cases and --deadline-min take numbers');

async function main(): Promise<void> {
  const tcpCases = Math.floor(CASES / 3);
  const r = await fuzzDaemon({
    runDir: createRunDir('bench-fuzz'),
    seed: SEED,
    udpCases: CASES - tcpCases,
    tcpCases,
    deadline: Date.now() + DEADLINE_MIN * 60_000,
    maxSeconds: DEADLINE_MIN * 60 + 120,
    onProgress: (line) => console.error(`[fuzz] ${line}`),
  });
  const sent = r.udp + r.tcp;
  console.log(JSON.stringify({
    cases: sent,
    requested: CASES,
    seed: SEED,
    udp: r.udp,
    tcp: r.tcp,
    crashes: r.crashed ? 1 : 0,
    unhandledRejections: r.unhandledRejections,
    uncaughtExceptions: r.uncaughtExceptions,
    optionsFailures: r.optionsFailures,
    firstOptionsFailures: r.failures.slice(0, 5),
    countersNotZero: r.countersNotZero,
    rss_start_kb: r.rssStartKb,
    rss_10pct_kb: r.rssTenPctKb,
    rss_end_kb: r.rssEndKb,
    rss_drift_pct: Math.round(((r.rssEndKb - r.rssTenPctKb) / r.rssTenPctKb) * 1000) / 10,
    stoppedAtDeadline: r.stoppedAtDeadline,
    duration_s: r.durationS,
    cases_per_s: Math.round(sent / r.durationS),
    log: r.logFile,
  }, null, 1));
}

runBench(main, DEADLINE_MIN * 60_000 + 180_000);
