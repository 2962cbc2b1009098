/**
 * Run one sipp (3.6.x) scenario headless on loopback, every trace in the test's run dir.
 * Pass/fail comes from sipp's exit code (0 = all calls OK, 1 = a call failed, 99 = no call,
 * 255 = fatal or -timeout_error expiry, 254 = bind failure) plus its stat CSV and message log.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts } from './ports.js';
import { spawnManaged, type ManagedProcess } from './processes.js';
import { readIfExists, StopWaiting, waitUntil } from './wait.js';

export const SCENARIO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../e2e/scenarios');

export interface SippOptions {
  readonly name: string;
  readonly runDir: string;
  /** Scenario file name in test/e2e/scenarios, or an absolute path. */
  readonly scenario: string;
  /** Replacements for `@NAME@` tokens in the scenario (for values sipp cannot take from -key, e.g. status codes). */
  readonly template?: Readonly<Record<string, string | number>>;
  readonly transport?: 'udp' | 'tcp';
  /** Where the UAC sends (host:port); omitted for a UAS. */
  readonly remote?: string;
  /** Local SIP port (default: a free one). */
  readonly port?: number;
  /** Local media port, -mp (default: a free one; sipp also uses +2 for video). */
  readonly mediaPort?: number;
  readonly keys?: Readonly<Record<string, string | number>>;
  /** Number of calls (-m), concurrent limit (-l), call rate per second (-r). */
  readonly calls?: number;
  readonly concurrent?: number;
  readonly rate?: number;
  /** The `-d` pause in ms used by <pause/>. */
  readonly pauseMs?: number;
  readonly maxSeconds?: number;
  readonly extraArgs?: readonly string[];
  /** Local SIP and media address (-i, -mi; default 127.0.0.1), e.g. ::1 for an IPv6 peer. */
  readonly ip?: string;
}

export interface SippResult {
  readonly name: string;
  readonly code: number | null;
  readonly timedOut: boolean;
  /** Last line of the stat CSV, by column name (e.g. "SuccessfulCall(C)"). */
  readonly stats: Readonly<Record<string, string>>;
  readonly messages: string;
  readonly shortMessages: string;
  readonly errors: string;
  /** One line for assertion messages: exit code meaning, counters, first error lines. */
  readonly summary: string;
}

export interface SippRun {
  readonly name: string;
  readonly port: number;
  readonly mediaPort: number;
  readonly process: ManagedProcess;
  readonly files: { messages: string; shortMessages: string; errors: string; stat: string; screen: string; stdout: string };
  /** Resolves when sipp exits (killed after maxSeconds + 10 s at the latest). */
  result(): Promise<SippResult>;
  /** Wait until the message log shows `pattern` (e.g. /^INVITE /m) — for sequencing peers. */
  waitForMessage(pattern: RegExp, timeoutMs: number): Promise<void>;
}

const EXIT_MEANING: Record<number, string> = {
  0: 'all calls successful',
  1: 'at least one call failed',
  97: 'exit on internal command',
  99: 'no call processed',
  255: 'fatal error or global timeout',
  254: 'could not bind a socket',
};

function lastCsvRow(file: string): Record<string, string> {
  const lines = readIfExists(file).split('\n').filter((l) => l.trim());
  if (lines.length < 2) return {};
  const head = lines[0]!.split(';');
  const row = lines[lines.length - 1]!.split(';');
  return Object.fromEntries(head.map((h, i) => [h, row[i] ?? '']));
}

/** Render a scenario (with `@TOKEN@` substitution) into the run dir; returns its path. */
export function renderScenario(scenario: string, runDir: string, name: string, template: Readonly<Record<string, string | number>> = {}): string {
  const src = path.isAbsolute(scenario) ? scenario : path.join(SCENARIO_DIR, scenario);
  let text = fs.readFileSync(src, 'utf8');
  for (const [k, v] of Object.entries(template)) text = text.split(`@${k}@`).join(String(v));
  const left = text.match(/@[A-Z_]+@/);
  if (left) throw new Error(`scenario ${scenario}: no value for template token ${left[0]}`);
  const out = path.join(runDir, `${name}.${path.basename(scenario)}`);
  fs.writeFileSync(out, text);
  return out;
}

export async function startSipp(o: SippOptions): Promise<SippRun> {
  const port = o.port || (await freePorts(1))[0]!;
  const mediaPort = o.mediaPort || (await freePorts(4))[0]!; // sipp uses -mp and -mp+2 (audio, video)
  const [ctrlPort] = await freePorts(1);
  const base = path.join(o.runDir, o.name);
  const files = {
    messages: `${base}.messages.log`,
    shortMessages: `${base}.short.log`,
    errors: `${base}.errors.log`,
    stat: `${base}.stat.csv`,
    screen: `${base}.screen.log`,
    stdout: `${base}.stdout.log`,
  };
  const maxSeconds = o.maxSeconds ?? 30;
  const scenarioFile = renderScenario(o.scenario, o.runDir, o.name, o.template);
  const args: string[] = [
    ...(o.remote ? [o.remote] : []),
    '-sf', scenarioFile,
    '-t', o.transport === 'tcp' ? 't1' : 'u1',
    '-i', o.ip ?? '127.0.0.1', '-p', String(port),
    '-mi', o.ip ?? '127.0.0.1', '-mp', String(mediaPort),
    '-ci', '127.0.0.1', '-cp', String(ctrlPort),
    '-nostdin',
    '-m', String(o.calls ?? 1),
    '-l', String(o.concurrent ?? 1),
    '-timeout', `${maxSeconds}s`, '-timeout_error',
    '-max_retrans', '5',
    '-trace_err', '-error_file', files.errors,
    '-trace_stat', '-stf', files.stat,
    '-trace_msg', '-message_file', files.messages,
    '-trace_shortmsg', '-shortmessage_file', files.shortMessages,
    '-trace_screen', '-screen_file', files.screen,
  ];
  if (o.rate !== undefined) args.push('-r', String(o.rate));
  if (o.pauseMs !== undefined) args.push('-d', String(o.pauseMs));
  for (const [k, v] of Object.entries(o.keys ?? {})) args.push('-key', k, String(v));
  args.push(...(o.extraArgs ?? []));
  const proc = spawnManaged(o.name, 'sipp', args, { cwd: o.runDir, stdoutFile: files.stdout, maxMs: (maxSeconds + 10) * 1000 });

  let cached: Promise<SippResult> | undefined;
  const result = (): Promise<SippResult> =>
    (cached ??= proc.exited.then((status) => {
      const stats = lastCsvRow(files.stat);
      const errors = readIfExists(files.errors);
      const code = status.timedOut || status.stoppedByHarness ? null : status.code;
      const meaning = status.timedOut
        ? 'killed by the harness time budget'
        : status.stoppedByHarness
          ? 'stopped by the harness: still waiting when its peer had finished'
          : (EXIT_MEANING[code ?? -1] ?? `signal ${status.signal}`);
      const summary =
        `sipp[${o.name}] exit=${code} (${meaning}) created=${stats['TotalCallCreated'] ?? '?'} ok=${stats['SuccessfulCall(C)'] ?? '?'} ` +
        `failed=${stats['FailedCall(C)'] ?? '?'}` +
        (errors.trim() ? `\n  errors: ${errors.trim().split('\n').slice(0, 6).join('\n  ')}` : '') +
        (readIfExists(files.stdout).trim() ? `\n  stdout: ${readIfExists(files.stdout).trim().split('\n').slice(-4).join('\n  ')}` : '');
      return {
        name: o.name,
        code,
        timedOut: status.timedOut,
        stats,
        messages: readIfExists(files.messages),
        shortMessages: readIfExists(files.shortMessages),
        errors,
        summary,
      };
    }));

  return {
    name: o.name,
    port,
    mediaPort,
    process: proc,
    files,
    result,
    async waitForMessage(pattern, timeoutMs) {
      await waitUntil(`${pattern} in ${files.messages}`, () => {
        if (pattern.test(readIfExists(files.messages))) return true;
        if (!proc.isRunning()) throw new StopWaiting(`sipp ${o.name} exited before ${pattern}`);
        return undefined;
      }, timeoutMs);
    },
  };
}

/** Wait until a UDP/TCP port is bound (sipp takes a moment to open its sockets). */
export async function waitForListening(port: number, protocol: 'udp' | 'tcp', timeoutMs = 5000): Promise<void> {
  const { execFileSync } = await import('node:child_process');
  await waitUntil(`${protocol}/${port} listening`, () => {
    const out = execFileSync('ss', ['-Hln' + (protocol === 'udp' ? 'u' : 't'), `sport = :${port}`], { encoding: 'utf8' });
    return out.trim() ? true : undefined;
  }, timeoutMs);
}

export interface ShortLogEntry {
  /** Seconds since the epoch. */
  readonly time: number;
  readonly direction: 'S' | 'R';
  readonly firstLine: string;
}

/** The -trace_shortmsg log as entries (columns: date, time, epoch, S|R, Call-ID, CSeq, first line). */
export function shortLogEntries(shortLog: string): ShortLogEntry[] {
  return shortLog
    .split('\n')
    .map((l) => l.split('\t'))
    .filter((f) => f.length >= 7 && (f[3] === 'S' || f[3] === 'R'))
    .map((f) => ({ time: Number(f[2]), direction: f[3] as 'S' | 'R', firstLine: (f[6] ?? '').trim() }));
}

/** First lines of each SIP message in a sipp message log, in order ("S INVITE ...", "R SIP/2.0 180 Ringing"). */
export function sipSequence(shortLog: string): string[] {
  return shortLog
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const f = l.split('\t');
      return `${f[3] ?? ''} ${(f[6] ?? '').trim()}`;
    });
}

/** The SIP messages of a sipp -trace_msg log: blocks "----- <date>" / "UDP message received [n] bytes :" / message. */
export function sipMessages(log: string): { direction: 'sent' | 'received'; text: string }[] {
  const out: { direction: 'sent' | 'received'; text: string }[] = [];
  for (const block of log.split(/^-{10,}.*$/m)) {
    const m = /^\s*\S+ message (sent|received)[^\n]*\n([\s\S]*)$/.exec(block);
    if (m) out.push({ direction: m[1] as 'sent' | 'received', text: m[2]!.trim() });
  }
  return out;
}

/** Messages received by a sipp instance whose first line matches `firstLine` (e.g. /^INVITE /). */
export function received(log: string, firstLine: RegExp): string[] {
  return sipMessages(log).filter((m) => m.direction === 'received' && firstLine.test(m.text)).map((m) => m.text);
}
