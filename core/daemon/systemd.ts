/**
 * systemd's notification protocol (Type=notify, sd_notify(3)) behind our own small interface; libsystemd's sd_notify
 * through the npm package sd-notify inside. Does nothing when NOTIFY_SOCKET is unset (not started by systemd) and never
 * throws: a native module that cannot load is one warning, and the server runs without notifications.
 *
 * The watchdog (WATCHDOG_USEC, and WATCHDOG_PID when set must be our pid, as sd_watchdog_enabled() reads them) pings at
 * half the interval, each ping only after `check` says the server is healthy: a stuck event loop sends nothing (the timer
 * does not fire), a media worker that does not answer skips the ping (logged at warn), so systemd restarts a hung server.
 */
import { createRequire } from 'node:module';
import type { MediaHealth } from '../media/types.js';
import type { Logger } from '../vocabulary/index.js';

/** The part of sd-notify we use (its native binding: libsystemd's sd_notify). */
export interface SdNotifyBinding {
  watchdog(): void;
  sendState(state: string): void;
}

/** Why the server should not ping the watchdog now; undefined = healthy. */
export type HealthCheck = () => Promise<string | undefined>;

export interface SystemdNotifier {
  /** NOTIFY_SOCKET is set and the binding loaded. */
  readonly enabled: boolean;
  /** The watchdog interval systemd asked for, ms (0 = no watchdog). */
  readonly watchdogMs: number;
  /** READY=1 (unless the parent sends it, see readySentByParent) and STATUS=, refreshed every 10 s while it changes. */
  ready(status: () => string): void;
  /** STOPPING=1: stops the STATUS refresh. */
  stopping(status: string): void;
  status(text: string): void;
  /** Sends READY=1 on behalf of `mainPid` (--daemon: the command systemd started hands over to the detached server). */
  readyFor(mainPid: number, status: string): void;
  /** Starts the watchdog pings (no-op without WATCHDOG_USEC). */
  startWatchdog(check: HealthCheck): void;
  close(): void;
}

export interface SystemdOptions {
  readonly log: Pick<Logger, 'warn' | 'debug'>;
  readonly env?: NodeJS.ProcessEnv;
  readonly pid?: number;
  /** --daemon's detached server: the command systemd started sends READY=1 for it (readyFor), so ready() only sets STATUS. */
  readonly readySentByParent?: boolean;
  /** A test seam: the native binding (default: require('sd-notify')). */
  readonly load?: () => SdNotifyBinding;
}

const STATUS_REFRESH_MS = 10_000;

const NOOP: SystemdNotifier = {
  enabled: false, watchdogMs: 0,
  ready() {}, stopping() {}, status() {}, readyFor() {}, startWatchdog() {}, close() {},
};

function loadSdNotify(): SdNotifyBinding {
  return createRequire(import.meta.url)('sd-notify') as SdNotifyBinding;
}

/** WATCHDOG_USEC in ms, 0 unless it is a positive number and WATCHDOG_PID (when set) is `pid`. */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv, pid: number): number {
  const usec = Number(env['WATCHDOG_USEC']);
  if (!Number.isFinite(usec) || usec <= 0) return 0;
  const owner = env['WATCHDOG_PID'];
  if (owner !== undefined && owner !== '' && Number(owner) !== pid) return 0;
  return Math.max(1, Math.floor(usec / 1000));
}

export function createSystemdNotifier(options: SystemdOptions): SystemdNotifier {
  const env = options.env ?? process.env;
  const { log } = options;
  if (!env['NOTIFY_SOCKET']) return NOOP;
  let binding: SdNotifyBinding;
  try {
    binding = (options.load ?? loadSdNotify)();
  } catch (e) {
    log.warn({ err: (e as Error).message }, 'systemd: NOTIFY_SOCKET is set but the sd-notify module cannot load: no readiness or watchdog notifications');
    return NOOP;
  }
  const pid = options.pid ?? process.pid;
  const watchdogMs = watchdogIntervalMs(env, pid);
  let timer: NodeJS.Timeout | undefined;
  let statusTimer: NodeJS.Timeout | undefined;
  let failed = false;
  const send = (what: string, f: () => void): void => {
    try {
      f();
    } catch (e) {
      if (!failed) log.warn({ err: (e as Error).message, what }, 'systemd: a notification failed');
      failed = true;
    }
  };
  const oneLine = (text: string): string => text.replace(/\n/g, ' ');

  return {
    enabled: true,
    watchdogMs,
    ready(status) {
      // The detached server's own messages are only accepted once the parent handed MAINPID over: its first STATUS waits.
      let last = options.readySentByParent ? '' : oneLine(status());
      if (!options.readySentByParent) send('READY=1', () => binding.sendState(`READY=1\nSTATUS=${last}`));
      clearInterval(statusTimer);
      statusTimer = setInterval(() => {
        const now = oneLine(status());
        if (now !== last) send('STATUS', () => binding.sendState(`STATUS=${now}`));
        last = now;
      }, STATUS_REFRESH_MS);
      statusTimer.unref();
    },
    stopping(status) {
      clearInterval(statusTimer);
      statusTimer = undefined;
      send('STOPPING=1', () => binding.sendState(`STOPPING=1\nSTATUS=${oneLine(status)}`));
    },
    status(text) {
      send('STATUS', () => binding.sendState(`STATUS=${oneLine(text)}`));
    },
    readyFor(mainPid, status) {
      send('READY=1', () => binding.sendState(`READY=1\nMAINPID=${mainPid}\nSTATUS=${oneLine(status)}`));
    },
    startWatchdog(check) {
      if (watchdogMs === 0 || timer) return;
      let checking = false;
      timer = setInterval(() => {
        if (checking) {
          log.warn({ watchdogMs }, 'systemd watchdog: the previous health check has not answered yet; no ping');
          return;
        }
        checking = true;
        void check()
          .catch((e: unknown) => `health check failed: ${(e as Error).message}`)
          .then((problem) => {
            if (!timer) return;
            if (problem === undefined) send('WATCHDOG=1', () => binding.watchdog());
            else log.warn({ problem, watchdogMs }, 'systemd watchdog: not healthy, no ping (systemd restarts the server if this lasts)');
          })
          .finally(() => { checking = false; });
      }, Math.max(1, Math.floor(watchdogMs / 2)));
      timer.unref();
      log.debug({ watchdogMs }, 'systemd watchdog on');
    },
    close() {
      clearInterval(statusTimer);
      statusTimer = undefined;
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}

/** The watchdog's health: every media worker answered its ping (the check /health makes). */
export function mediaWatchdogCheck(health: (() => Promise<MediaHealth>) | undefined): HealthCheck {
  return async () => {
    if (!health) return undefined;
    const h = await health();
    if (h.ok) return undefined;
    const sick = h.workers.filter((w) => !w.ok).map((w) => `media worker ${w.index} (pid ${w.pid ?? 'none'}): ${w.problem ?? 'not ok'}`);
    return sick.length > 0 ? sick.join('; ') : 'the media engine is not healthy';
  };
}
