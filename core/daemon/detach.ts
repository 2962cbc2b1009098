/**
 * `--daemon` (Flexisip's, used by its systemd unit with Type=forking): the command starts the same command again as a
 * detached process (its own session, no terminal input), waits until that process says it is ready, prints its pid and
 * exits 0; if the server fails to start, exits 1 (78 when its configuration is wrong). Without --syslog, standard output and error are inherited, so the log
 * still reaches whatever the command's output goes to (the journal under systemd); with --syslog they are closed.
 * Under systemd Type=notify (NOTIFY_SOCKET set), the command sends READY=1 with MAINPID=<server pid> itself, as the
 * process systemd watches, then exits; the server's later messages (WATCHDOG=1, STOPPING=1) come from the new main pid.
 */
import { spawn } from 'node:child_process';
import { EXIT_CONFIG } from '../cli/exit-status.js';
import { createSystemdNotifier } from './systemd.js';

/** Set in the detached process: it runs the server instead of detaching again. */
export const DETACHED_ENV = 'B2BUA_DETACHED';
const START_TIMEOUT_MS = 120_000;

export function isDetachedChild(): boolean {
  return process.env[DETACHED_ENV] === '1';
}

/** Tells the parent of a detached server that it is ready (no-op otherwise). */
export function reportReady(): void {
  if (!isDetachedChild() || !process.send) return;
  process.send({ ready: true, pid: process.pid }, () => process.disconnect?.());
}

/** `quiet`: the server's standard output and error go nowhere (its log goes to syslog). */
/** Tells the parent of a detached server why it could not start (its stderr may go nowhere). */
export function reportStartFailure(message: string): void {
  if (!isDetachedChild() || !process.send || !process.connected) return;
  process.send({ error: message });
}

export function detach(entry: string, argv: readonly string[], { quiet }: { quiet: boolean }): Promise<number> {
  const output = quiet ? 'ignore' : 'inherit';
  const child = spawn(process.execPath, [...process.execArgv, entry, ...argv], {
    detached: true,
    stdio: ['ignore', output, output, 'ipc'],
    env: detachedEnv(),
  });
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      process.stderr.write(`b2bua-server: the server (pid ${child.pid}) did not report ready within ${START_TIMEOUT_MS / 1000} s; it is left running\n`);
      resolve(1);
    }, START_TIMEOUT_MS);
    child.on('message', (m: { ready?: boolean; error?: string }) => {
      if (typeof m?.error === 'string') process.stderr.write(`${m.error}\n`);
      if (!m?.ready) return;
      clearTimeout(timer);
      if (child.pid !== undefined) createSystemdNotifier({ log: stderrLog }).readyFor(child.pid, 'ready: 0 calls');
      process.stdout.write(`b2bua-server: running in the background, pid ${child.pid}\n`);
      child.unref();
      child.disconnect?.();
      resolve(0);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      process.stderr.write(`b2bua-server: the server exited while starting (${signal ?? `status ${code}`})\n`);
      resolve(code === EXIT_CONFIG ? EXIT_CONFIG : 1);
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      process.stderr.write(`b2bua-server: cannot start the server: ${e.message}\n`);
      resolve(1);
    });
  });
}

/** The server's environment: WATCHDOG_PID names this command, not the server (which then reads WATCHDOG_USEC alone). */
function detachedEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, [DETACHED_ENV]: '1' };
  if (env['WATCHDOG_PID'] === String(process.pid)) delete env['WATCHDOG_PID'];
  return env;
}

const stderrLog = {
  warn: (fields: object, message: string): void => { process.stderr.write(`b2bua-server: ${message} ${JSON.stringify(fields)}\n`); },
  debug: (): void => {},
};
