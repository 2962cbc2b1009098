/**
 * bin/b2bua-server as a child process for the daemon tests: JSON log lines collected from stdout,
 * bounded waits, always killed in after(). Runs the TypeScript sources (B2BUA_FROM_SOURCES=1) so the
 * tests exercise the tree as it is, built or not.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN = path.join(REPO, 'bin', 'b2bua-server');

export interface DaemonProcess {
  readonly child: ChildProcess;
  /** The file given with -c/--config, if any. */
  readonly configFile: string;
  stdout(): string;
  stderr(): string;
  lines(): Record<string, unknown>[];
  waitForLog(msg: string | RegExp, timeoutMs: number): Promise<Record<string, unknown>>;
  /** Exit code (or 128+signal) once exited; rejects after timeoutMs. */
  exited(timeoutMs: number): Promise<number>;
  kill(): void;
}

const running = new Set<ChildProcess>();

export function startDaemon(args: readonly string[], maxMs = 60000): DaemonProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: REPO,
    env: { ...process.env, B2BUA_FROM_SOURCES: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const exit = new Promise<number>((resolve) => {
    child.once('exit', (code, signal) => { running.delete(child); resolve(code ?? 128 + (signal === 'SIGKILL' ? 9 : 15)); });
  });
  const guard = setTimeout(() => child.kill('SIGKILL'), maxMs);
  guard.unref();

  const lines = (): Record<string, unknown>[] => out.split('\n').flatMap((l) => {
    try { return l.trim() ? [JSON.parse(l) as Record<string, unknown>] : []; } catch { return []; }
  });
  const c = args.findIndex((a) => a === '-c' || a === '--config');
  return {
    child,
    configFile: c >= 0 ? args[c + 1] ?? '' : '',
    stdout: () => out,
    stderr: () => err,
    lines,
    async waitForLog(msg, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = lines().find((l) => typeof l['msg'] === 'string' && (typeof msg === 'string' ? l['msg'] === msg : msg.test(l['msg'])));
        if (hit) return hit;
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`daemon exited (${child.exitCode ?? child.signalCode}) before logging "${msg}":\nstdout:\n${out.slice(-3000)}\nstderr:\n${err.slice(-3000)}`);
        }
        if (Date.now() > deadline) throw new Error(`no "${msg}" log line within ${timeoutMs} ms:\nstdout:\n${out.slice(-3000)}\nstderr:\n${err.slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    exited(timeoutMs) {
      return Promise.race([
        exit,
        new Promise<number>((_, reject) => setTimeout(() => reject(new Error(`daemon still running after ${timeoutMs} ms:\n${out.slice(-2000)}`)), timeoutMs).unref()),
      ]).finally(() => clearTimeout(guard));
    },
    kill: () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); },
  };
}

export function killAll(): void {
  for (const c of running) c.kill('SIGKILL');
  running.clear();
}
