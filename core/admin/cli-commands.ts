/**
 * The operations commands of the command-line interface socket, lower-case so that they never clash with Flexisip's
 * upper-case ones: calls, call <id>, hangup <id>, counters, workers, log-level <level>, reload, trace on [file] | off.
 * Each answer has a text for a person (aligned tables, `key: value` lines) and a JSON value for scripts (`--json`).
 * Errors are Flexisip-style `Error - ...` texts (b2bua-cli exits 64 on them).
 */
import os from 'node:os';
import path from 'node:path';
import type { MediaHealth } from '../media/types.js';
import type { TraceStatus } from '../sip/trace.js';

export interface ReloadResult {
  readonly logLevel?: string;
  readonly restartNeeded?: boolean;
  /** Why nothing was reloaded (the file cannot be read or has problems). */
  readonly problems?: readonly string[];
}

/** What the operations commands read and act on (the daemon wires the server, media engine and logger here). */
export interface OperationsSource {
  /** Calls in progress with their media report (the admin interface's /calls). */
  calls(): Promise<readonly Record<string, unknown>[]>;
  hangUp(id: string): boolean;
  counters(): object;
  workers(): Promise<MediaHealth>;
  /** Applies a log level (the same path as SIGHUP's); returns the level now in force. */
  setLogLevel(level: string): string;
  /** What SIGHUP does. */
  reload(): ReloadResult;
  readonly trace: {
    start(file: string, maxBytes?: number): Promise<void>;
    stop(): Promise<void>;
    status(): TraceStatus;
  };
}

export interface CliAnswer {
  readonly text: string;
  readonly json: unknown;
}

export const OPERATION_COMMANDS = ['calls', 'call', 'hangup', 'counters', 'workers', 'log-level', 'reload', 'trace'] as const;
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;

/** Where `trace on` without a file writes. */
export function defaultTraceFile(pid = process.pid): string {
  return path.join(os.tmpdir(), `b2bua-sip-trace-${pid}.log`);
}

/** The answer to an operations command, an `Error - ...` text, or undefined when `words` is not one of them. */
export async function answerOperation(words: readonly string[], ops: OperationsSource): Promise<CliAnswer | string | undefined> {
  const [command = '', ...args] = words;
  switch (command) {
    case 'calls': {
      const calls = await ops.calls();
      return { json: calls, text: calls.length === 0 ? 'no call in progress' : table(['ID', 'STATE', 'FROM', 'TO', 'CALL-ID A', 'STARTED', 'ANSWERED'],
        calls.map((c) => [c['id'], c['state'], c['from'], c['to'], c['callIdA'], c['startedAt'], c['answeredAt'] ?? '-'].map(cell))) };
    }
    case 'call': {
      if (args.length !== 1) return 'Error - \'call\' command expects 1 argument: <id> (an ID or a CALL-ID of b2bua-cli calls)';
      const call = (await ops.calls()).find((c) => [c['id'], c['callIdA'], c['callIdB']].includes(args[0]));
      if (!call) return `Error - No call ${args[0]} in progress (b2bua-cli calls lists them)`;
      return { json: call, text: callText(call) };
    }
    case 'hangup': {
      if (args.length !== 1) return 'Error - \'hangup\' command expects 1 argument: <id> (an ID or a CALL-ID of b2bua-cli calls)';
      if (!ops.hangUp(args[0]!)) return `Error - No call ${args[0]} in progress (b2bua-cli calls lists them)`;
      return { json: { hungUp: args[0] }, text: `call ${args[0]}: hanging up (BYE or CANCEL on both legs)` };
    }
    case 'counters': {
      const counters = ops.counters();
      return { json: counters, text: keyValues(Object.entries(counters)) };
    }
    case 'workers': {
      const health = await ops.workers();
      const text = health.workers.length === 0
        ? `no media worker process (the media engine runs in the server process); media ${health.ok ? 'ok' : 'not ok'}`
        : table(['WORKER', 'PID', 'STATE', 'SESSIONS', 'PROBLEM'],
          health.workers.map((w) => [String(w.index), cell(w.pid), w.ok ? 'ok' : 'not answering', cell(w.sessions), w.problem ?? '']));
      return { json: health, text };
    }
    case 'log-level': {
      if (args.length !== 1 || !(LOG_LEVELS as readonly string[]).includes(args[0]!)) {
        return `Error - 'log-level' command expects 1 argument: one of ${LOG_LEVELS.join(', ')}`;
      }
      const level = ops.setLogLevel(args[0]!);
      return { json: { logLevel: level }, text: `log level: ${level} (until the next restart or reload)` };
    }
    case 'reload': {
      const r = ops.reload();
      if (r.problems) return `Error - Nothing reloaded: ${r.problems.join('; ')}`;
      return { json: r, text: `log level applied: ${r.logLevel}${r.restartNeeded ? '\nother [b2bua-server] changes need a restart' : ''}` };
    }
    case 'trace':
      return traceCommand(args, ops);
    default:
      return undefined;
  }
}

async function traceCommand(args: readonly string[], ops: OperationsSource): Promise<CliAnswer | string> {
  const [action, file, maxMb] = args;
  if (action === 'on' && args.length <= 3) {
    const maxBytes = maxMb === undefined ? undefined : Number(maxMb) * 1024 * 1024;
    if (maxBytes !== undefined && !(maxBytes > 0)) return `Error - trace on: "${maxMb}" is not a size in megabytes`;
    const target = path.resolve(file ?? defaultTraceFile());
    try {
      await ops.trace.start(target, maxBytes);
    } catch (e) {
      return `Error - trace on: cannot write ${target} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); give a file this server's user may write`;
    }
    const status = ops.trace.status();
    return { json: status, text: `SIP trace on: ${target} (stops at ${status.maxBytes} bytes)` };
  }
  if (action === 'off' && args.length === 1) {
    const before = ops.trace.status();
    await ops.trace.stop();
    return { json: before, text: before.file ? `SIP trace off: ${before.file}, ${before.messages} messages, ${before.bytes} bytes` : 'SIP trace was off' };
  }
  if (action === undefined) {
    const s = ops.trace.status();
    return { json: s, text: s.file ? `SIP trace on: ${s.file}, ${s.messages} messages, ${s.bytes} of ${s.maxBytes} bytes` : 'SIP trace off' };
  }
  return 'Error - \'trace\' command expects: on [file] [max-megabytes] | off';
}

function cell(v: unknown): string {
  if (v === undefined || v === null) return '-';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v) ?? '-';
}

/** Columns padded to their widest cell, two spaces apart. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [header, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

/** `key: value` lines, values aligned. */
export function keyValues(entries: readonly (readonly [string, unknown])[]): string {
  const width = Math.max(0, ...entries.map(([k]) => k.length + 1));
  return entries.map(([k, v]) => `${`${k}:`.padEnd(width)} ${cell(v)}`).join('\n');
}

interface StreamRow { readonly index?: number; readonly kind?: string; readonly packetsIn?: number; readonly bytesIn?: number; readonly packetsOut?: number;
  readonly bytesOut?: number; readonly packetsLost?: number; readonly srtpAuthFailures?: number; readonly rejectedSource?: number; }

function callText(call: Record<string, unknown>): string {
  const { media, ...summary } = call;
  const lines = [keyValues(Object.entries(summary).filter(([, v]) => v !== undefined))];
  const report = media as { a?: readonly StreamRow[]; b?: readonly StreamRow[]; error?: string } | undefined;
  if (!report) lines.push('', 'media: none (no media session yet)');
  else if (report.error !== undefined) lines.push('', `media: not available (${report.error})`);
  else {
    const rows = (['a', 'b'] as const).flatMap((leg) => (report[leg] ?? []).map((s) => [leg, cell(s.index), cell(s.kind), cell(s.packetsIn), cell(s.bytesIn),
      cell(s.packetsOut), cell(s.bytesOut), cell(s.packetsLost), cell(s.srtpAuthFailures), cell(s.rejectedSource)]));
    lines.push('', 'media:', table(['LEG', 'STREAM', 'KIND', 'PACKETS-IN', 'BYTES-IN', 'PACKETS-OUT', 'BYTES-OUT', 'LOST', 'SRTP-FAILURES', 'REJECTED'], rows));
  }
  return lines.join('\n');
}
