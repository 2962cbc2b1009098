/**
 * `--syslog` (Flexisip's): every JSON log line goes to the system log through util-linux `logger` (Node has no Unix
 * datagram sockets), with ident `flexisip-b2bua`, our pid, facility daemon and the severity of the line's level.
 * Refused at start-up when there is no syslog socket, rather than logging into the void.
 */
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { Writable } from 'node:stream';
import { b2buaError } from '../errors/index.js';

export const SYSLOG_SOCKET = '/dev/log';
export const SYSLOG_IDENT = 'flexisip-b2bua';
const FACILITY_DAEMON = 3;

/** pino level → syslog severity (RFC 5424): fatal crit, error err, warn warning, info info, debug/trace debug. */
export function severityOf(level: number): number {
  if (level >= 60) return 2;
  if (level >= 50) return 3;
  if (level >= 40) return 4;
  if (level >= 30) return 6;
  return 7;
}

/** `<PRI>` + the line, PRI = facility daemon × 8 + severity. */
export function syslogLine(jsonLine: string): string {
  let level = 30;
  try { level = Number((JSON.parse(jsonLine) as { level?: unknown }).level ?? 30); } catch { /* not JSON: info */ }
  return `<${FACILITY_DAEMON * 8 + severityOf(level)}>${jsonLine}`;
}

export interface SyslogDestination {
  readonly stream: NodeJS.WritableStream;
  close(): Promise<void>;
}

export function openSyslog(socket: string = SYSLOG_SOCKET, ident: string = SYSLOG_IDENT): SyslogDestination {
  let isSocket = false;
  try { isSocket = statSync(socket).isSocket(); } catch { /* missing */ }
  if (!isSocket) throw b2buaError('B2BUA_SYSLOG_UNAVAILABLE', { why: `${socket} is not a syslog socket (no syslog daemon running?)` });
  const child = spawn('logger', ['--socket', socket, '--socket-errors=on', '--prio-prefix', '--size', '16384', '-t', ident, `--id=${process.pid}`],
    { stdio: ['pipe', 'ignore', 'inherit'] });
  let failed: string | undefined;
  child.on('error', (e) => { failed = e.message; });
  child.on('exit', (code) => { if (code !== 0 && code !== null) failed ??= `logger exited with status ${code}`; });
  child.stdin.on('error', () => { /* reported through 'exit' */ });
  let pending = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (failed !== undefined) { process.stderr.write(chunk); done(); return; }
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      const out = lines.filter((l) => l.trim() !== '').map((l) => `${syslogLine(l)}\n`).join('');
      if (out === '') { done(); return; }
      child.stdin.write(out, () => done());
    },
  });
  return {
    stream,
    close: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null || failed !== undefined) { resolve(); return; }
      child.once('exit', () => resolve());
      child.stdin.end();
      setTimeout(resolve, 2000).unref();
    }),
  };
}
