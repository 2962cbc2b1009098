/**
 * Spawning third-party processes for tests, bounded in time. Each process is started in its own
 * process group (detached) so that stopping it also stops its children, and only what we started
 * is ever signalled (by process-group id, never by name).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** True when we killed it because it outlived its time budget. */
  readonly timedOut: boolean;
  /** True when the harness stopped it (stop()) before it exited by itself. */
  readonly stoppedByHarness: boolean;
}

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly exited: Promise<ExitStatus>;
  isRunning(): boolean;
  /** Signal the whole process group. */
  signal(sig: NodeJS.Signals): void;
  /** `sig` (default SIGTERM), then SIGKILL after graceMs; resolves with the exit status. */
  stop(graceMs?: number, sig?: NodeJS.Signals): Promise<ExitStatus>;
}

export interface SpawnOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** stdout (and stderr unless stderrFile is given) go to this file. */
  readonly stdoutFile: string;
  readonly stderrFile?: string;
  /** stdin from this file/FIFO path (opened by the child side); default: /dev/null. */
  readonly stdinPath?: string;
  /** Hard wall-clock budget; the process group is killed when exceeded. */
  readonly maxMs: number;
}

const live = new Set<ManagedProcess>();

export function spawnManaged(name: string, command: string, args: readonly string[], opts: SpawnOptions): ManagedProcess {
  fs.writeFileSync(`${opts.stdoutFile}.cmd`, [command, ...args].map(shellQuote).join(' ') + '\n');
  const out = fs.openSync(opts.stdoutFile, 'a');
  const err = opts.stderrFile ? fs.openSync(opts.stderrFile, 'a') : out;
  const stdin = opts.stdinPath ? fs.openSync(opts.stdinPath, fs.constants.O_RDWR) : 'ignore';
  const child = spawn(command, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: [stdin, out, err],
    detached: true,
  });
  fs.closeSync(out);
  if (err !== out) fs.closeSync(err);
  if (typeof stdin === 'number') fs.closeSync(stdin);

  let running = true;
  let timedOut = false;
  let stoppedByHarness = false;
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('error', (e) => {
      running = false;
      fs.appendFileSync(opts.stdoutFile, `\n[harness] spawn ${command} failed: ${e.message}\n`);
      resolve({ code: 127, signal: null, timedOut, stoppedByHarness });
    });
    child.once('exit', (code, signal) => {
      running = false;
      resolve({ code, signal, timedOut, stoppedByHarness });
    });
  });
  const pid = child.pid ?? -1;
  const killGroup = (sig: NodeJS.Signals): void => {
    if (!running || pid <= 0) return;
    try {
      process.kill(-pid, sig);
    } catch {
      /* already gone */
    }
  };
  const budget = setTimeout(() => {
    timedOut = true;
    killGroup('SIGKILL');
  }, opts.maxMs);
  budget.unref();

  const proc: ManagedProcess = {
    name,
    pid,
    exited,
    isRunning: () => running,
    signal: killGroup,
    async stop(graceMs = 3000, sig: NodeJS.Signals = 'SIGTERM') {
      if (running) stoppedByHarness = true;
      killGroup(sig);
      const t = setTimeout(() => killGroup('SIGKILL'), graceMs);
      const status = await exited;
      clearTimeout(t);
      return status;
    },
  };
  live.add(proc);
  void exited.then(() => {
    clearTimeout(budget);
    live.delete(proc);
  });
  return proc;
}

/** Stop every process this test process started and that is still running (for after()/afterEach()). */
export async function stopAllStarted(graceMs = 2000): Promise<void> {
  await Promise.all([...live].map((p) => p.stop(graceMs)));
}

export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=,@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, '\'\\\'\'')}'`;
}
