/** CPU pinning and /proc sampling for the side-by-side benchmarks: one relay on core 0, the load on core 1. */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export const RELAY_CORE = 0;
export const LOAD_CORE = 1;
const CLK_TCK = 100;

/** Every thread of `pid` onto `core` (taskset -a). */
export function pin(pid: number, core: number): void {
  execFileSync('taskset', ['-a', '-cp', String(core), String(pid)], { stdio: 'ignore' });
}

/** This process (and what it spawns from now on) onto the load core. */
export function pinSelfToLoadCore(): void {
  pin(process.pid, LOAD_CORE);
}

/** Processes whose process group is `pgid` (a daemon and its children). */
export function groupPids(pgid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) === pgid) out.push(Number(d));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

export interface ProcSample { ticks: number; rssKb: number; threads: number; coreBusy: number; coreTotal: number; at: number }

/** CPU ticks (utime+stime), RSS and threads summed over `pids`, and core RELAY_CORE's busy/total jiffies (/proc/stat). */
export function sample(pids: readonly number[]): ProcSample {
  let ticks = 0;
  let rssKb = 0;
  let threads = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      rssKb += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      threads += Number(/Threads:\s+(\d+)/.exec(status)?.[1] ?? 0);
    } catch {
      /* exited meanwhile */
    }
  }
  const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`cpu${RELAY_CORE} `)) ?? '';
  const j = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (j[3] ?? 0) + (j[4] ?? 0);
  const total = j.reduce((t, x) => t + x, 0);
  return { ticks, rssKb, threads, coreBusy: total - idle, coreTotal: total, at: performance.now() };
}

/** What the relay cost between two samples: its CPU (% of one core), the whole relay core's busy %, RSS and threads at the end. */
export function usage(before: ProcSample, after: ProcSample): { cpuPctPinnedCore: number; corePctBusy: number; rssMB: number; threads: number } {
  const seconds = (after.at - before.at) / 1000;
  const round1 = (x: number): number => Number(x.toFixed(1));
  return {
    cpuPctPinnedCore: round1((100 * (after.ticks - before.ticks)) / CLK_TCK / seconds),
    corePctBusy: round1((100 * (after.coreBusy - before.coreBusy)) / Math.max(1, after.coreTotal - before.coreTotal)),
    rssMB: round1(after.rssKb / 1024),
    threads: after.threads,
  };
}

/** N at which `cpu` reaches `target` % (linear between the measured levels; through the origin beyond the last one). */
export function callsAt(points: readonly { n: number; cpu: number }[], target: number): { calls: number; extrapolated: boolean } | null {
  const p = [...points].filter((x) => x.cpu > 0).sort((a, b) => a.n - b.n);
  if (!p.length) return null;
  for (let i = 0; i < p.length; i++) {
    const hi = p[i]!;
    if (hi.cpu < target) continue;
    const lo = i > 0 ? p[i - 1]! : { n: 0, cpu: 0 };
    return { calls: Math.round(lo.n + ((target - lo.cpu) * (hi.n - lo.n)) / (hi.cpu - lo.cpu)), extrapolated: false };
  }
  const last = p[p.length - 1]!;
  return { calls: Math.round((last.n * target) / last.cpu), extrapolated: true };
}
