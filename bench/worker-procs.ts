/** The engine's media worker processes as /proc shows them: CPU ticks, RSS and threads (bench/media.ts, bench/handshakes.ts). */
import { readdirSync, readFileSync } from 'node:fs';

export interface WorkerProc { pid: number; ticks: number; rssKb: number; threads: number }

/** Children of this process running worker/main (not tsx's esbuild). */
export function mediaWorkers(): WorkerProc[] {
  const out: WorkerProc[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[1]) !== process.pid) continue;
      if (!readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('worker/main')) continue;
      const status = readFileSync(`/proc/${d}/status`, 'utf8');
      out.push({
        pid: Number(d), ticks: Number(f[11]) + Number(f[12]),
        rssKb: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0), threads: Number(/Threads:\s+(\d+)/.exec(status)?.[1] ?? 0),
      });
    } catch {
      /* the process went away */
    }
  }
  return out;
}
