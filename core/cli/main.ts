/**
 * Entry point of bin/b2bua-server. Exit status: 0 = fine (daemon stopped by SIGTERM, config OK),
 * 78 = configuration problem, --check-config's too (EX_CONFIG: a service manager must not restart),
 * 1 = transient start-up failure (port in use, media worker cannot start), 2 = wrong command line;
 * the message is on stderr (core/cli/exit-status.ts).
 */
import { isB2buaError } from '../errors/index.js';
import { EXIT_CONFIG, EXIT_OK, exitStatusFor } from './exit-status.js';
import { HOST_API_VERSION } from '../plugin-api/index.js';
import { detach, isDetachedChild, reportReady, reportStartFailure } from '../daemon/detach.js';
import { runDaemon } from '../daemon/run.js';
import { openSyslog, SYSLOG_SOCKET } from '../log/syslog.js';
import { parseArgs, USAGE } from './args.js';
import { checkConfig } from './check-config.js';
import { dumpDefault } from './dump-default.js';
import { VERSION } from './version.js';

export async function main(argv: readonly string[]): Promise<number> {
  try {
    const options = parseArgs(argv);
    switch (options.action) {
      case 'help':
        process.stdout.write(`${USAGE}\n`);
        return 0;
      case 'version':
        process.stdout.write(`b2bua-server ${VERSION} (plugin host API ${HOST_API_VERSION})\n`);
        return 0;
      case 'dump-default':
        process.stdout.write(await dumpDefault());
        return 0;
      case 'check-config': {
        const result = await checkConfig(options.configFile);
        (result.ok ? process.stdout : process.stderr).write(`${[...result.lines, ...result.media].join('\n')}\n`);
        return result.ok ? EXIT_OK : EXIT_CONFIG;
      }
      case 'run': {
        // With --syslog the detached server has no use for the terminal: every line (crash reports too) goes to syslog.
        if (options.daemon && !isDetachedChild()) return await detach(process.argv[1] ?? '', argv, { quiet: options.syslog });
        const syslog = options.syslog ? openSyslog(process.env['B2BUA_SYSLOG_SOCKET'] ?? SYSLOG_SOCKET) : undefined;
        installCrashLogging(syslog?.stream ?? process.stderr);
        try {
          return await runDaemon({
            configFile: options.configFile, debug: options.debug, onReady: reportReady,
            ...(syslog ? { logDestination: syslog.stream } : {}),
            ...(options.pidFile !== undefined ? { pidFile: options.pidFile } : {}),
          });
        } finally {
          await syslog?.close();
        }
      }
    }
  } catch (e) {
    process.stderr.write(`${formatError(e)}\n`);
    reportStartFailure(formatError(e));
    return exitStatusFor(e);
  }
}

/** B2buaErrors are for operators: message and details, no stack trace. Anything else is a bug: full stack. */
export function formatError(e: unknown): string {
  if (isB2buaError(e)) {
    const extra = e.details.filter((d) => !e.message.includes(d));
    return [`b2bua-server: ${e.message}`, ...extra.map((d) => `  ${d}`)].join('\n');
  }
  return `b2bua-server: B2BUA_INTERNAL: ${e instanceof Error ? e.stack ?? e.message : String(e)}`;
}

/**
 * An uncaught exception or rejection is logged as a JSON line on stderr and the process keeps
 * serving: the calls in progress are worth more than a clean restart (systemd restarts only on exit).
 */
function installCrashLogging(out: NodeJS.WritableStream): void {
  const report = (kind: string) => (e: unknown): void => {
    const err = e instanceof Error ? { type: e.name, message: e.message, stack: e.stack } : { message: String(e) };
    out.write(`${JSON.stringify({ level: 50, time: new Date().toISOString(), name: 'b2bua-server', code: 'B2BUA_INTERNAL', kind, err, msg: `${kind}: please report it with the log lines around it` })}\n`);
  };
  process.on('uncaughtException', report('uncaught exception'));
  process.on('unhandledRejection', report('unhandled rejection'));
}
