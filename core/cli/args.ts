/** Command line, Flexisip-compatible: `b2bua-server --server b2bua -c /etc/flexisip/flexisip.conf`. */
import { b2buaError } from '../errors/index.js';
import { didYouMean } from '../text/did-you-mean.js';

export const DEFAULT_CONFIG_FILE = '/etc/flexisip/flexisip.conf';

export type Action = 'run' | 'check-config' | 'dump-default' | 'help' | 'version';

export interface CliOptions {
  readonly action: Action;
  readonly configFile: string;
  readonly debug: boolean;
  /** Flexisip's --daemon: detach, the parent exits once the daemon is ready (systemd Type=forking). */
  readonly daemon: boolean;
  /** Flexisip's --syslog: log lines go to the system log (/dev/log) instead of stdout. */
  readonly syslog: boolean;
  /** Flexisip's --pidfile / -p: the daemon's process id is written there while it runs. */
  readonly pidFile: string | undefined;
}

const FLAGS = ['--config', '-c', '--server', '--debug', '-d', '--daemon', '--syslog', '--pidfile', '-p', '--check-config', '--dump-default', '--help', '-h', '--version', '-v'];

export const USAGE = `Usage: b2bua-server [--server b2bua] [-c|--config FILE] [-d|--debug] [--daemon] [--syslog] [-p|--pidfile FILE]
       b2bua-server --check-config [-c FILE]    validate the configuration and the files it points to
       b2bua-server --dump-default              print a complete commented default configuration
       b2bua-server --help | --version

Options:
  -c, --config FILE   configuration file (default ${DEFAULT_CONFIG_FILE})
  --server b2bua      accepted for compatibility with Flexisip's command line (only b2bua is served)
  -d, --debug         debug log level (wins over [global] log-level)
  --daemon            detach from the terminal; the command returns once the server is ready (as Flexisip's
                      systemd unit expects: Type=forking)
  --syslog            log to the system log (/dev/log, ident flexisip-b2bua, facility daemon) instead of stdout
  -p, --pidfile FILE  write the server's process id to FILE while it runs (b2bua-cli and flexisip_cli.py read
                      /var/run/flexisip-b2bua.pid)
  --check-config      print OK or every problem found; exit status 0 when valid, 1 otherwise
  --dump-default      print the default configuration of [b2bua-server] and of the built-in applications
  -h, --help          this text
  -v, --version       print the version

Signals: SIGTERM/SIGINT stop accepting calls, let calls end for shutdown-grace-period seconds,
then hang up the rest and exit 0. SIGHUP re-reads the configuration and applies the log level.`;

export function parseArgs(argv: readonly string[]): CliOptions {
  let action: Action = 'run';
  let configFile = DEFAULT_CONFIG_FILE;
  let debug = false;
  let daemon = false;
  let syslog = false;
  let pidFile: string | undefined;
  const setAction = (a: Action): void => {
    if (action !== 'run' && action !== a) usage(`--${action} and --${a} cannot be combined`);
    action = a;
  };
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i]!;
    const eq = raw.startsWith('--') ? raw.indexOf('=') : -1;
    const flag = eq > 0 ? raw.slice(0, eq) : raw;
    const inline = eq > 0 ? raw.slice(eq + 1) : undefined;
    const value = (): string => {
      if (inline !== undefined) return inline;
      const next = argv[++i];
      if (next === undefined || next.startsWith('-')) usage(`${flag} needs a value`);
      return next;
    };
    switch (flag) {
      case '--config': case '-c': configFile = value(); break;
      case '--server': {
        const server = value();
        if (server !== 'b2bua') usage(`--server ${server}: this program only serves "b2bua" (Flexisip's ${server} server is not part of it)`);
        break;
      }
      case '--debug': case '-d': debug = true; break;
      case '--daemon': daemon = true; break;
      case '--syslog': syslog = true; break;
      case '--pidfile': case '-p': pidFile = value(); break;
      case '--check-config': setAction('check-config'); break;
      case '--dump-default': setAction('dump-default'); break;
      case '--help': case '-h': setAction('help'); break;
      case '--version': case '-v': setAction('version'); break;
      default: {
        const hint = didYouMean(flag, FLAGS);
        usage(`unknown argument "${raw}"${hint ? ` (did you mean ${hint}?)` : ''}`);
      }
    }
  }
  const chosen = action as Action; // set through setAction(): the compiler cannot see it
  if (chosen !== 'run' && (daemon || syslog || pidFile !== undefined)) usage(`--${chosen} cannot be combined with --daemon, --syslog or --pidfile`);
  return { action, configFile, debug, daemon, syslog, pidFile };
}

function usage(message: string): never {
  throw b2buaError('B2BUA_USAGE', { problem: message });
}
