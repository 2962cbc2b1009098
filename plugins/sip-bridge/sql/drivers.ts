/**
 * The three backends behind one interface: a pool of at most `threadPoolSize` connections (Flexisip opens that many
 * soci sessions, sql-account-loader.cc:45-48), none of which blocks the event loop:
 * - postgresql: pg.Pool (asynchronous sockets), `max` = threadPoolSize;
 * - mysql: mysql2's pool, `connectionLimit` = threadPoolSize;
 * - sqlite3: better-sqlite3 is synchronous, so each connection lives in its own worker thread (created when queries
 *   overlap, up to threadPoolSize); the event loop only posts the query and receives the rows.
 * Connections are opened when a query needs one: a database that is down costs an error per query, never a crash.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { DbConnection, MysqlConnection, PostgresConnection, SqliteConnection } from './connection.js';
import { sqliteFile } from './connection.js';
import type { Row } from './query.js';

export interface SqlDriver {
  /** Rows of `text` (positional placeholders already in place) with `params`. Rejects with the driver's error. */
  query(text: string, params: readonly string[]): Promise<Row[]>;
  close(): Promise<void>;
}

const load = createRequire(import.meta.url);

export function createDriver(c: DbConnection, poolSize: number, dataDirectory: string, onIdleError: (e: Error) => void): SqlDriver {
  switch (c.backend) {
    case 'sqlite3':
      return new SqliteWorkerPool(c, poolSize, dataDirectory);
    case 'postgresql':
      return postgresDriver(c, poolSize, onIdleError);
    case 'mysql':
      return mysqlDriver(c, poolSize);
  }
}

/** Errors after which a query is worth a second try on a fresh connection (Flexisip's SociHelper retries once, soci-helper.cc:80). */
function connectionLost(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  const errno = (e as { errno?: unknown }).errno;
  return ['PROTOCOL_CONNECTION_LOST', 'ECONNRESET', 'EPIPE', '57P01', '57P02', '57P03'].includes(String(code)) || [2006, 2013, 2014, 4031].includes(Number(errno))
    || /Connection terminated|connection lost|server closed the connection/i.test((e as Error)?.message ?? '');
}

async function retryOnce<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (!connectionLost(e)) throw e;
    return run();
  }
}

function postgresDriver(c: PostgresConnection, poolSize: number, onIdleError: (e: Error) => void): SqlDriver {
  const pg = load('pg') as typeof import('pg');
  const pool = new pg.Pool({ ...c.options, max: poolSize, idleTimeoutMillis: 30_000, allowExitOnIdle: true });
  // An idle connection dropped by the server is an 'error' on the pool: without a listener it would end the process.
  pool.on('error', onIdleError);
  return {
    query: (text, params) => retryOnce(async () => (await pool.query(text, [...params])).rows as Row[]),
    close: () => pool.end(),
  };
}

function mysqlDriver(c: MysqlConnection, poolSize: number): SqlDriver {
  const mysql = load('mysql2/promise') as typeof import('mysql2/promise');
  const { ssl, ...rest } = c.options;
  const sslFiles = ssl ? Object.fromEntries(Object.entries(ssl).map(([k, file]) => [k, readFileSync(file, 'utf8')])) : undefined;
  const pool = mysql.createPool({ ...rest, ...(sslFiles ? { ssl: sslFiles } : {}), connectionLimit: poolSize, waitForConnections: true, queueLimit: 0, enableKeepAlive: true });
  return {
    query: (text, params) => retryOnce(async () => {
      // execute(): a server-side prepared statement, so a `?` in the operator's quoted text stays text.
      const [rows] = params.length > 0 ? await pool.execute(text, [...params]) : await pool.query(text);
      return rows as Row[];
    }),
    close: () => pool.end(),
  };
}

/** The worker: one better-sqlite3 connection, opened on the first query and again after any error. */
const SQLITE_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.modulePath);
let db;
parentPort.on('message', ({ id, text, params }) => {
  try {
    if (!db) db = new Database(workerData.file, { readonly: workerData.readonly, fileMustExist: true, timeout: workerData.busyTimeoutMs });
    const statement = db.prepare(text);
    if (!statement.reader) throw new Error('the query returns no rows (write a SELECT)');
    parentPort.postMessage({ id, rows: statement.all(...params) });
  } catch (e) {
    try { if (db) db.close(); } catch {}
    db = undefined;
    parentPort.postMessage({ id, error: { message: String(e && e.message || e), code: e && e.code } });
  }
});
`;

interface Job {
  readonly text: string;
  readonly params: readonly string[];
  resolve(rows: Row[]): void;
  reject(e: Error): void;
}

class SqliteWorkerPool implements SqlDriver {
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, Job>();
  private readonly queue: Job[] = [];
  private readonly workerData: { modulePath: string; file: string; readonly: boolean; busyTimeoutMs: number };
  private nextId = 0;
  private closed = false;

  constructor(c: SqliteConnection, private readonly size: number, dataDirectory: string) {
    this.workerData = { modulePath: load.resolve('better-sqlite3'), file: sqliteFile(c, dataDirectory), readonly: c.readonly, busyTimeoutMs: c.busyTimeoutMs };
  }

  query(text: string, params: readonly string[]): Promise<Row[]> {
    if (this.closed) return Promise.reject(new Error('the SQLite connections are closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ text, params, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let worker = this.idle.pop();
      if (!worker && this.busy.size < this.size) worker = this.spawn();
      if (!worker) return;
      const job = this.queue.shift()!;
      this.busy.set(worker, job);
      worker.postMessage({ id: this.nextId++, text: job.text, params: job.params });
    }
  }

  private spawn(): Worker {
    const worker = new Worker(SQLITE_WORKER, { eval: true, workerData: this.workerData });
    worker.unref();
    worker.on('message', (m: { rows?: Row[]; error?: { message: string; code?: string } }) => {
      const job = this.busy.get(worker);
      this.busy.delete(worker);
      if (!this.closed) this.idle.push(worker);
      if (job) {
        if (m.error) job.reject(Object.assign(new Error(m.error.message), m.error.code ? { code: m.error.code } : {}));
        else job.resolve(m.rows ?? []);
      }
      this.dispatch();
    });
    const lost = (why: string) => {
      const job = this.busy.get(worker);
      this.busy.delete(worker);
      const at = this.idle.indexOf(worker);
      if (at >= 0) this.idle.splice(at, 1);
      job?.reject(new Error(`SQLite worker thread ${why}`));
      if (!this.closed) this.dispatch();
    };
    worker.on('error', (e) => lost(`failed: ${e.message}`));
    worker.on('exit', (code) => lost(`exited (${code})`));
    return worker;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new Error('the SQLite connections are closed'));
    await Promise.all([...this.idle.splice(0), ...this.busy.keys()].map((w) => w.terminate()));
  }
}
