/**
 * Throwaway PostgreSQL and MariaDB servers for tests: each in its own temporary folder, on a free loopback port,
 * started as a managed process (stopped by the harness, by process group) and removed after.
 * - PostgreSQL: initdb + postgres (Debian's /usr/lib/postgresql/<v>/bin), trust authentication, run as the
 *   `postgres` user through runuser when we are root (PostgreSQL refuses to run as root).
 * - MariaDB: mariadb-install-db + mariadbd --user=root --skip-grant-tables (no accounts needed on a private instance).
 * `missingDatabaseBinaries()` says why a kind cannot run here (tests skip with that reason).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { freePort } from './ports.js';
import { spawnManaged, type ManagedProcess } from './processes.js';
import { sleep } from './wait.js';

const load = createRequire(import.meta.url);

export type DatabaseKind = 'postgresql' | 'mysql';

export interface DatabaseServer {
  readonly kind: DatabaseKind;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  /** The loader's `connection` for this server, in soci's key=value form. */
  readonly connection: string;
  readonly logFile: string;
  /** Runs statements (one string each) on the database, in order. */
  sql(statements: readonly string[]): Promise<void>;
  /** Stops the server (the data stays: start() brings it back on the same port). */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  destroy(): Promise<void>;
}

function postgresBin(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!fs.existsSync(base)) return undefined;
  const versions = fs.readdirSync(base).filter((v) => fs.existsSync(path.join(base, v, 'bin', 'postgres'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(base, versions[0], 'bin') : undefined;
}

function which(cmd: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(':').concat(['/usr/sbin', '/usr/bin'])) {
    const f = path.join(dir, cmd);
    if (fs.existsSync(f)) return f;
  }
  return undefined;
}

/** Why `kind` cannot run on this machine, or undefined. */
export function missingDatabaseBinaries(kind: DatabaseKind): string | undefined {
  if (kind === 'postgresql') {
    if (!postgresBin()) return 'PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin (Debian package postgresql; bash scripts/setup.sh installs it)';
    if (process.getuid?.() === 0 && !which('runuser')) return 'running as root without runuser: PostgreSQL cannot be started';
    return undefined;
  }
  if (!which('mariadbd') || !which('mariadb-install-db')) return 'mariadbd / mariadb-install-db not found (Debian package mariadb-server; bash scripts/setup.sh installs it)';
  return undefined;
}

async function waitReady(what: string, probe: () => Promise<void>, proc: () => ManagedProcess | undefined, logFile: string, ms = 30000): Promise<void> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    if (!proc()?.isRunning()) throw new Error(`${what} exited:\n${fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').slice(-2000) : ''}`);
    try {
      await probe();
      return;
    } catch (e) {
      last = e;
      await sleep(200);
    }
  }
  throw new Error(`${what} not ready after ${ms} ms: ${(last as Error)?.message}`);
}

export async function startPostgres(maxMs = 300_000): Promise<DatabaseServer> {
  const bin = postgresBin()!;
  const root = process.getuid?.() === 0;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'b2bua-pg-'));
  const data = path.join(dir, 'data');
  const logFile = path.join(dir, 'postgres.log');
  const asPostgres = (cmd: string, args: string[]): [string, string[]] => (root ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args]);
  if (root) execFileSync('chown', ['postgres:', dir]);
  const [initCmd, initArgs] = asPostgres(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  execFileSync(initCmd, initArgs, { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir });
  const port = await freePort();
  const pg = load('pg') as typeof import('pg');
  const config = { host: '127.0.0.1', port, user: 'postgres', database: 'postgres' };
  let proc: ManagedProcess | undefined;
  const server: DatabaseServer = {
    kind: 'postgresql', port, user: 'postgres', database: 'postgres', logFile,
    connection: `host=127.0.0.1 port=${port} dbname=postgres user=postgres password='' connect_timeout=2`,
    async sql(statements) {
      const client = new pg.Client(config);
      await client.connect();
      try {
        for (const s of statements) await client.query(s);
      } finally {
        await client.end();
      }
    },
    async start() {
      const [cmd, args] = asPostgres(path.join(bin, 'postgres'), ['-D', data, '-p', String(port), '-h', '127.0.0.1', '-k', dir, '-c', 'fsync=off', '-c', 'max_connections=60']);
      proc = spawnManaged('postgres', cmd, args, { stdoutFile: logFile, maxMs, cwd: dir });
      await waitReady('postgres', async () => {
        const c = new pg.Client(config);
        await c.connect();
        await c.end();
      }, () => proc, logFile);
    },
    async stop() {
      await proc?.stop(10000, 'SIGINT'); // fast shutdown: clients are disconnected
      proc = undefined;
    },
    async destroy() {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

export async function startMariadb(maxMs = 300_000): Promise<DatabaseServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'b2bua-mariadb-'));
  const data = path.join(dir, 'data');
  const logFile = path.join(dir, 'mariadbd.log');
  execFileSync(which('mariadb-install-db')!, ['--no-defaults', '--user=root', `--datadir=${data}`, '--skip-test-db', '--auth-root-authentication-method=normal'], { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir });
  const port = await freePort();
  const mysql = load('mysql2/promise') as typeof import('mysql2/promise');
  const config = { host: '127.0.0.1', port, user: 'root', database: 'mysql', multipleStatements: false };
  let proc: ManagedProcess | undefined;
  const server: DatabaseServer = {
    kind: 'mysql', port, user: 'root', database: 'flexisip', logFile,
    connection: `host=127.0.0.1 port=${port} db=flexisip user=root password='' connect_timeout=2`,
    async sql(statements) {
      const c = await mysql.createConnection({ ...config, database: undefined });
      try {
        await c.query('CREATE DATABASE IF NOT EXISTS flexisip');
        await c.query('USE flexisip');
        for (const s of statements) await c.query(s);
      } finally {
        await c.end();
      }
    },
    async start() {
      proc = spawnManaged('mariadbd', which('mariadbd')!, [
        '--no-defaults', '--user=root', `--datadir=${data}`, `--socket=${path.join(dir, 'mysqld.sock')}`, `--pid-file=${path.join(dir, 'mysqld.pid')}`,
        `--port=${port}`, '--bind-address=127.0.0.1', '--skip-grant-tables', '--skip-log-bin', '--innodb-buffer-pool-size=16M', '--skip-name-resolve',
      ], { stdoutFile: logFile, maxMs, cwd: dir });
      await waitReady('mariadbd', async () => {
        const c = await mysql.createConnection({ ...config, connectTimeout: 1000 });
        await c.end();
      }, () => proc, logFile);
    },
    async stop() {
      await proc?.stop(15000, 'SIGTERM');
      proc = undefined;
    },
    async destroy() {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

/** Flexisip's tester table (sql-loader-tester.cc:46-57) for `kind`. */
export function usersTable(kind: DatabaseKind): string {
  const text = kind === 'mysql' ? 'VARCHAR(255)' : 'TEXT';
  return `CREATE TABLE users (username ${text} PRIMARY KEY, domain ${text}, user_id ${text}, realm ${text} NULL, secret ${text}, secret_type ${text} DEFAULT 'MD5',
    alias_username ${text}, alias_domain ${text}, outbound_proxy ${text} NULL, registrar ${text} NULL, protocol ${text} DEFAULT 'UDP')`;
}
