/**
 * A fuzz run against the real daemon (test/harness/b2bua.ts), listening on UDP and TCP on one port, leg B
 * to a callee refusing every INVITE. Shared by test/e2e/security/fuzz.test.ts (bounded) and bench/fuzz.ts.
 */
import fs from 'node:fs';
import { LIVE_COUNTERS, startB2bua, type B2buaDaemon, type Counters } from '../harness/b2bua.js';
import { openRefusingCallee, runFuzz, type FuzzResult } from './driver.js';

export interface FuzzSessionOptions {
  readonly runDir: string;
  readonly seed: number;
  readonly udpCases: number;
  readonly tcpCases: number;
  readonly deadline?: number;
  /** How long live counters may take to return to 0 after the last case (server transactions wait for Timer H/J, 32 s). */
  readonly settleMs?: number;
  readonly maxSeconds?: number;
  readonly onProgress?: (line: string) => void;
}

export interface FuzzSessionReport extends FuzzResult {
  /** Log lines the daemon wrote for uncaught exceptions / unhandled rejections (code B2BUA_INTERNAL). */
  readonly internalErrors: readonly Record<string, unknown>[];
  readonly unhandledRejections: number;
  readonly uncaughtExceptions: number;
  readonly rssStartKb: number;
  readonly rssTenPctKb: number;
  readonly rssEndKb: number;
  /** Live counters after the settle time (undefined if the admin interface did not answer). */
  readonly countersAfter: Counters | undefined;
  /** Names of live counters not back to 0. */
  readonly countersNotZero: readonly string[];
  readonly durationS: number;
  readonly logFile: string;
}

export function rssKb(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

export async function fuzzDaemon(o: FuzzSessionOptions): Promise<FuzzSessionReport> {
  const started = Date.now();
  const callee = await openRefusingCallee();
  let daemon: B2buaDaemon | undefined;
  try {
    daemon = await startB2bua({
      runDir: o.runDir,
      outboundProxy: `sip:127.0.0.1:${callee.port};transport=udp`,
      // no ;transport= : UDP and TCP on the same port; port 0: no race with other tests for a free port
      settings: { transport: 'sip:127.0.0.1:0', 'max-calls': 100000 },
      maxSeconds: o.maxSeconds ?? 240,
    });
    const d = daemon;
    const pid = d.process.pid;
    const listening = d.logLines().find((l) => l['msg'] === 'SIP transports listening')?.['transports'];
    const port = Number(/:(\d+);transport=udp$/.exec(Array.isArray(listening) ? String(listening[0]) : '')?.[1]);
    if (!port) throw new Error(`no "SIP transports listening" line with a UDP port in ${d.logFile}`);
    const target = { host: '127.0.0.1', port, alive: () => d.process.isRunning() };
    const total = o.udpCases + o.tcpCases;
    const rssStartKb = rssKb(pid);
    let rssTenPctKb = 0;
    let lastReport = 0;
    const result = await runFuzz(target, {
      seed: o.seed,
      udpCases: o.udpCases,
      tcpCases: o.tcpCases,
      ...(o.deadline !== undefined ? { deadline: o.deadline } : {}),
      onBatch: (p) => {
        const done = p.udp + p.tcp;
        if (rssTenPctKb === 0 && done >= total / 10) rssTenPctKb = rssKb(pid);
        if (o.onProgress && Date.now() - lastReport > 10000) {
          lastReport = Date.now();
          o.onProgress(`${done}/${total} cases (udp ${p.udp}, tcp ${p.tcp}), ${p.optionsFailures} OPTIONS failures, rss ${rssKb(pid)} kB, ${Math.round((Date.now() - started) / 1000)} s`);
        }
      },
    });
    let countersAfter: Counters | undefined;
    if (d.process.isRunning()) {
      try {
        countersAfter = await d.waitForCounters(LIVE_COUNTERS, o.settleMs ?? 45000);
      } catch {
        countersAfter = await d.counters().catch(() => undefined);
      }
    }
    const rssEndKb = rssKb(pid);
    const internalErrors = d.logLines().filter((l) => l['code'] === 'B2BUA_INTERNAL');
    const report: FuzzSessionReport = {
      ...result,
      internalErrors,
      unhandledRejections: internalErrors.filter((l) => l['kind'] === 'unhandled rejection').length,
      uncaughtExceptions: internalErrors.filter((l) => l['kind'] === 'uncaught exception').length,
      rssStartKb,
      rssTenPctKb: rssTenPctKb || rssStartKb,
      rssEndKb,
      countersAfter,
      countersNotZero: countersAfter ? LIVE_COUNTERS.filter((k) => countersAfter[k] !== 0) : ['(no /counters answer)'],
      durationS: Math.round((Date.now() - started) / 100) / 10,
      logFile: d.logFile,
    };
    return report;
  } finally {
    if (daemon?.process.isRunning()) await daemon.stop().catch(() => undefined);
    await callee.close();
  }
}
