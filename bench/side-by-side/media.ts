/**
 * Media side by side: N concurrent SDES calls (leg A AES_CM_128_HMAC_SHA1_80, leg B AES_CM_128_HMAC_SHA1_32),
 * 50 PCMU packets/s each way, through (1) our GStreamer engine, one media worker, in-process MediaSession API, and
 * (2) rtpengine (userspace, one thread, ng protocol). The relay runs on core 0, this process (the SRTP load, see
 * ../srtp-load.ts) on core 1. N is stepped up per relay until delivery drops below 99.9 %, its CPU exceeds 95 %
 * of the core, or the time budget runs out.
 */
import { parseConfigText } from '../../core/config/load.js';
import { createGstEngine } from '../../core/media/gst/index.js';
import { silentLogger } from '../../core/log/index.js';
import { generateSrtpKey } from '../../core/media/sdes.js';
import type { MediaSession } from '../../core/media/types.js';
import { openEngineCall, SUITE_A, SUITE_B } from '../engine-call.js';
import { mediaWorkers } from '../worker-procs.js';
import { LoadSide, loadResult, PPS, sidePair, stream, type LoadResult } from '../srtp-load.js';
import { callsAt, pin, RELAY_CORE, sample, usage, type ProcSample } from './procs.js';
import { startRtpengine, type Rtpengine } from './rtpengine.js';

export const MIN_DELIVERED_PCT = 99.9;
const MAX_CPU_PCT = 95;

export type RelayName = 'b2bua-gstreamer' | 'rtpengine';

export interface MediaOptions {
  readonly levels: readonly number[];
  readonly seconds: number;
  /** Date.now() by which the last level must have ended. */
  readonly deadline: number;
  readonly runDir: string;
}

export interface MediaRow extends LoadResult {
  relay: RelayName;
  calls: number;
  seconds: number;
  cpuPctPinnedCore: number;
  /** The whole relay core's busy time (other processes of the machine included). */
  corePctBusy: number;
  rssMB: number;
  threads: number;
  generatorCpuPct: number;
  perCall: { setupMs: number; teardownMs: number; rssKB: number; threads: number };
}

interface Prepared { pids: number[]; idle: ProcSample; setupMs: number; teardown: () => Promise<number> }

/** Our engine with one worker on the relay core: n sessions configured, sides keyed. */
async function prepareGst(n: number, sides: LoadSide[], packets: number): Promise<Prepared> {
  const engine = await createGstEngine(
    { ...parseConfigText('', 'bench.conf').config.server, transport: 'sip:127.0.0.1:5060', mediaWorkers: 1 },
    silentLogger(),
  );
  const sessions: MediaSession[] = [];
  const teardown = async (): Promise<number> => {
    const t = performance.now();
    await Promise.all(sessions.map((s) => s.close().catch(() => undefined)));
    const ms = performance.now() - t;
    await engine.close();
    return ms;
  };
  try {
    // a first session starts the worker: pin it before the measured set-up
    const first = await engine.createSession({ callId: 'bench-warm-up', noRtpTimeoutMs: 30_000 });
    const pids = mediaWorkers().map((p) => p.pid);
    if (pids.length !== 1) throw new Error(`expected one media worker, found ${pids.length}`);
    pin(pids[0]!, RELAY_CORE);
    await first.close();
    const idle = sample(pids);
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const { session, sides: pair } = await openEngineCall(engine, i, packets);
      sessions.push(session);
      sides.push(...pair);
    }
    const setupMs = (performance.now() - t0) / n;
    pin(pids[0]!, RELAY_CORE); // the threads of the new sockets
    return { pids, idle, setupMs, teardown };
  } catch (e) {
    await teardown();
    throw e;
  }
}

/** n calls through rtpengine, sides keyed from its SDPs. */
async function prepareRtpengine(rtp: Rtpengine, n: number, sides: LoadSide[], packets: number, level: number): Promise<Prepared> {
  const pids = [rtp.process.pid];
  const idle = sample(pids);
  const callIds: string[] = [];
  const teardown = async (): Promise<number> => {
    const t = performance.now();
    for (const id of callIds) await rtp.delete(id).catch(() => undefined);
    return performance.now() - t;
  };
  try {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const [a, b] = await sidePair();
      sides.push(a, b);
      const sendA = generateSrtpKey(SUITE_A);
      const sendB = generateSrtpKey(SUITE_B);
      const c = await rtp.call(`${level}-${i}`, a.port, sendA, b.port, sendB);
      callIds.push(c.callId);
      a.relayPort = c.portA;
      b.relayPort = c.portB;
      a.prepare(packets, 0xa0000 + i, sendA, c.keyToA);
      b.prepare(packets, 0xb0000 + i, sendB, c.keyToB);
    }
    return { pids, idle, setupMs: (performance.now() - t0) / n, teardown };
  } catch (e) {
    await teardown();
    throw e;
  }
}

async function measure(relay: RelayName, n: number, seconds: number, rtp: Rtpengine | undefined): Promise<MediaRow> {
  const sides: LoadSide[] = [];
  const packets = seconds * PPS;
  const p = relay === 'rtpengine' ? await prepareRtpengine(rtp!, n, sides, packets, n) : await prepareGst(n, sides, packets);
  let teardownMs = NaN;
  try {
    const cpu0 = process.cpuUsage();
    const before = sample(p.pids);
    const elapsed = await stream(sides, packets);
    const after = sample(p.pids);
    const cpu = process.cpuUsage(cpu0);
    const load = loadResult(sides, packets);
    teardownMs = await p.teardown();
    const round = (x: number, d = 1): number => Number(x.toFixed(d));
    return {
      relay,
      calls: n,
      seconds: round(elapsed, 2),
      ...usage(before, after),
      generatorCpuPct: round((100 * (cpu.user + cpu.system)) / 1e6 / elapsed),
      ...load,
      perCall: {
        setupMs: round(p.setupMs, 2),
        teardownMs: round(teardownMs / n, 2),
        rssKB: Math.round((after.rssKb - p.idle.rssKb) / n),
        threads: round((after.threads - p.idle.threads) / n, 2),
      },
    };
  } finally {
    if (Number.isNaN(teardownMs)) await p.teardown();
    for (const s of sides) s.close();
  }
}

export interface MediaSummary {
  rows: MediaRow[];
  callsPerCoreAt80: Record<RelayName, { calls: number; extrapolated: boolean } | null>;
  /** Ours / rtpengine's. */
  ratio: number | null;
  stoppedBy: Record<RelayName, string>;
}

export async function runMedia(o: MediaOptions): Promise<MediaSummary> {
  const rtp = await startRtpengine(o.runDir);
  const rows: MediaRow[] = [];
  const running = new Set<RelayName>(['b2bua-gstreamer', 'rtpengine']);
  const stoppedBy: Record<RelayName, string> = { 'b2bua-gstreamer': 'last level', rtpengine: 'last level' };
  try {
    for (const n of o.levels) {
      for (const relay of running) {
        // set-up and streaming, with margin: about seconds + n x 20 ms
        if (Date.now() + (o.seconds + 5) * 1000 + n * 20 > o.deadline) {
          stoppedBy[relay] = `time budget (before ${n} calls)`;
          running.delete(relay);
          continue;
        }
        const row = await measure(relay, n, o.seconds, rtp);
        rows.push(row);
        console.error(`bench media: ${relay} ${n} calls: cpu ${row.cpuPctPinnedCore} %, delivered ${row.deliveredPct} %`);
        if (row.deliveredPct < MIN_DELIVERED_PCT || row.cpuPctPinnedCore > MAX_CPU_PCT) {
          stoppedBy[relay] = row.deliveredPct < MIN_DELIVERED_PCT ? `delivered ${row.deliveredPct} % at ${n} calls` : `cpu ${row.cpuPctPinnedCore} % at ${n} calls`;
          running.delete(relay);
        }
      }
      if (!running.size) break;
    }
  } finally {
    await rtp.stop();
  }
  // the capacity estimate only from levels that delivered
  const at80 = (relay: RelayName): { calls: number; extrapolated: boolean } | null =>
    callsAt(rows.filter((r) => r.relay === relay && r.deliveredPct >= MIN_DELIVERED_PCT).map((r) => ({ n: r.calls, cpu: r.cpuPctPinnedCore })), 80);
  const ours = at80('b2bua-gstreamer');
  const theirs = at80('rtpengine');
  return {
    rows,
    callsPerCoreAt80: { 'b2bua-gstreamer': ours, rtpengine: theirs },
    ratio: ours && theirs ? Number((ours.calls / theirs.calls).toFixed(3)) : null,
    stoppedBy,
  };
}
