/**
 * The daemon: configuration → application plugin (options validated) → media engine →
 * back-to-back server → plugin.apply(host) → start → hooks.ready → admin interface → "b2bua-server ready".
 *
 * SIGTERM / SIGINT: stop accepting calls (new INVITEs get 503), wait up to shutdown-grace-period
 * for calls to end by themselves, hang up the rest (BYE/CANCEL both legs), run hooks.shutdown
 * (bounded), close media and transports, exit 0. Another SIGTERM meanwhile is ignored; a second SIGINT (Ctrl-C) exits at once (status 1).
 * SIGHUP: re-reads the file; applies `[global] log-level`; other changes are logged as needing a restart.
 * Uncaught exceptions are logged by core/cli/main.ts (the process keeps serving its calls).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createAdminServer, type AdminServer } from '../admin/index.js';
import { cliSocketPath, createCliSocket, type CliSection, type CliSocket } from '../admin/cli-socket.js';
import type { OperationsSource, ReloadResult } from '../admin/cli-commands.js';
import { createB2buaServer } from '../b2bua/index.js';
import { cdrFileProblem, createCdrSink } from '../cdr/index.js';
import type { B2buaServer } from '../b2bua/types.js';
import { B2BUA_SECTION, b2buaServerSchema, CONFIG_WARNING, configError, isTlsTransport, PLUGIN_SECTION_PREFIX, readConfig, type LoadedConfig } from '../config/load.js';
import type { SectionSchema } from '../config/section.js';
import { withNatAddressesResolved } from '../config/nat-addresses.js';
import { b2buaError, B2buaError } from '../errors/index.js';
import { createLogger, type LogLevel } from '../log/index.js';
import { createMediaEngine } from '../media/index.js';
import { createMetrics, MediaTotals, PluginGauges } from '../metrics/index.js';
import type { MediaEngine } from '../media/types.js';
import { createHooks, type ConfigFileView } from '../plugin-api/index.js';
import type { Logger } from '../vocabulary/index.js';
import { applyPlugin, configFileView, describeLocation, PluginAdminCommands, readApplication } from '../plugin-host/index.js';
import { VERSION } from '../cli/version.js';
import { isDetachedChild } from './detach.js';
import { createSystemdNotifier, mediaWatchdogCheck } from './systemd.js';

export interface DaemonOptions {
  readonly configFile: string;
  readonly debug: boolean;
  /** Where the JSON log lines go (default stdout); a test seam. */
  readonly logDestination?: NodeJS.WritableStream;
  /** Folder of the command-line interface socket (Flexisip's /tmp); a test seam. */
  readonly cliDirectory?: string;
  /** --pidfile: written once ready, removed when stopped. */
  readonly pidFile?: string;
  /** Called once the server is ready (--daemon tells its parent). */
  readonly onReady?: () => void;
}

const SHUTDOWN_HOOK_TIMEOUT_MS = 5000;
const DRAIN_TIMEOUT_MS = 5000;
const CLOSE_TIMEOUT_MS = 5000;

export interface RunningDaemon {
  /** Resolves with the exit status once the daemon stopped. */
  readonly stopped: Promise<number>;
  shutdown(reason: string): Promise<number>;
  reload(): ReloadResult;
}

export async function startDaemon(options: DaemonOptions): Promise<RunningDaemon> {
  const reading = readConfig(options.configFile);
  if (reading.problems.length > 0) throw configError(options.configFile, reading.problems);
  const resolved = await withNatAddressesResolved(reading.config);
  if (resolved.problems.length > 0) throw configError(options.configFile, resolved.problems);
  const config = resolved.config;

  const log = createLogger({ level: levelFor(config, options.debug), ...(options.logDestination ? { destination: options.logDestination } : {}) });
  const app = await readApplication(config);
  logConfigWarnings(log, reading.warnings, app.warnings); // as --check-config prints them: with or without problems
  if (!app.application) throw new B2buaError(app.code, app.problems[0] ?? 'application not found', { details: app.problems });
  if (app.problems.length > 0) throw configError(options.configFile, app.problems);
  const { plugin, location, options: pluginOptions } = app.application;
  log.info({ application: plugin.name, from: describeLocation(location), config: config.absolutePath, version: VERSION }, 'starting');
  log.debug({ server: config.server, options: pluginOptions }, 'effective configuration');

  ensureDataDirectory(config);
  const hooks = createHooks();
  const cdr = openCdrSink(config, log);
  hooks.callRecord.tap('cdr', (record) => cdr.write(record));
  const adminCommands = new PluginAdminCommands(plugin);
  const media = await createMediaEngine(config.server, log);
  const mediaTotals = new MediaTotals();
  mediaTotals.track(media);
  const pluginGauges = new PluginGauges(plugin.name);
  let server: B2buaServer | undefined;
  let admin: AdminServer | undefined;
  let cli: CliSocket | undefined;
  try {
    server = createB2buaServer({
      config: config.server, hooks, log, media, version: VERSION,
      ...(isTlsTransport(config.server.transport)
        ? { tls: { certificateFile: config.server.tlsCertificate, privateKeyFile: config.server.tlsPrivateKey } }
        : {}),
    });
    // before start(): /metrics counts the SIP messages from the first one (sip-bridge REGISTERs at ready)
    const metrics = config.server.adminAddress === '' ? undefined : createMetrics(server, {
      mediaHealth: media.health?.bind(media), mediaCounters: () => media.counters(), media: mediaTotals, sip: server.stack, plugin: pluginGauges,
    });
    const configFile = configFileView(config.document);
    await applyPlugin(plugin, {
      hooks, options: pluginOptions, server: config.server, configDir: config.configDir,
      log: log.child({ plugin: plugin.name }), sip: server.sip,
      media: { engine: media.name, ...media.capabilities, unavailable: media.capabilities.unavailable ?? {} }, admin: adminCommands,
      configFile, metrics: pluginGauges,
    });
    const { transports } = await server.start();
    await hooks.ready.promise({ version: VERSION, transports });
    const { adminAddress } = config.server;
    if (adminAddress !== '') {
      const mediaHealth = media.health?.bind(media);
      admin = await createAdminServer(adminAddress, server, log, adminCommands, mediaHealth, metrics);
    }
    const started = server;
    // b2bua-cli's commands: the admin interface's data sources; log-level and reload take SIGHUP's path (below).
    const operations: OperationsSource = {
      calls: () => started.callsWithMedia(), hangUp: (id) => started.hangUp(id), counters: () => started.counters(),
      workers: () => media.health?.() ?? Promise.resolve({ ok: true, workers: [] }), trace: started.stack.trace,
      setLogLevel: (level) => { log.info({ logLevel: level }, 'b2bua-cli log-level: log level applied'); return setLogLevel(level); },
      reload: () => reload(),
    };
    cli = await openCliSocket(options, configFile, plugin.name, plugin.configSchema, adminCommands, log, operations);
    log.info({ transports, application: plugin.name, admin: admin?.url, cli: cli?.path, pid: process.pid }, 'b2bua-server ready');
  } catch (e) {
    await cli?.close();
    await closeQuietly(log, server, media, admin);
    await cdr.close();
    throw e;
  }

  const running = server;
  // READY=1 once /health would answer 200: transports listen, the admin interface is up, the workers answered.
  const systemd = createSystemdNotifier({ log, readySentByParent: isDetachedChild() });
  systemd.ready(() => `ready: ${running.counters().calls} calls`);
  systemd.startWatchdog(mediaWatchdogCheck(media.health?.bind(media)));
  let stopping: Promise<number> | undefined;
  let resolveStopped!: (code: number) => void;
  const stopped = new Promise<number>((resolve) => { resolveStopped = resolve; });

  const shutdown = (reason: string): Promise<number> => {
    stopping ??= (async () => {
      admin?.setStopping();
      log.info({ reason, calls: running.counters().calls }, 'stopping: new calls refused');
      running.stopAccepting();
      systemd.stopping(`stopping: waiting for ${running.counters().calls} calls`);
      const graceMs = config.server.shutdownGracePeriod * 1000;
      await waitForCalls(running, graceMs);
      const left = running.counters().calls;
      if (left > 0) log.info({ calls: left }, 'grace period over: hanging up the remaining calls');
      if (left > 0) systemd.status(`stopping: hanging up ${left} calls`);
      await running.drain(DRAIN_TIMEOUT_MS).catch((e: unknown) => log.error({ err: e }, 'drain failed'));
      await withTimeout(hooks.shutdown.promise(), SHUTDOWN_HOOK_TIMEOUT_MS, 'shutdown hooks')
        .catch((e: unknown) => log.error({ err: e }, 'a plugin shutdown hook failed'));
      await cli?.close();
      systemd.close();
      await closeQuietly(log, running, media, admin);
      await withTimeout(cdr.close(), CLOSE_TIMEOUT_MS, 'call detail records').catch((e: unknown) => log.error({ err: e }, 'closing the call detail records failed'));
      log.info({ reason }, 'b2bua-server stopped');
      resolveStopped(0);
      return 0;
    })();
    return stopping;
  };

  const applied = JSON.stringify(config.server);
  // pino loggers expose a writable `level` shared by their children.
  const setLogLevel = (level: string): string => { (log as unknown as { level: string }).level = level; return level; };
  /** SIGHUP (and b2bua-cli reload): the log level is applied live; other changes are reported as needing a restart. */
  const reload = (): ReloadResult => {
    try {
      const next = readConfig(options.configFile);
      if (next.problems.length > 0) {
        log.error({ problems: next.problems }, 'SIGHUP: the configuration has problems, nothing reloaded');
        return { problems: next.problems };
      }
      const level = setLogLevel(levelFor(next.config, options.debug));
      const restartNeeded = JSON.stringify(next.config.server) !== applied;
      log.info({ logLevel: level, restartNeeded }, restartNeeded
        ? 'SIGHUP: log level applied; other [b2bua-server] changes need a restart'
        : 'SIGHUP: log level applied');
      return { logLevel: level, restartNeeded };
    } catch (e) {
      log.error({ err: e }, 'SIGHUP: cannot read the configuration, nothing reloaded');
      return { problems: [(e as Error).message] };
    }
  };

  return { stopped, shutdown, reload };
}

/**
 * The one place start-up logs configuration warnings, once each (`code: B2BUA_CONFIG_WARNING`, level warn): those of
 * `[b2bua-server]` (core/config) and those the application's validate() returned (core/plugin-host). Plugins do not log
 * their own. The messages are the lines --check-config prints after `B2BUA_CONFIG_WARNING: `.
 */
export function logConfigWarnings(log: Logger, serverWarnings: readonly string[], applicationWarnings: readonly string[]): void {
  for (const warning of serverWarnings) log.warn({ code: CONFIG_WARNING }, warning);
  for (const warning of applicationWarnings) log.warn({ code: CONFIG_WARNING }, warning);
}

/**
 * The process-level wiring: signals and exit status. Resolves with the exit status.
 * Signal handlers are installed before start-up so that a SIGTERM while starting still ends in an orderly stop.
 */
export async function runDaemon(options: DaemonOptions): Promise<number> {
  let daemon: RunningDaemon | undefined;
  let stopRequested: NodeJS.Signals | undefined;
  const onTerm = (signal: NodeJS.Signals): void => {
    if (stopRequested && signal === 'SIGINT') {
      process.stderr.write('b2bua-server: SIGINT during shutdown, exiting now\n');
      process.exit(1);
    }
    stopRequested ??= signal;
    if (daemon) void daemon.shutdown(signal);
  };
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onTerm);
  process.on('SIGHUP', () => daemon?.reload());
  daemon = await startDaemon(options);
  if (options.pidFile !== undefined) writePidFile(options.pidFile, daemon);
  options.onReady?.();
  if (stopRequested) void daemon.shutdown(stopRequested);
  const status = await daemon.stopped;
  if (options.pidFile !== undefined) rmSync(options.pidFile, { force: true });
  return status;
}

/** Flexisip's --pidfile. A file that cannot be written stops the server: an init script would not find it. */
function writePidFile(file: string, daemon: RunningDaemon): void {
  try {
    writeFileSync(file, `${process.pid}\n`);
  } catch (e) {
    void daemon.shutdown('pid file');
    throw b2buaError('B2BUA_PIDFILE_FAILED', { file, why: (e as NodeJS.ErrnoException).code ?? (e as Error).message }, { cause: e });
  }
}

/**
 * Flexisip's CLI socket (/tmp/flexisip-b2bua-<pid>) for flexisip_cli.py and b2bua-cli, showing [b2bua-server] and the
 * application's section. Not fatal: a daemon that cannot create it still serves calls (the reason is logged).
 */
async function openCliSocket(
  options: DaemonOptions, configFile: ConfigFileView, application: string, schema: SectionSchema, commands: PluginAdminCommands, log: Logger,
  operations: OperationsSource,
): Promise<CliSocket | undefined> {
  const valuesOf = (name: string): ReadonlyMap<string, string> => configFile.section(name) ?? new Map();
  const sections: CliSection[] = [
    { name: B2BUA_SECTION, schema: b2buaServerSchema, values: valuesOf(B2BUA_SECTION) },
    { name: `${PLUGIN_SECTION_PREFIX}${application}`, schema, values: valuesOf(`${PLUGIN_SECTION_PREFIX}${application}`) },
  ];
  const path = cliSocketPath(process.pid, options.cliDirectory);
  try {
    return await createCliSocket(path, sections, commands, log, operations);
  } catch (e) {
    log.warn({ cli: path, err: (e as Error).message }, 'command-line interface socket not available (flexisip_cli.py and b2bua-cli will not reach this daemon)');
    return undefined;
  }
}

/** Flexisip creates data-directory when missing; so do we, with a clear error when we cannot. */
function ensureDataDirectory(config: LoadedConfig): void {
  const dir = config.server.dataDirectory;
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    const problem = `${config.file} [b2bua-server] data-directory: cannot create "${dir}" (${why}); give a folder this user may write`;
    throw b2buaError('B2BUA_CONFIG_INVALID', { problem }, { cause: e });
  }
}

/** The call detail records' sink (core/cdr): a cdr-file this user cannot write stops the start, as data-directory does. */
function openCdrSink(config: LoadedConfig, log: Logger): ReturnType<typeof createCdrSink> {
  const { cdrFile, cdrFileMaxSize, cdrFileKeep } = config.server;
  const problem = cdrFile === '' ? undefined : cdrFileProblem(cdrFile);
  if (problem) throw b2buaError('B2BUA_CONFIG_INVALID', { problem: `${config.file} [b2bua-server] cdr-file: ${problem}` });
  return createCdrSink({ file: cdrFile, maxSize: cdrFileMaxSize, keep: cdrFileKeep }, log.child({ component: 'cdr' }));
}

function levelFor(config: LoadedConfig, debug: boolean): LogLevel {
  return debug ? 'debug' : config.logLevel ?? 'info';
}

async function waitForCalls(server: B2buaServer, graceMs: number): Promise<void> {
  const deadline = Date.now() + graceMs;
  while (server.counters().calls > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, Math.min(100, Math.max(1, deadline - Date.now()))));
  }
}

async function closeQuietly(log: Logger, server: B2buaServer | undefined, media: MediaEngine, admin: AdminServer | undefined): Promise<void> {
  const steps: [string, (() => Promise<void>) | undefined][] = [
    ['admin interface', admin && (() => admin.close())],
    ['SIP server', server && (() => server.close())],
    ['media engine', () => media.close()],
  ];
  for (const [what, step] of steps) {
    if (!step) continue;
    await withTimeout(step(), CLOSE_TIMEOUT_MS, what).catch((e: unknown) => log.error({ err: e }, `closing the ${what} failed`));
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(b2buaError('B2BUA_TIMEOUT', { what, ms })), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
