/**
 * A throwaway redis-server for tests: its own temporary folder, a free loopback port, no persistence
 * (`--save '' --appendonly no`), started as a managed process (stopped by the harness, by process group) and removed
 * after. stop() / start() bring it down and back on the same port (what a Redis restart looks like to a client).
 * With `acl`, the default user is off and only that user may connect (Redis 6+ ACL: AUTH user password).
 * Messages are published with redis-cli (the real client an operator uses), the message on its stdin (`-x`).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports.js';
import { spawnManaged, type ManagedProcess } from './processes.js';
import { sleep } from './wait.js';

export interface RedisServer {
  readonly port: number;
  readonly logFile: string;
  /** PUBLISH channel message; resolves with the number of subscribers that got it. */
  publish(channel: string, message: string): Promise<number>;
  /** A command through redis-cli (e.g. ['CLIENT', 'KILL', 'TYPE', 'pubsub']); its stdout. */
  cli(args: readonly string[], stdin?: string): Promise<string>;
  isRunning(): boolean;
  /** SIGKILL (a crash: no goodbye to the clients); start() brings it back on the same port. */
  kill(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

export interface RedisOptions {
  readonly acl?: { readonly user: string; readonly password: string };
  readonly maxMs?: number;
}

/** Why redis-server cannot run here, or undefined. */
export function missingRedisBinaries(): string | undefined {
  for (const cmd of ['redis-server', 'redis-cli']) {
    const found = (process.env['PATH'] ?? '').split(':').concat(['/usr/bin', '/usr/sbin']).some((d) => fs.existsSync(path.join(d, cmd)));
    if (!found) return `${cmd} not found (Debian package redis-server; bash scripts/setup.sh installs it)`;
  }
  return undefined;
}

export async function startRedis(o: RedisOptions = {}): Promise<RedisServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'b2bua-redis-'));
  const logFile = path.join(dir, 'redis.log');
  const port = await freePort();
  let proc: ManagedProcess | undefined;
  // ACL users are lines of a configuration file (the command line quotes them into one user name)
  const conf = path.join(dir, 'redis.conf');
  fs.writeFileSync(conf, o.acl ? `user default off\nuser ${o.acl.user} on >${o.acl.password} ~* &* +@all\n` : '');
  const cliAuth = o.acl ? ['--user', o.acl.user] : [];
  const cliEnv = o.acl ? { ...process.env, REDISCLI_AUTH: o.acl.password } : process.env;

  const cli = (args: readonly string[], stdin?: string): Promise<string> => new Promise((resolve, reject) => {
    const child = execFile('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...cliAuth, ...(stdin !== undefined ? ['-x'] : []), ...args], { env: cliEnv, timeout: 5000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`redis-cli ${args.join(' ')}: ${err.message} ${stderr}`));
      else resolve(stdout.trim());
    });
    if (stdin !== undefined) child.stdin!.end(stdin);
  });

  const server: RedisServer = {
    port, logFile,
    async publish(channel, message) {
      // -x: the message is the command's last argument, read from stdin as is (any size)
      const out = await cli(['PUBLISH', channel], message);
      const n = Number(out);
      if (!Number.isInteger(n)) throw new Error(`PUBLISH ${channel}: unexpected answer "${out}"`);
      return n;
    },
    cli,
    isRunning: () => proc?.isRunning() ?? false,
    async start() {
      proc = spawnManaged('redis-server', 'redis-server', [
        conf, '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--protected-mode', 'no',
      ], { stdoutFile: logFile, maxMs: o.maxMs ?? 300_000, cwd: dir });
      const end = Date.now() + 10_000;
      for (;;) {
        if (!proc.isRunning()) throw new Error(`redis-server exited:\n${fs.readFileSync(logFile, 'utf8').slice(-2000)}`);
        try {
          if ((await cli(['PING'])) === 'PONG') return;
        } catch {
          /* not yet */
        }
        if (Date.now() > end) throw new Error(`redis-server not ready on 127.0.0.1:${port} after 10 s:\n${fs.readFileSync(logFile, 'utf8').slice(-2000)}`);
        await sleep(100);
      }
    },
    async kill() {
      await proc?.stop(1000, 'SIGKILL');
      proc = undefined;
    },
    async destroy() {
      await proc?.stop(3000, 'SIGTERM');
      proc = undefined;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}
