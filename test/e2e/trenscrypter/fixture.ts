/**
 * Shared steps of the trenscrypter e2e tests: the daemon with the GStreamer engine and the trenscrypter
 * application, our own SIP+SRTP callee as its outbound proxy, report on failure, everything stopped after.
 */
import type { Context } from 'mocha';
import { createRunDir } from '../../harness/run-dir.js';
import { startB2bua, type B2buaDaemon } from '../../harness/b2bua.js';
import { stopAllStarted } from '../../harness/processes.js';
import { startAnswerer, type Answerer, type Encryption } from '../../harness/srtp-call.js';
import { SipUa } from '../../harness/sip-ua.js';

export interface Policy {
  /** `outgoing-enc-regex` pairs, e.g. ['sdes', 'sip:bob@.*']. */
  readonly enc?: readonly string[];
  /** `outgoing-srtp-regex` pairs. */
  readonly srtp?: readonly string[];
}

/** Everything a test started, stopped in afterEach. */
export const live: { b2bua?: B2buaDaemon | undefined; closers: (() => void)[]; runDir?: string | undefined } = { closers: [] };

export function trenscrypterSuite(ctx: Mocha.Suite, timeoutMs = 60000): void {
  ctx.timeout(timeoutMs);
  ctx.afterEach(async function (this: Context) {
    if (this.currentTest?.state === 'failed' && live.b2bua) {
      console.log(`--- run dir: ${live.runDir}\n--- b2bua log tail (${live.b2bua.logFile}):\n${live.b2bua.logTail(30)}`);
    }
    for (const close of live.closers.splice(0)) {
      try {
        close();
      } catch {
        /* already closed */
      }
    }
    live.b2bua = undefined;
    await stopAllStarted();
  });
}

/** The trenscrypter section of the INI: values are whitespace-separated pairs. */
export function trenscrypterIni(p: Policy): string {
  const lines = ['[b2bua-server::trenscrypter]'];
  if (p.enc) lines.push(`outgoing-enc-regex=${p.enc.join(' ')}`);
  if (p.srtp) lines.push(`outgoing-srtp-regex=${p.srtp.join(' ')}`);
  return lines.join('\n');
}

export async function startTrenscrypter(o: {
  name: string;
  /** Default: a new run dir named after `name`. */
  runDir?: string;
  outboundProxyPort: number;
  policy?: Policy;
  workers?: number;
  settings?: Readonly<Record<string, string | number | boolean>>;
}): Promise<B2buaDaemon> {
  const runDir = o.runDir ?? createRunDir(o.name);
  live.runDir = runDir;
  const b2bua = await startB2bua({
    runDir,
    outboundProxy: `sip:127.0.0.1:${o.outboundProxyPort};transport=udp`,
    settings: { application: 'trenscrypter', 'media-engine': 'gstreamer', 'media-workers': o.workers ?? 1, ...o.settings },
    extraIni: `[global]\nlog-level=debug\n\n${trenscrypterIni(o.policy ?? {})}`,
  });
  live.b2bua = b2bua;
  return b2bua;
}

/** Our callee (leg B) + the daemon in front of it + our caller UA (leg A). */
export async function setUp(o: {
  name: string;
  callee: Encryption;
  policy?: Policy;
  workers?: number;
  calleeFrequency?: number;
  /** Packets the callee sends per call (default: until hang-up). */
  calleeMaxPackets?: number;
  /** The callee starts its media this long after the ACK (default: on the ACK). */
  calleeMediaDelayMs?: number;
  settings?: Readonly<Record<string, string | number | boolean>>;
}): Promise<{ b2bua: B2buaDaemon; callee: Answerer; caller: SipUa; target: (user: string) => string }> {
  const callee = await startAnswerer(o.callee, { frequency: o.calleeFrequency ?? 880, user: 'bob', maxPackets: o.calleeMaxPackets, mediaStartDelayMs: o.calleeMediaDelayMs });
  live.closers.push(() => callee.close());
  const b2bua = await startTrenscrypter({ name: o.name, outboundProxyPort: callee.ua.port, policy: o.policy, workers: o.workers, settings: o.settings });
  const caller = await SipUa.open({ user: 'alice' });
  live.closers.push(() => caller.close());
  return { b2bua, callee, caller, target: (user) => `sip:${user}@${b2bua.address}` };
}

/** Sum of a per-leg statistic over every "media report" the daemon logged (one per call at teardown). */
export function mediaReportTotal(b2bua: B2buaDaemon, stat: 'srtpAuthFailures' | 'srtpReplays' | 'rejectedSource' | 'packetsIn' | 'packetsOut', leg?: 'a' | 'b'): number {
  let total = 0;
  for (const line of b2bua.logLines()) {
    if (line['msg'] !== 'media report') continue;
    const media = line['media'] as Record<'a' | 'b', Record<string, number>[]>;
    for (const l of leg ? [leg] : (['a', 'b'] as const)) for (const s of media[l] ?? []) total += s[stat] ?? 0;
  }
  return total;
}

/** Per leg and stream, the media report's packet and refusal counts: what an assertion on a total prints to say where. */
export function mediaReportSummary(b2bua: B2buaDaemon): string {
  const keep = ['kind', 'packetsIn', 'packetsOut', 'srtpAuthFailures', 'srtpReplays', 'rejectedSource'];
  return b2bua.logLines().filter((l) => l['msg'] === 'media report').map((line) => {
    const media = line['media'] as Record<'a' | 'b', Record<string, unknown>[]>;
    return (['a', 'b'] as const).map((leg) => `leg ${leg}: ${JSON.stringify((media[leg] ?? []).map((s) => Object.fromEntries(keep.map((k) => [k, s[k]]))))}`).join('; ');
  }).join(' | ');
}

export function mediaReportCount(b2bua: B2buaDaemon): number {
  return b2bua.logLines().filter((l) => l['msg'] === 'media report').length;
}

/**
 * The daemon as a Flexisip user runs it: only Flexisip's keys (and the harness's admin-address, which /counters is
 * read from), so the default engine transcodes every mode; leg B goes to `calleePort`, routed by `enc`.
 */
export async function startFlexisipKeysDaemon(runDir: string, calleePort: number, enc: readonly string[]): Promise<B2buaDaemon> {
  live.runDir = runDir;
  const b2bua = await startB2bua({
    runDir,
    outboundProxy: `sip:127.0.0.1:${calleePort};transport=udp`,
    settings: { 'media-engine': undefined, 'shutdown-grace-period': undefined },
    extraIni: `[global]\nlog-level=debug\n\n${trenscrypterIni({ enc })}`,
  });
  live.b2bua = b2bua;
  return b2bua;
}
