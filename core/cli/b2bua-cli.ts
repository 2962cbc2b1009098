/**
 * bin/b2bua-cli: the counterpart of Flexisip's `flexisip_cli.py -s b2bua`, over the same socket
 * (/tmp/flexisip-b2bua-<pid>, core/admin/cli-socket.ts) and with the same exit statuses: 0 answered,
 * 64 (EX_USAGE) the server answered `Error - ...`, 69 (EX_UNAVAILABLE) no server to talk to, 2 wrong command line.
 * Without --pid, the daemon is found from /var/run/flexisip-b2bua.pid (Flexisip's systemd unit), else from the only
 * live /tmp/flexisip-b2bua-<pid> socket.
 */
import fs from 'node:fs';
import net from 'node:net';
import { cliSocketPath, JSON_PREFIX } from '../admin/cli-socket.js';

export const EX_OK = 0;
export const EX_USAGE = 64;
export const EX_UNAVAILABLE = 69;
const ANSWER_TIMEOUT_MS = 3000;
const PROBE_TIMEOUT_MS = 1000;
const PID_FILE = '/var/run/flexisip-b2bua.pid';

export const CLI_USAGE = `Usage: b2bua-cli [-p|--pid PID] [-s|--server b2bua] [--json] <command> [arguments]

Commands:
  calls                    the calls in progress (ID, state, From, To, leg A's Call-ID)
  call <id>                one call's details and media report (streams, packets); <id>: an ID or Call-ID of "calls"
  hangup <id>              end a call: BYE (or CANCEL / a final answer) on both legs
  counters                 the server's counters (calls, dialogs, transactions, ...)
  workers                  the media worker processes and their state
  log-level <level>        debug, info, warn, error or silent, until the next restart or reload
  reload                   what SIGHUP does: re-read the file, apply [global] log-level (other changes need a restart)
  trace on [file] [max-MB] write every SIP message in and out to file (credentials masked; default 50 MB, then it stops)
  trace off                stop the SIP trace; "trace" alone: its state

Flexisip's commands (as flexisip_cli.py -s b2bua):
  SIP_BRIDGE INFO          state of the sip-bridge providers and accounts (JSON)
  CONFIG_GET <path>        a value or a section: b2bua-server/transport, b2bua-server
  CONFIG_LIST <section>    the keys of a section; CONFIG_LIST all: the sections
  CONFIG_SET <path> <v>    refused: the configuration cannot change while the server runs

Options:
  -p, --pid PID            the daemon's process id (default: ${PID_FILE}, else the only running daemon)
  -s, --server b2bua       accepted for compatibility (only b2bua is served)
  --json                   answer as JSON (for scripts; the operations commands above)
  --socket-directory DIR   where the daemons' sockets are (default /tmp)`;

export interface CliArgs {
  readonly pid: number;
  readonly directory: string;
  readonly message: string;
  readonly json: boolean;
}

export function parseCliArgs(argv: readonly string[]): CliArgs | { usage: string } {
  let pid = 0;
  let directory = '/tmp';
  let json = false;
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string | undefined => argv[++i];
    if (words.length > 0) { words.push(a); continue; }
    if (a === '-h' || a === '--help') return { usage: CLI_USAGE };
    if (a === '-p' || a === '--pid') {
      const v = value();
      if (v === undefined || !/^\d+$/.test(v)) return { usage: `b2bua-cli: ${a} needs a process id\n\n${CLI_USAGE}` };
      pid = Number(v);
    } else if (a === '-s' || a === '--server') {
      const v = value();
      if (v !== 'b2bua') return { usage: `b2bua-cli: --server ${v ?? ''}: only "b2bua" is served by this program\n\n${CLI_USAGE}` };
    } else if (a === '--json') {
      json = true;
    } else if (a === '--socket-directory') {
      const v = value();
      if (!v) return { usage: `b2bua-cli: --socket-directory needs a folder\n\n${CLI_USAGE}` };
      directory = v;
    } else if (a.startsWith('-')) {
      return { usage: `b2bua-cli: unknown option "${a}"\n\n${CLI_USAGE}` };
    } else {
      words.push(a);
    }
  }
  if (words.length === 0) return { usage: `b2bua-cli: no command given\n\n${CLI_USAGE}` };
  return { pid, directory, json, message: words.join(' ') };
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** Whether a server accepts connections on this Unix socket (a daemon killed with SIGKILL leaves its socket file behind). */
function accepting(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.createConnection(socketPath);
    socket.setTimeout(PROBE_TIMEOUT_MS, () => { socket.destroy(); resolve(false); });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

/**
 * The daemon to talk to, or why there is none: the PID file's process, else the one live process whose socket in
 * `directory` accepts a connection. A socket file whose process died is skipped even when its pid was reused since.
 */
export async function findDaemon(directory: string, pidFile = PID_FILE): Promise<{ pid: number } | { error: string }> {
  try {
    const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0 && alive(pid)) return { pid };
  } catch { /* no pid file */ }
  let names: string[] = [];
  try { names = fs.readdirSync(directory); } catch { /* unreadable: none found */ }
  const candidates = names.map((n) => /^flexisip-b2bua-(\d+)$/.exec(n)?.[1]).filter((p): p is string => p !== undefined).map(Number).filter(alive);
  const answering = await Promise.all(candidates.map((pid) => accepting(cliSocketPath(pid, directory))));
  const pids = candidates.filter((_, i) => answering[i]);
  if (pids.length === 1) return { pid: pids[0]! };
  if (pids.length === 0) return { error: `no running b2bua-server found (no ${pidFile}, no ${directory}/flexisip-b2bua-<pid> socket of a live process)` };
  return { error: `several b2bua-server daemons are running (${pids.join(', ')}): choose one with --pid` };
}

/** Sends one command, resolves with the answer (the server closes the connection after it). */
export function sendCommand(socketPath: string, message: string, timeoutMs = ANSWER_TIMEOUT_MS): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath);
    const chunks: Buffer[] = [];
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    socket.on('connect', () => socket.write(message));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
  });
}

export async function cliMain(argv: readonly string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  const args = parseCliArgs(argv);
  if ('usage' in args) {
    const help = args.usage === CLI_USAGE;
    (help ? out : err).write(`${args.usage}\n`);
    return help ? EX_OK : 2;
  }
  let pid = args.pid;
  if (pid === 0) {
    const found = await findDaemon(args.directory);
    if ('error' in found) { err.write(`error: ${found.error}\n`); return EX_UNAVAILABLE; }
    pid = found.pid;
  }
  const path = cliSocketPath(pid, args.directory);
  let answer: string;
  try {
    answer = await sendCommand(path, args.json ? `${JSON_PREFIX}${args.message}` : args.message);
  } catch (e) {
    err.write(`error: could not connect to socket '${path}': ${(e as Error).message}\n`);
    return EX_UNAVAILABLE;
  }
  out.write(`${answer}\n`);
  return answer.startsWith('Error') ? EX_USAGE : EX_OK;
}
