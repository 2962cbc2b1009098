/** Shared steps of the call tests: one fresh daemon per test, peers around it, report on failure. */
import assert from 'node:assert/strict';
import type { Context } from 'mocha';
import { createRunDir, tail } from '../../harness/run-dir.js';
import { current, runCallPair, standardTones, type CallPairOptions, type CallPairResult } from '../../harness/call-pair.js';
import type { PairSpec, Tones } from '../../harness/call-scenarios.js';
import { stopAllStarted } from '../../harness/processes.js';
import { requireTools } from '../../harness/tools.js';
import { LIVE_COUNTERS, type B2buaDaemon, type B2buaOptions, type CounterName } from '../../harness/b2bua.js';
import { describeFlows, packetsTo, summarizeFlows, toneSecondsIn } from '../../harness/flows.js';

/**
 * How long a finished call may take to release everything. Completed UDP transactions legitimately absorb
 * retransmissions for a while after the call (the server lingers 4 s; RFC 3261 Timer J/D would be 32 s).
 */
export const SETTLE_MS = 12000;

export interface ThroughOptions {
  /** Keys of [b2bua-server] for this test (e.g. {'max-calls': 1}). */
  readonly settings?: B2buaOptions['settings'];
  readonly transport?: 'udp' | 'tcp';
  readonly capture?: boolean;
  readonly beforeCaller?: CallPairOptions['beforeCaller'];
}

/** mocha hooks for a suite of call tests: peers required, everything stopped after each test, logs on failure. */
export function callSuite(ctx: Mocha.Suite, timeoutMs = 45000): void {
  ctx.timeout(timeoutMs);
  ctx.beforeAll(() => requireTools(['sipp', 'dumpcap', 'ss']));
  ctx.afterEach(async function (this: Context) {
    if (this.currentTest?.state === 'failed') {
      const lines = [`--- run dir: ${current.runDir}`];
      if (current.b2bua) lines.push(`--- b2bua log tail (${current.b2bua.logFile}):`, current.b2bua.logTail(40));
      for (const r of current.runs) lines.push(`--- ${r.name} errors:`, tail(r.files.errors, 10));
      console.log(lines.join('\n'));
    }
    await stopAllStarted();
  });
}

/** Run a scenario pair through a fresh b2bua-server; the daemon is left running for further checks. */
export async function callThrough(name: string, make: (t: Tones) => PairSpec, o: ThroughOptions = {}): Promise<CallPairResult & { b2bua: B2buaDaemon; tones: Tones }> {
  const runDir = createRunDir(name);
  const tones = standardTones(runDir);
  const spec = make(tones);
  const r = await runCallPair({
    runDir,
    ...spec,
    capture: o.capture,
    through: { settings: o.settings, transport: o.transport },
    beforeCaller: o.beforeCaller,
  });
  return { ...r, b2bua: r.b2bua!, tones };
}

export function assertExitCodes(r: CallPairResult, caller = 0, callee = 0): void {
  assert.equal(r.caller.code, caller, `caller exit code\n${r.report}`);
  assert.equal(r.callee.code, callee, `callee exit code\n${r.report}`);
}

/** The call left nothing behind (polled, not slept) and the daemon stops cleanly with exit 0. */
export async function assertCleanAndStop(b2bua: B2buaDaemon, which: readonly CounterName[] = LIVE_COUNTERS, timeoutMs = SETTLE_MS): Promise<void> {
  await b2bua.waitForCounters(which, timeoutMs);
  await b2bua.stop();
}

export { LIVE_COUNTERS };

/** Tone seconds decoded from what arrived at each peer's media port (after the relay). */
export function mediaAtPeers(r: CallPairResult): { atCallee440: number; atCaller880: number; flows: string } {
  return {
    atCallee440: toneSecondsIn(packetsTo(r.packets, r.calleeRun.mediaPort), 440),
    atCaller880: toneSecondsIn(packetsTo(r.packets, r.callerRun.mediaPort), 880),
    flows: describeFlows(summarizeFlows(r.packets, [440, 880])),
  };
}
