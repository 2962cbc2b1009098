/**
 * The b2bua-server daemon run black-box, as an operator would: a temp INI file, `node bin/b2bua-server
 * --config <file>`, readiness from the JSON log line "b2bua-server ready", live counters from the admin
 * interface (GET /counters), SIGTERM to stop. The repo must be built first (`npx tsc -p .`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { freePorts } from './ports.js';
import { spawnManaged, type ExitStatus, type ManagedProcess } from './processes.js';
import { readIfExists, StopWaiting, waitUntil } from './wait.js';
import { tail } from './run-dir.js';
import type { ServerCounters } from '../../core/b2bua/types.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DAEMON = path.join(REPO_ROOT, 'bin/b2bua-server');

/** The daemon's live counters (GET /counters), as defined at the daemon/framework boundary. */
export type Counters = ServerCounters;

export type CounterName = keyof Counters;
/** What a finished call must leave at zero. */
export const LIVE_COUNTERS: readonly CounterName[] = ['calls', 'dialogs', 'transactions', 'timers', 'mediaSessions', 'mediaPorts'];

export interface B2buaOptions {
  readonly runDir: string;
  /** Transport of our listening URI (leg A). */
  readonly transport?: 'udp' | 'tcp';
  /** Where leg B goes: a SIP URI, e.g. sip:127.0.0.1:5071;transport=udp */
  readonly outboundProxy: string;
  /** Extra or overriding keys of [b2bua-server] (e.g. {"max-calls": 1}); `undefined` drops one of our defaults (e.g. media-engine). */
  readonly settings?: Readonly<Record<string, string | number | boolean | undefined>>;
  /** Extra INI text appended as is (other sections). */
  readonly extraIni?: string;
  readonly readyTimeoutMs?: number;
  /** Extra environment variables of the daemon (e.g. NOTIFY_SOCKET). */
  readonly env?: Readonly<Record<string, string>>;
  /** Node options before the daemon's script (e.g. --cpu-prof, not allowed in NODE_OPTIONS). */
  readonly nodeArgs?: readonly string[];
  readonly maxSeconds?: number;
}

export interface B2buaDaemon {
  readonly host: string;
  readonly port: number;
  readonly transport: 'udp' | 'tcp';
  /** host:port to give a sipp caller as its remote. */
  readonly address: string;
  readonly adminAddress: string;
  readonly configFile: string;
  readonly logFile: string;
  readonly process: ManagedProcess;
  counters(): Promise<Counters>;
  /** Poll /counters until every name in `which` is 0; resolves with the last sample, throws with it on timeout. */
  waitForCounters(which: readonly CounterName[], timeoutMs: number): Promise<Counters>;
  /** Poll /counters until `predicate` holds. */
  waitUntilCounters(what: string, predicate: (c: Counters) => boolean, timeoutMs: number): Promise<Counters>;
  /** JSON log lines parsed (unparseable lines skipped). */
  logLines(): Record<string, unknown>[];
  logTail(lines?: number): string;
  /** Sockets (UDP and TCP, any state) held by the daemon's process group, counted by the kernel (ss -p). */
  socketCount(): number;
  /** SIGTERM, wait for the exit; throws unless the exit code is 0. */
  stop(timeoutMs?: number): Promise<ExitStatus>;
}

/** PIDs whose process group is `pgid` (the daemon and any media worker it forked). */
function groupPids(pgid: number): Set<number> {
  const pids = new Set<number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid) pids.add(Number(entry)); // fields after "comm": state ppid pgrp ...
    } catch {
      /* exited meanwhile */
    }
  }
  return pids;
}

function socketsOfGroup(pgid: number): number {
  const pids = groupPids(pgid);
  const out = execFileSync('ss', ['-Hanutp'], { encoding: 'utf8', maxBuffer: 32 * 1024 * 1024 });
  return out.split('\n').filter((line) => [...line.matchAll(/pid=(\d+)/g)].some((m) => pids.has(Number(m[1])))).length;
}

let staleBuildChecked = false;
/** The daemon runs dist/ when it exists: warn once when sources are newer than the build. */
function warnIfBuildIsStale(): void {
  if (staleBuildChecked || process.env['B2BUA_FROM_SOURCES'] === '1') return;
  staleBuildChecked = true;
  const built = path.join(REPO_ROOT, 'dist/core/cli/main.js');
  if (!fs.existsSync(built)) return; // bin/b2bua-server then runs the sources
  const builtAt = fs.statSync(built).mtimeMs;
  const newer = (dir: string): string | undefined => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        const n = newer(p);
        if (n) return n;
      } else if (e.name.endsWith('.ts') && fs.statSync(p).mtimeMs > builtAt) return p;
    }
    return undefined;
  };
  const stale = ['core', 'plugins'].map((d) => path.join(REPO_ROOT, d)).filter((d) => fs.existsSync(d)).map(newer).find(Boolean);
  if (stale) console.warn(`[e2e] warning: ${path.relative(REPO_ROOT, stale)} is newer than dist/: the daemon runs an old build (npx tsc -p . or B2BUA_FROM_SOURCES=1)`);
}

function ini(sections: Record<string, Record<string, string | number | boolean>>): string {
  return Object.entries(sections)
    .map(([name, kv]) => `[${name}]\n${Object.entries(kv).map(([k, v]) => `${k}=${v}`).join('\n')}\n`)
    .join('\n');
}

export async function startB2bua(o: B2buaOptions): Promise<B2buaDaemon> {
  if (!fs.existsSync(DAEMON)) {
    throw new Error(`${DAEMON} does not exist: the daemon is not built yet (run "npx tsc -p ." / bash scripts/setup.sh)`);
  }
  warnIfBuildIsStale();
  const transport = o.transport ?? 'udp';
  const [port] = await freePorts(1);
  const [adminPort] = await freePorts(1);
  const host = '127.0.0.1';
  const adminAddress = `${host}:${adminPort}`;
  const dataDir = path.join(o.runDir, 'b2bua-data');
  fs.mkdirSync(dataDir, { recursive: true });
  const configFile = path.join(o.runDir, 'flexisip.conf');
  const settings = {
    application: 'trenscrypter',
    transport: `sip:${host}:${port};transport=${transport}`,
    'outbound-proxy': o.outboundProxy,
    'media-engine': 'relay',
    'enable-ice': false,
    'data-directory': dataDir,
    'admin-address': adminAddress,
    'shutdown-grace-period': 1,
    ...o.settings,
  };
  const written = Object.fromEntries(Object.entries(settings).filter((kv): kv is [string, string | number | boolean] => kv[1] !== undefined));
  fs.writeFileSync(configFile, ini({ 'b2bua-server': written }) + (o.extraIni ? `\n${o.extraIni}\n` : ''));
  const logFile = path.join(o.runDir, 'b2bua.log');
  const proc = spawnManaged('b2bua-server', process.execPath, [...(o.nodeArgs ?? []), DAEMON, '--config', configFile], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...o.env },
    stdoutFile: logFile,
    maxMs: (o.maxSeconds ?? 240) * 1000,
  });

  const counters = async (): Promise<Counters> => {
    const res = await fetch(`http://${adminAddress}/counters`, { signal: AbortSignal.timeout(2000) });
    if (!res.ok) throw new Error(`GET /counters: HTTP ${res.status}`);
    const c = (await res.json()) as Counters;
    for (const k of [...LIVE_COUNTERS, 'callsTotal'] as const) {
      if (typeof c[k] !== 'number') throw new Error(`GET /counters: "${k}" missing or not a number in ${JSON.stringify(c)}`);
    }
    return c;
  };
  const waitUntilCounters = async (what: string, predicate: (c: Counters) => boolean, timeoutMs: number): Promise<Counters> => {
    let last: Counters | undefined;
    try {
      return await waitUntil(what, async () => {
        last = await counters();
        return predicate(last) ? last : undefined;
      }, timeoutMs, 100);
    } catch (e) {
      throw new Error(`${(e as Error).message}; last counters: ${JSON.stringify(last)}`);
    }
  };

  const daemon: B2buaDaemon = {
    host,
    port: port!,
    transport,
    address: `${host}:${port}`,
    adminAddress,
    configFile,
    logFile,
    process: proc,
    counters,
    waitUntilCounters,
    waitForCounters: (which, timeoutMs) =>
      waitUntilCounters(`counters ${which.join(',')} back to 0`, (c) => which.every((k) => c[k] === 0), timeoutMs),
    logLines: () =>
      readIfExists(logFile)
        .split('\n')
        .flatMap((l) => {
          try {
            return l.trim() ? [JSON.parse(l) as Record<string, unknown>] : [];
          } catch {
            return [];
          }
        }),
    logTail: (lines = 40) => tail(logFile, lines),
    socketCount: () => socketsOfGroup(proc.pid),
    async stop(timeoutMs = 10000) {
      if (!proc.isRunning()) {
        const s = await proc.exited;
        throw new Error(`b2bua-server had already exited (code ${s.code}, signal ${s.signal}):\n${tail(logFile, 20)}`);
      }
      const status = await proc.stop(timeoutMs, 'SIGTERM');
      if (status.code !== 0) {
        throw new Error(`b2bua-server exit after SIGTERM: code ${status.code}, signal ${status.signal} (expected 0):\n${tail(logFile, 20)}`);
      }
      return status;
    },
  };

  try {
    await waitUntil('"b2bua-server ready" in the daemon log', () => {
      if (/"msg":"b2bua-server ready"/.test(readIfExists(logFile))) return true;
      if (!proc.isRunning()) throw new StopWaiting(`b2bua-server exited during start-up:\n${tail(logFile, 30)}`);
      return undefined;
    }, o.readyTimeoutMs ?? 15000, 50);
  } catch (e) {
    await proc.stop(1000, 'SIGKILL');
    throw new Error(`${(e as Error).message}\nconfig ${configFile}:\n${readIfExists(configFile)}\nlog tail:\n${tail(logFile, 30)}`);
  }
  return daemon;
}
