/**
 * Flexisip's command-line interface socket (src/cli.cc): a Unix stream socket at /tmp/flexisip-b2bua-<pid> where a
 * client writes one command (`SIP_BRIDGE INFO`, `CONFIG_GET b2bua-server/transport`, ...) and reads one answer, so that
 * Flexisip's own `flexisip_cli.py -s b2bua -p <pid> ...` and our `b2bua-cli` work unchanged.
 * Answers follow Flexisip's texts: `Error - ...` for errors, `<section>/<key>: <value>` for CONFIG_GET, lines ended by
 * CRLF for sections. CONFIG_SET is refused (the configuration cannot change while running).
 * Our own operations commands are lower-case (core/admin/cli-commands.ts); a command line starting with `--json `
 * (b2bua-cli --json) gets their answer as JSON.
 */
import fs from 'node:fs';
import net from 'node:net';
import { iniValue } from '../config/describe-schema.js';
import type { SectionSchema } from '../config/section.js';
import type { Logger } from '../vocabulary/index.js';
import { answerOperation, OPERATION_COMMANDS, type OperationsSource } from './cli-commands.js';
import type { AdminCommandSource } from './index.js';

/** What b2bua-cli --json puts before the command. */
export const JSON_PREFIX = '--json ';

/** Flexisip's path: `/tmp/flexisip-` + server name + `-` + pid (cli.cc run()). */
export function cliSocketPath(pid: number = process.pid, directory = '/tmp'): string {
  return `${directory}/flexisip-b2bua-${pid}`;
}

/** A section the interface can show: its schema (keys, defaults) and what the file says. */
export interface CliSection {
  readonly name: string;
  readonly schema: SectionSchema;
  /** The file's raw values, as written. */
  readonly values: ReadonlyMap<string, string>;
}

/** Flexisip reads at most 511 bytes of a command (cli.cc: char buffer[512]). */
const MAX_COMMAND_BYTES = 511;
/** A client that connects and sends nothing is dropped after this. */
const IDLE_TIMEOUT_MS = 5000;
const MAX_CLIENTS = 16;

/** The answer to one command line (Flexisip's texts). Never throws: failures are `Error - ...` answers. */
export async function answerCliCommand(line: string, sections: readonly CliSection[], commands: AdminCommandSource, ops?: OperationsSource): Promise<string> {
  const json = line.trimStart().startsWith(JSON_PREFIX);
  const words = line.trim().slice(json ? JSON_PREFIX.length : 0).split(/\s+/).filter((w) => w !== '');
  const [command = '', ...args] = words;
  if (ops) {
    try {
      const answer = await answerOperation(words, ops);
      if (typeof answer === 'string') return answer;
      if (answer) return json ? JSON.stringify(answer.json, null, 2) : answer.text;
    } catch (e) {
      return `Error - ${command} failed: ${(e as Error).message}`;
    }
  }
  switch (command) {
    case 'CONFIG_GET': case 'GET':
      if (args.length === 0) return 'Error - \'CONFIG_GET\' command expects 1 argument: <path>';
      return configGet(args[0]!, sections, false);
    case 'CONFIG_LIST': case 'LIST':
      if (args.length === 0) return 'Error - \'CONFIG_LIST\' command expects 1 argument: <section>';
      return configGet(args[0]!, sections, true);
    case 'CONFIG_SET': case 'SET':
      if (args.length < 2) return 'Error - \'CONFIG_SET\' command expects 2 arguments: <path> <value>';
      return `Error - Failed to set "${args[0]}": setting cannot be set while the b2bua-server is running (edit the configuration file and restart; SIGHUP applies [global] log-level)`;
    default:
      return pluginCommand(words, commands, ops ? OPERATION_COMMANDS : []);
  }
}

function configGet(path: string, sections: readonly CliSection[], namesOnly: boolean): string {
  if (path === 'all') return sections.map((s) => `[${s.name}]\r\n`).join('');
  const slash = path.lastIndexOf('/');
  const whole = sections.find((s) => s.name === path);
  if (whole) return Object.keys(whole.schema.properties ?? {}).map((key) => (namesOnly ? key : entryLine(whole, key)) + '\r\n').join('');
  const section = slash > 0 ? sections.find((s) => s.name === path.slice(0, slash)) : undefined;
  const key = path.slice(slash + 1);
  if (!section || !Object.hasOwn(section.schema.properties ?? {}, key)) return `Error - Not found: ${path}`;
  return namesOnly ? key : entryLine(section, key);
}

function entryLine(section: CliSection, key: string): string {
  const value = section.values.get(key) ?? iniValue(section.schema.properties?.[key]?.default);
  return `${section.name}/${key}: ${value}`;
}

/** `SIP_BRIDGE INFO` → the application's command of that name; `SIP_BRIDGE` alone → its sub-commands. */
async function pluginCommand(words: readonly string[], commands: AdminCommandSource, operations: readonly string[]): Promise<string> {
  const name = words.join(' ');
  const run = commands.get(name);
  if (run) {
    try {
      const result = await run();
      return typeof result === 'string' ? result : JSON.stringify(result, null, '\t');
    } catch (e) {
      return `Error - ${name} failed: ${(e as Error).message}`;
    }
  }
  const head = words[0] ?? '';
  const subcommands = commands.names().filter((n) => n.split(' ')[0] === head).map((n) => n.split(' ').slice(1).join(' ')).filter((s) => s !== '');
  if (head !== '' && subcommands.length > 0) return [`Valid subcommands for ${head}:`, ...subcommands.map((s) => `  ${s}`)].join('\n');
  const known = ['CONFIG_GET', 'CONFIG_LIST', ...commands.names(), ...operations].join(', ');
  return `Error - Unknown command: ${head} (known: ${known})`;
}

export interface CliSocket {
  readonly path: string;
  close(): Promise<void>;
}

/**
 * Listens at `path` (a stale file of the same name is replaced, as Flexisip does). The socket is made readable by its
 * owner only: the answers describe accounts and the configuration.
 */
export async function createCliSocket(
  path: string, sections: readonly CliSection[], commands: AdminCommandSource, log: Logger, ops?: OperationsSource,
): Promise<CliSocket> {
  try { fs.unlinkSync(path); } catch { /* none there */ }
  const clients = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    if (clients.size >= MAX_CLIENTS) { socket.destroy(); return; }
    clients.add(socket);
    socket.on('close', () => clients.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy());
    // Flexisip's client sends the whole command in one write, then waits for the answer: the first chunk is the command.
    socket.once('data', (chunk: Buffer) => {
      const received = chunk.subarray(0, MAX_COMMAND_BYTES).toString('utf8').replace(/\0.*$/s, '');
      log.info({ command: received.trim() }, 'command-line interface: command received');
      void answerCliCommand(received, sections, commands, ops).then((answer) => socket.end(answer));
    });
  });
  server.maxConnections = MAX_CLIENTS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => { server.off('error', reject); resolve(); });
  });
  fs.chmodSync(path, 0o600);
  log.info({ cli: path }, 'command-line interface socket listening');
  return {
    path,
    close: () => new Promise<void>((resolve) => {
      for (const c of clients) c.destroy();
      server.close(() => resolve());
      try { fs.unlinkSync(path); } catch { /* already gone */ }
    }),
  };
}
