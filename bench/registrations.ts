/**
 * sip-bridge registrations at scale, IN PROCESS: the plugin's `Registrations` (plugins/sip-bridge/registration.ts)
 * on the core SIP stack and its plugin SIP API (core/sip/stack.ts, core/b2bua/sip-api.ts), wired as the daemon wires
 * them, but without the daemon's per-account log lines. N static accounts of one pool REGISTER (digest: 401, then
 * Authorization) against a sipp registrar (test/e2e/scenarios/sip-bridge/uas_registrar.xml, verifyauth per account),
 * once per throttle (`registrationThrottlingRateMs`). Printed per throttle: wall time from start() until every account
 * is registered, REGISTER exchanges per second, RSS and heap growth per account (after a GC, once the transactions
 * have ended), failures. The reference row: sipp itself as the UAC sending N REGISTER exchanges to the same registrar
 * scenario (test/e2e/scenarios/sip-bridge/uac_register.xml), as fast as it can: what the registrar takes.
 * Not a test: nothing is asserted.
 *
 *   npx tsx --expose-gc bench/registrations.ts
 *   BENCH_ACCOUNTS=2000 BENCH_THROTTLES=0,2 BENCH_REFERENCE=0 npx tsx --expose-gc bench/registrations.ts
 *
 * sipp runs on the same 2 cores as this process; no message trace (it would slow sipp down).
 */
import os from 'node:os';
import path from 'node:path';
import { createPluginSipApi } from '../core/b2bua/sip-api.js';
import { SipStack } from '../core/sip/stack.js';
import type { Logger } from '../core/plugin-api/index.js';
import { buildPools } from '../plugins/sip-bridge/accounts.js';
import { compileBridgeConfig } from '../plugins/sip-bridge/bridge-config.js';
import { parseProvidersText } from '../plugins/sip-bridge/providers-file.js';
import { Registrations } from '../plugins/sip-bridge/registration.js';
import { freePorts } from '../test/harness/ports.js';
import { spawnManaged, type ManagedProcess } from '../test/harness/processes.js';
import { createRunDir } from '../test/harness/run-dir.js';
import { runBench } from './run-bench.js';
import { renderScenario, waitForListening } from '../test/harness/sipp.js';
import { sleep } from '../test/harness/wait.js';

const ACCOUNTS = Math.min(Math.max(Number(process.env['BENCH_ACCOUNTS'] ?? 10_000), 1), 20_000);
const THROTTLES = (process.env['BENCH_THROTTLES'] ?? '0,1').split(',').map(Number).filter((n) => n >= 0 && n <= 50);
const REFERENCE = process.env['BENCH_REFERENCE'] !== '0';
/** Per run: enough for N at the largest throttle plus retransmissions. */
const RUN_BUDGET_S = 240;

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
const mb = (bytes: number): number => Number((bytes / 2 ** 20).toFixed(1));

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

async function startRegistrar(runDir: string, name: string): Promise<{ port: number; proc: ManagedProcess }> {
  const [port, ctrl] = await freePorts(2);
  const scenario = renderScenario('sip-bridge/uas_registrar.xml', runDir, name, { MIN_EXPIRES: 0, GRANT: 3600 });
  const proc = spawnManaged(name, 'sipp', [
    '-sf', scenario, '-t', 'u1', '-i', '127.0.0.1', '-p', String(port), '-cp', String(ctrl), '-nostdin', '-key', 'realm', 'bench.example.net',
    '-m', String(10 * ACCOUNTS), '-l', String(4 * ACCOUNTS), '-deadcall_wait', '100', '-max_recv_loops', '10000', '-buff_size', String(8 * 2 ** 20),
    '-trace_err', '-error_file', path.join(runDir, `${name}.errors.log`), '-timeout', `${RUN_BUDGET_S}s`,
    ...(process.env['BENCH_TRACE'] === '1' ? ['-trace_msg', '-message_file', path.join(runDir, `${name}.messages.log`)] : []),
  ], { cwd: runDir, stdoutFile: path.join(runDir, `${name}.stdout.log`), maxMs: (RUN_BUDGET_S + 10) * 1000 });
  await waitForListening(port!, 'udp');
  return { port: port!, proc };
}

function accountsJson(registrarPort: number, throttleMs: number): string {
  return JSON.stringify({
    schemaVersion: 2,
    providers: [{ name: 'p', accountPool: 'bench', triggerCondition: { strategy: 'Always' }, accountToUse: { strategy: 'Random' }, onAccountNotFound: 'decline', outgoingInvite: { to: '{incoming.to}' } }],
    accountPools: {
      bench: {
        outboundProxy: `<sip:127.0.0.1:${registrarPort};transport=udp>`, registrationRequired: true, maxCallsPerLine: 1, registrationThrottlingRateMs: throttleMs,
        loader: Array.from({ length: ACCOUNTS }, (_, i) => ({ uri: `sip:u${i}@bench.example.net`, secretType: 'clrtxt', secret: `pw-u${i}` })),
      },
    },
  });
}

async function run(throttleMs: number): Promise<Record<string, unknown>> {
  const runDir = createRunDir(`bench-registrations-${throttleMs}`);
  const registrar = await startRegistrar(runDir, 'registrar');
  const stack = new SipStack(quiet, 'bench-registrations');
  const transport = await stack.listen('udp', '127.0.0.1', 0);
  // Registrations only: no subscription is made here.
  const sip = createPluginSipApi(stack, () => `sip:127.0.0.1:${transport.local.port}`, () => { throw new Error('no subscriptions in this benchmark'); });
  try {
    gc();
    const before = process.memoryUsage();
    const file = parseProvidersText(accountsJson(registrar.port, throttleMs), '/bench.json');
    if (!file.ok) throw new Error(JSON.stringify(file));
    const { config, problems } = compileBridgeConfig(file.value);
    if (problems.length > 0) throw new Error(problems.join('\n'));
    const lines = buildPools(config.pools).get('bench')!.lines;
    let registered = 0;
    let failures = 0;
    const answered = new Set<string>();
    let firstPassS = NaN;
    const failureReasons = new Map<string, number>();
    let allDone!: () => void;
    const done = new Promise<void>((resolve) => { allDone = resolve; });
    let t0 = performance.now();
    const regs = new Registrations(lines, {
      sip, log: quiet,
      onChange: (e) => {
        if ((e.state === 'registered' || e.state === 'failed') && !answered.has(e.account)) {
          answered.add(e.account);
          if (answered.size === ACCOUNTS) firstPassS = (performance.now() - t0) / 1000;
        }
        if (e.state === 'registered' && ++registered === ACCOUNTS) allDone();
        if (e.state === 'failed') {
          failures++;
          failureReasons.set(e.reason ?? '?', (failureReasons.get(e.reason ?? '?') ?? 0) + 1);
        }
      },
    });
    const cpu0 = process.cpuUsage();
    t0 = performance.now();
    regs.start();
    const finished = await Promise.race([done.then(() => true), sleep(RUN_BUDGET_S * 1000).then(() => false)]);
    const wallS = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const atDone = process.memoryUsage();
    await sleep(6000); // UDP non-INVITE transactions linger (Timer K, 5 s): measure the steady state
    gc();
    const steady = process.memoryUsage();
    const result = {
      mode: 'in-process Registrations + core SIP stack', accounts: ACCOUNTS, throttleMs, allRegistered: finished, registered,
      wallSeconds: Number(wallS.toFixed(2)), registersPerSecond: Number((registered / wallS).toFixed(0)),
      // every account had its first outcome (registered, or failed and waiting for its retry)
      firstPassSeconds: Number(firstPassS.toFixed(2)), firstPassPerSecond: Number((ACCOUNTS / firstPassS).toFixed(0)),
      throttleFloorSeconds: (ACCOUNTS * throttleMs) / 1000,
      cpuPctOfOneCore: Number(((100 * (cpu.user + cpu.system)) / 1e6 / wallS).toFixed(1)),
      failures, failureReasons: Object.fromEntries(failureReasons),
      rssMBAtDone: mb(atDone.rss), heapUsedMBAtDone: mb(atDone.heapUsed),
      rssBytesPerAccount: Math.round((steady.rss - before.rss) / ACCOUNTS),
      heapBytesPerAccount: Math.round((steady.heapUsed - before.heapUsed) / ACCOUNTS),
      gcExposed: typeof (globalThis as { gc?: unknown }).gc === 'function',
    };
    await regs.stop();
    return result;
  } finally {
    await stack.unlisten(transport).catch(() => undefined);
    await registrar.proc.stop(2000);
  }
}

/** sipp as the UAC: N REGISTER exchanges with digest to the same registrar scenario, as fast as both can. */
async function reference(): Promise<Record<string, unknown>> {
  const runDir = createRunDir('bench-registrations-sipp');
  const registrar = await startRegistrar(runDir, 'registrar');
  try {
    const [port, ctrl] = await freePorts(2);
    const stat = path.join(runDir, 'uac.stat.csv');
    const t0 = performance.now();
    const uac = spawnManaged('uac', 'sipp', [
      `127.0.0.1:${registrar.port}`, '-sf', renderScenario('sip-bridge/uac_register.xml', runDir, 'uac'), '-t', 'u1', '-i', '127.0.0.1', '-p', String(port),
      '-cp', String(ctrl), '-nostdin', '-s', 'u0', '-au', 'u0', '-ap', 'pw-u0', '-m', String(ACCOUNTS), '-r', '20000', '-l', String(ACCOUNTS),
      '-trace_stat', '-stf', stat, '-timeout', `${RUN_BUDGET_S}s`, '-timeout_error', '-max_recv_loops', '10000', '-buff_size', String(8 * 2 ** 20),
    ], { cwd: runDir, stdoutFile: path.join(runDir, 'uac.stdout.log'), maxMs: (RUN_BUDGET_S + 10) * 1000 });
    const status = await uac.exited;
    const wallS = (performance.now() - t0) / 1000;
    const { readIfExists } = await import('../test/harness/wait.js');
    const rows = readIfExists(stat).split('\n').filter((l) => l.trim());
    const head = rows[0]?.split(';') ?? [];
    const last = rows.at(-1)?.split(';') ?? [];
    const col = (name: string): number => Number(last[head.indexOf(name)] ?? NaN);
    const ok = col('SuccessfulCall(C)');
    return {
      mode: 'reference: sipp UAC (uac_register.xml) -> the same sipp registrar', accounts: ACCOUNTS, exitCode: status.code,
      successful: ok, failed: col('FailedCall(C)'), wallSeconds: Number(wallS.toFixed(2)), registersPerSecond: Number((ok / wallS).toFixed(0)),
      note: 'wall time includes sipp start-up (~0.1 s)',
    };
  } finally {
    await registrar.proc.stop(2000);
  }
}

async function main(): Promise<void> {
  console.log(JSON.stringify({ host: { cpus: os.availableParallelism(), node: process.version }, accounts: ACCOUNTS, throttles: THROTTLES, reference: REFERENCE }));
  const rows: Record<string, unknown>[] = [];
  for (const t of THROTTLES) {
    rows.push(await run(t));
    console.log(JSON.stringify(rows.at(-1)));
    await sleep(1000);
  }
  if (REFERENCE) {
    const ref = await reference();
    const ours = rows.find((r) => r['throttleMs'] === 0);
    if (ours) {
      const ratio = (field: string): number => Number((Number(ours[field]) / Number(ref['registersPerSecond'])).toFixed(3));
      ref['oursOverSipp'] = { wallTime: ratio('registersPerSecond'), firstPass: ratio('firstPassPerSecond') };
    }
    console.log(JSON.stringify(ref));
  }
}

runBench(main, ((THROTTLES.length + 1) * (RUN_BUDGET_S + 20) + 30) * 1000);
