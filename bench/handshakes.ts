/**
 * Call set-up time and per-call media worker CPU of DTLS-SRTP and ZRTP legs next to SDES, through the GStreamer
 * engine's MediaSession API (no SIP), against far-end peers that really speak each protocol (bench/gst-peer.ts:
 * GStreamer pipelines of our own b2bdtls / b2bzrtp / b2bsrtp elements in this process, loopback UDP).
 *
 *   npx tsx bench/handshakes.ts            # rows sdes>sdes dtls-srtp>dtls-srtp zrtp>zrtp sdes>zrtp dtls-srtp>zrtp; N = 1,10,50
 *   BENCH_ROWS=zrtp>zrtp BENCH_STEPS=1,10 BENCH_SETUP_CALLS=20 BENCH_SECONDS=5 MEDIA_WORKERS=1 BENCH_PIN=1 npx tsx bench/handshakes.ts
 *
 * Per row (leg A mode > leg B mode) and step N, a fresh engine; ceil(BENCH_SETUP_CALLS / N) rounds of N calls set up
 * at once, each bounded by BENCH_SETUP_TIMEOUT_MS; the last round then streams BENCH_SECONDS of steady media
 * (50 packets/s each way per call) before everything hangs up. Prints one JSON object per row and step; asserts nothing.
 * Call set-up (per call): createSession, allocate A and B, configure B (B's answer), B's peer starts, configure A
 * (our answer to A), A's peer starts; set-up time runs from before createSession to the first media packet
 * authenticated by the far-end peer, in both directions (the later of the two).
 */
import dgram from 'node:dgram';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfigText } from '../core/config/load.js';
import { loadDtlsCertificate } from '../core/media/dtls-certificate.js';
import { NATIVE_PLUGIN_DIR, createGstEngine } from '../core/media/gst/index.js';
import { silentLogger } from '../core/log/index.js';
import { generateSrtpKey } from '../core/media/sdes.js';
import type { LocalEndpoint, MediaEngine, MediaSession, SessionStats, SrtpKey, StreamParams } from '../core/media/types.js';
import type { LegId } from '../core/vocabulary/index.js';
import { GstPeer, initPeers, type PeerMode } from './gst-peer.js';
import { mediaWorkers, type WorkerProc } from './worker-procs.js';

const MODES: readonly PeerMode[] = ['sdes', 'dtls-srtp', 'zrtp'];
const ROWS = (process.env['BENCH_ROWS'] ?? 'sdes>sdes,dtls-srtp>dtls-srtp,zrtp>zrtp,sdes>zrtp,dtls-srtp>zrtp').split(',').map((r) => {
  const [a, b] = r.split('>') as [PeerMode, PeerMode];
  if (!MODES.includes(a) || !MODES.includes(b)) throw new Error(`BENCH_ROWS: "${r}" is not <mode>><mode> with modes ${MODES.join(', ')}`);
  return { a, b };
});
const STEPS = (process.env['BENCH_STEPS'] ?? '1,10,50').split(',').map(Number);
for (const n of STEPS) if (!Number.isInteger(n) || n < 1 || n > 200) throw new Error(`BENCH_STEPS: ${n} is not a call count in 1..200`);
const SETUP_CALLS = Math.min(Math.max(Number(process.env['BENCH_SETUP_CALLS'] ?? 20), 1), 200);
const SECONDS = Math.min(Math.max(Number(process.env['BENCH_SECONDS'] ?? 5), 1), 30);
const SETUP_TIMEOUT_MS = Math.min(Math.max(Number(process.env['BENCH_SETUP_TIMEOUT_MS'] ?? 15_000), 1000), 60_000);
const WORKERS = Math.max(1, Number(process.env['MEDIA_WORKERS'] ?? 1));
const PIN = process.env['BENCH_PIN'] !== '0' && os.availableParallelism() >= 2;
const PPS = 50;
const CLK_TCK = 100;
const SUITE = 'AES_CM_128_HMAC_SHA1_80' as const; // what DTLS-SRTP and ZRTP negotiate here too (AES1/HS80)
const PEER_POLL_MS = 5;
/** The worker's own cost with no call (its 200 ms poll timer, GStreamer's clock thread): measured first, per step. */
const IDLE_SECONDS = 2;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round1 = (x: number) => Number(x.toFixed(1));

const ticksBetween = (before: WorkerProc[], after: WorkerProc[]): number =>
  after.reduce((t, p) => t + p.ticks - (before.find((q) => q.pid === p.pid)?.ticks ?? p.ticks), 0);

/** Every thread of `pid` onto `cpu` (threads made later inherit it). */
function pin(pid: number, cpu: number): boolean {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function percentiles(xs: number[]): { p50: number; p95: number; max: number; n: number } | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((x, y) => x - y);
  const at = (p: number) => s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
  return { p50: round1(at(50)), p95: round1(at(95)), max: round1(s[s.length - 1]!), n: s.length };
}

/** First arrival and count of one direction's RTP at the far peer's tap (by the sender's SSRC). */
interface Flow { first: number; count: number }

interface Call {
  readonly i: number;
  readonly peerA: GstPeer;
  readonly peerB: GstPeer;
  /** SDES: the key the engine sends with on each leg, and the key each leg's peer sends with (its a=crypto). */
  readonly engineKey: Record<LegId, SrtpKey>;
  readonly peerKey: Record<LegId, SrtpKey>;
  readonly ab: Flow;
  readonly ba: Flow;
  session?: MediaSession;
  t0: number;
  signalledAt: number;
  legStart: Record<LegId, number>;
  secured: Partial<Record<LegId, number>>;
  failed?: string;
  final?: SessionStats;
}

interface Setup {
  readonly pem: string;
  readonly fingerprint: string;
  readonly tap: dgram.Socket;
  readonly flows: Map<number, Flow>;
}

function newCall(i: number, modeA: PeerMode, modeB: PeerMode, env: Setup): Call {
  const tapPort = env.tap.address().port;
  // Leg A: the engine answers (a=setup:active = DTLS client), so peer A is the DTLS server; leg B the reverse.
  const peerKey = { a: generateSrtpKey(SUITE), b: generateSrtpKey(SUITE) };
  const peerA = new GstPeer({ mode: modeA, tapPort, pem: env.pem, dtlsClient: false, sdesSend: peerKey.a });
  const peerB = new GstPeer({ mode: modeB, tapPort, pem: env.pem, dtlsClient: true, sdesSend: peerKey.b });
  const call: Call = {
    i, peerA, peerB, engineKey: { a: generateSrtpKey(SUITE), b: generateSrtpKey(SUITE) }, peerKey,
    ab: { first: 0, count: 0 }, ba: { first: 0, count: 0 }, t0: 0, signalledAt: 0, legStart: { a: 0, b: 0 }, secured: {},
  };
  env.flows.set(peerA.ssrc, call.ab);
  env.flows.set(peerB.ssrc, call.ba);
  return call;
}

/** What the engine is told about a leg's peer (its "SDP"). */
function legParams(mode: PeerMode, peer: GstPeer, engineSend: SrtpKey, role: 'client' | 'server', env: Setup, peerSdes: SrtpKey): { streams: StreamParams[] } {
  const base = {
    index: 0, kind: 'audio', enabled: true, rtcpMux: true, direction: 'sendrecv',
    remote: { address: '127.0.0.1', rtpPort: peer.socket.port, rtcpPort: peer.socket.port },
  } as const;
  if (mode === 'sdes') return { streams: [{ ...base, encryption: 'sdes', srtp: { send: engineSend, recv: peerSdes } }] };
  if (mode === 'dtls-srtp') return { streams: [{ ...base, encryption: 'dtls-srtp', dtls: { role, remoteFingerprint: env.fingerprint } }] };
  return { streams: [{ ...base, encryption: 'zrtp', zrtp: { peerHelloHash: peer.helloHash() } }] };
}

const remoteOf = (ep: LocalEndpoint, engineSend: SrtpKey) => ({
  rtpPort: ep.rtpPort, sdesRecv: engineSend, ...(ep.fingerprint ? { fingerprint: ep.fingerprint } : {}), ...(ep.zrtpHash ? { zrtpHash: ep.zrtpHash } : {}),
});

/** The offer/answer of one call through the MediaSession API, each peer started as soon as it has our SDP. */
async function setUp(engine: MediaEngine, c: Call, modeA: PeerMode, modeB: PeerMode, env: Setup): Promise<void> {
  c.t0 = performance.now();
  const session = await engine.createSession({ callId: `hs-bench-${c.i}`, noRtpTimeoutMs: 0 });
  c.session = session;
  session.onEvent((e) => {
    if (e.type === 'dtls-connected' || e.type === 'zrtp-secured') c.secured[e.leg] ??= performance.now();
    else if (e.type === 'failed') c.failed ??= e.reason;
  });
  const epA = await session.allocate('a', 0, 'audio', modeA);
  const epB = await session.allocate('b', 0, 'audio', modeB); // our offer to B
  c.legStart.b = performance.now(); // B's answer
  await session.configure('b', legParams(modeB, c.peerB, c.engineKey.b, 'server', env, c.peerKey.b));
  c.peerB.start(remoteOf(epB, c.engineKey.b));
  c.legStart.a = performance.now(); // our answer to A
  await session.configure('a', legParams(modeA, c.peerA, c.engineKey.a, 'client', env, c.peerKey.a));
  c.peerA.start(remoteOf(epA, c.engineKey.a));
  c.signalledAt = performance.now();
}

const established = (c: Call): boolean => c.ab.first > 0 && c.ba.first > 0;

interface StepResult {
  calls: Call[];
  setupTicks: number;
  setupWindowMs: number;
  steady?: Record<string, unknown>;
}

async function round(engine: MediaEngine, n: number, row: { a: PeerMode; b: PeerMode }, env: Setup, first: number, steady: boolean, idleTicksPerSecond: number): Promise<StepResult> {
  const calls: Call[] = [];
  try {
    for (let i = 0; i < n; i++) {
      calls.push(newCall(first + i, row.a, row.b, env));
    }
    // Peers poll their handshakes (this process); the engine's worker polls its own (every 10 ms).
    const poller = setInterval(() => {
      const now = performance.now();
      for (const c of calls) {
        c.peerA.poll(now);
        c.peerB.poll(now);
      }
    }, PEER_POLL_MS);
    try {
      const before = mediaWorkers();
      const start = performance.now();
      const deadline = start + SETUP_TIMEOUT_MS;
      await Promise.all(calls.map((c) => setUp(engine, c, row.a, row.b, env).catch((e: Error) => {
        c.failed ??= e.message.split('\n')[0];
      })));
      while (performance.now() < deadline && calls.some((c) => !established(c) && !c.failed && !c.peerA.error && !c.peerB.error)) await sleep(5);
      const setupWindowMs = performance.now() - start;
      const setupTicks = ticksBetween(before, mediaWorkers());
      const result: StepResult = { calls, setupTicks, setupWindowMs };
      if (steady) {
        await sleep(500); // past the set-up burst
        const counted = (): number => calls.reduce((t, c) => t + c.ab.count + c.ba.count, 0);
        const w0 = mediaWorkers();
        const own0 = process.cpuUsage();
        const p0 = counted();
        const t0 = performance.now();
        await sleep(SECONDS * 1000);
        const w1 = mediaWorkers();
        const seconds = (performance.now() - t0) / 1000;
        const own = process.cpuUsage(own0);
        const ticks = ticksBetween(w0, w1);
        const live = calls.filter(established).length;
        const expected = 2 * live * PPS * seconds;
        result.steady = {
          measuredSeconds: round1(seconds),
          callsStreaming: live,
          workerCpuPctOfOneCore: round1((100 * ticks) / CLK_TCK / seconds),
          workerCpuMsPerCallPerSecond: live ? Number(((1000 * ticks) / CLK_TCK / seconds / live).toFixed(2)) : null,
          workerCpuMsPerCallPerSecondAboveIdle: live ? Number(((1000 * (ticks - idleTicksPerSecond * seconds)) / CLK_TCK / seconds / live).toFixed(2)) : null,
          workerRssMB: round1(w1.reduce((t, p) => t + p.rssKb, 0) / 1024),
          workerThreads: w1.reduce((t, p) => t + p.threads, 0),
          deliveredPct: expected ? Number(((100 * (counted() - p0)) / expected).toFixed(2)) : null,
          generatorCpuPctOfOneCore: round1((own.user + own.system) / 1e4 / seconds),
        };
      }
      return result;
    } finally {
      clearInterval(poller);
    }
  } finally {
    await Promise.all(calls.map(async (c) => {
      c.final = await c.session?.close().catch(() => undefined);
    }));
    for (const c of calls) {
      env.flows.delete(c.peerA.ssrc);
      env.flows.delete(c.peerB.ssrc);
      c.peerA.close();
      c.peerB.close();
    }
  }
}

function engineConfig(dataDirectory: string) {
  return { ...parseConfigText('', 'bench.conf').config.server, transport: 'sip:127.0.0.1:5060', mediaWorkers: WORKERS, dataDirectory };
}

async function step(row: { a: PeerMode; b: PeerMode }, n: number, env: Setup, dataDirectory: string): Promise<Record<string, unknown>> {
  const engine = await createGstEngine(engineConfig(dataDirectory), silentLogger());
  try {
    for (const mode of [row.a, row.b]) {
      if (!engine.capabilities.encryption.includes(mode)) return { row: `${row.a}>${row.b}`, calls: n, skipped: `engine cannot do ${mode}: ${engine.capabilities.unavailable?.[mode] ?? '?'}` };
    }
    const procs = mediaWorkers();
    const pinned = PIN && procs.every((p) => pin(p.pid, 0));
    await sleep(300);
    const idle0 = mediaWorkers();
    await sleep(IDLE_SECONDS * 1000);
    const idleTicksPerSecond = ticksBetween(idle0, mediaWorkers()) / IDLE_SECONDS;
    const rounds = Math.ceil(SETUP_CALLS / n);
    const all: Call[] = [];
    let setupTicks = 0;
    let setupWindowMs = 0;
    let steady: Record<string, unknown> | undefined;
    for (let r = 0; r < rounds; r++) {
      const res = await round(engine, n, row, env, all.length, r === rounds - 1, idleTicksPerSecond);
      all.push(...res.calls);
      setupTicks += res.setupTicks;
      setupWindowMs += res.setupWindowMs;
      steady = res.steady ?? steady;
      await sleep(200);
    }
    const ok = all.filter(established);
    const legs = (['a', 'b'] as const).filter((l) => (l === 'a' ? row.a : row.b) !== 'sdes');
    const security = all.flatMap((c) => [...(c.final?.a ?? []), ...(c.final?.b ?? [])].map((s) => s.security));
    return {
      row: `${row.a}>${row.b}`, legA: row.a, legB: row.b, calls: n, rounds, callsSetUp: all.length, established: ok.length,
      setupMs: percentiles(ok.map((c) => Math.max(c.ab.first, c.ba.first) - c.t0)),
      firstMediaMs: { aToB: percentiles(ok.map((c) => c.ab.first - c.t0)), bToA: percentiles(ok.map((c) => c.ba.first - c.t0)) },
      offerAnswerMs: percentiles(all.filter((c) => c.signalledAt).map((c) => c.signalledAt - c.t0)),
      handshakeMs: Object.fromEntries(legs.map((l) => [l, percentiles(all.filter((c) => c.secured[l]).map((c) => c.secured[l]! - c.legStart[l]))])),
      setupWorkerCpuMsPerCall: Number(((1000 * setupTicks) / CLK_TCK / all.length).toFixed(2)),
      setupWorkerCpuMsPerCallAboveIdle: Number(((1000 * (setupTicks - (idleTicksPerSecond * setupWindowMs) / 1000)) / CLK_TCK / all.length).toFixed(2)),
      setupWindowMs: round1(setupWindowMs),
      idleWorkerCpuPctOfOneCore: round1((100 * idleTicksPerSecond) / CLK_TCK),
      steady,
      engine: {
        secured: security.filter((s) => s?.state === 'secured').length,
        zrtpCacheHits: security.filter((s) => s?.zrtp?.cacheHit).length,
        authFailures: all.reduce((t, c) => t + [...(c.final?.a ?? []), ...(c.final?.b ?? [])].reduce((u, s) => u + s.srtpAuthFailures, 0), 0),
      },
      peersDtlsRetransmissions: all.reduce((t, c) => t + c.peerA.retransmissions + c.peerB.retransmissions, 0),
      peersAuthFailures: all.reduce((t, c) => t + c.peerA.counters().authFailures + c.peerB.counters().authFailures, 0),
      workers: WORKERS, pinned,
      failures: [...new Set(all.map((c) => c.failed ?? (c.peerA.error || c.peerB.error || (established(c) ? '' : 'no media both ways before the set-up timeout'))).filter(Boolean))].slice(0, 3),
    };
  } finally {
    await engine.close();
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-handshakes-'));
  const tap = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 21 });
  try {
    await initPeers(NATIVE_PLUGIN_DIR);
    const cpus = os.availableParallelism(); // before pinning narrows it
    const generatorPinned = PIN && pin(process.pid, 1);
    const peerCert = loadDtlsCertificate(path.join(dir, 'peers')); // one certificate for every peer
    await new Promise<void>((r) => tap.bind(0, '127.0.0.1', () => r()));
    const env: Setup = { pem: peerCert.pem, fingerprint: peerCert.fingerprint, tap, flows: new Map() };
    tap.on('message', (m) => {
      if (m.length < 12) return;
      const flow = env.flows.get(m.readUInt32BE(8));
      if (!flow) return;
      if (flow.count++ === 0) flow.first = performance.now();
    });
    console.log(JSON.stringify({
      host: { cpus, node: process.version, loadavg: os.loadavg().map(round1) },
      rows: ROWS.map((r) => `${r.a}>${r.b}`), steps: STEPS, setupCalls: SETUP_CALLS, seconds: SECONDS, mediaWorkers: WORKERS,
      pinning: PIN ? { worker: 'cpu 0', generator: generatorPinned ? 'cpu 1' : 'not pinned (taskset failed)' } : 'off',
    }));
    for (const row of ROWS) {
      for (const n of STEPS) console.log(JSON.stringify(await step(row, n, env, path.join(dir, 'engine'))));
    }
  } finally {
    tap.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// Every step is bounded (rounds x set-up timeout + steady window); this bounds the whole run.
const perStep = (n: number) => Math.ceil(SETUP_CALLS / n) * (SETUP_TIMEOUT_MS / 1000 + 5) + SECONDS + 20;
const guard = setTimeout(() => {
  console.error('bench: overall time budget exceeded');
  process.exit(2);
}, (ROWS.length * STEPS.reduce((t, n) => t + perStep(n), 0) + 30) * 1000);
main()
  .catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => {
    clearTimeout(guard);
    // node-gtk keeps the process alive otherwise
    setTimeout(() => process.exit(), 100).unref();
  });
