/**
 * The SQL account loader of a pool (Flexisip 2.5.2 accounts/loaders/sql-account-loader.cc, accounts/account-pool.cc):
 * - loadAll(): runs `initQuery` and makes the pool equal to its rows: new URIs are created, known ones updated, the
 *   others deleted (AccountPool::loadAll, account-pool.cc:96-136). At start-up a failure (database down, bad query) is
 *   logged with B2BUA_DATABASE_FAILED and retried with a growing delay, for ever; the pool serves what it has (nothing
 *   at first, Flexisip would stop instead: its loader opens every session in its constructor, .cc:45-48).
 * - accountUpdateNeeded({uri, identifier}): runs `updateQuery` with :identifier bound (.cc:66-86) and applies the
 *   row: none = the account was deleted, a row whose URI differs from `uri` is refused (account-pool.cc:457-485).
 *   This is what a Redis `flexisip/B2BUA/account` publish triggers (accountUpdateFromPublish reads the message);
 *   a failure is logged and retried a few times, later updates of the same URI replacing earlier ones.
 * Queries run on the driver's pool of `threadPoolSize` connections, off the event loop; lines already loaded keep
 * working whatever the database does.
 */
import type { Logger } from '../../core/plugin-api/index.js';
import type { AccountPool, Line } from './accounts.js';
import { compileAccount } from './bridge-config.js';
import type { AccountSpec, SqlLoaderSpec } from './bridge-config.js';
import type { Timers } from './registration.js';
import type { SqlDriver } from './sql/drivers.js';
import { accountFromRow } from './sql/query.js';
import type { PreparedQuery, Row } from './sql/query.js';

/** Flexisip's RedisAccountPub (redis-account-pub.hh:26-40): the account's URI and the value bound to :identifier. */
export interface AccountUpdate {
  readonly uri: string;
  readonly identifier: string;
}

/** A `flexisip/B2BUA/account` message `{"username", "domain", "identifier"}` → an AccountUpdate (redis-account-pub.hh:32-40). */
export function accountUpdateFromPublish(message: string): AccountUpdate | { error: string } {
  let j: unknown;
  try {
    j = JSON.parse(message);
  } catch (e) {
    return { error: `not JSON: ${(e as Error).message}` };
  }
  const o = j as Record<string, unknown>;
  for (const k of ['username', 'domain', 'identifier']) if (typeof o?.[k] !== 'string') return { error: `"${k}" is missing or not a string` };
  return { uri: `sip:${String(o['username'])}@${String(o['domain'])}`, identifier: String(o['identifier']) };
}

/** What the plugin does when the loader changes a pool: registrations follow the lines. */
export interface PoolChanges {
  created(pool: AccountPool, lines: readonly Line[]): void;
  updated(pool: AccountPool, line: Line, spec: AccountSpec): void;
  deleted(pool: AccountPool, line: Line): void;
}

export interface SqlLoaderOptions {
  readonly driver: SqlDriver;
  readonly log: Logger;
  readonly changes: PoolChanges;
  /** Where the database is (no password), for messages. */
  readonly database: string;
  readonly timers: Timers;
  /** First retry delay of a failed loadAll, doubled each time up to retryMaxMs. */
  readonly retryMs?: number;
  readonly retryMaxMs?: number;
  /** Attempts of one account update before it is given up. */
  readonly updateAttempts?: number;
}

export const DATABASE_FAILED = 'B2BUA_DATABASE_FAILED';
export const DATABASE_ROW_INVALID = 'B2BUA_DATABASE_ROW_INVALID';
export const DEFAULT_LOAD_RETRY_MS = 1000;
export const DEFAULT_LOAD_RETRY_MAX_MS = 30_000;
export const DEFAULT_UPDATE_ATTEMPTS = 5;

export class SqlAccountLoader {
  private stopped = false;
  private retryTimer: unknown;
  private loading: Promise<void> | undefined;
  private loadAgain = false;
  private retryDelay: number;
  private loaded = false;
  private readonly updateGeneration = new Map<string, number>();
  /** The queries as sent (sqlite3: double-quoted strings rewritten, see sqliteLegacyStrings). */
  private initText: string;
  private updateText: string;

  constructor(
    readonly pool: AccountPool,
    private readonly spec: SqlLoaderSpec,
    private readonly opts: SqlLoaderOptions,
  ) {
    this.retryDelay = opts.retryMs ?? DEFAULT_LOAD_RETRY_MS;
    this.initText = spec.initQuery.text;
    this.updateText = spec.updateQuery.text;
  }

  /** True once initQuery has succeeded. */
  get isLoaded(): boolean {
    return this.loaded;
  }

  /** The first load; resolves after its first attempt (success or not), retries continue behind. */
  async start(): Promise<void> {
    await this.reload();
  }

  /**
   * initQuery again, e.g. once Redis is subscribed again (updates published meanwhile were missed). Resolves after
   * the first attempt; while it fails it is retried as at start-up. One load at a time: a reload asked while one
   * runs runs once more after it; one asked while a retry waits runs now.
   */
  reload(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.loading) {
      this.loadAgain = true;
      return this.loading;
    }
    if (this.retryTimer !== undefined) this.opts.timers.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.loading = (async () => {
      let ok: boolean;
      do {
        this.loadAgain = false;
        ok = await this.loadAll();
      } while (this.loadAgain && !this.stopped);
      this.loading = undefined;
      if (ok || this.stopped) return;
      const delay = this.retryDelay;
      this.retryDelay = Math.min(delay * 2, this.opts.retryMaxMs ?? DEFAULT_LOAD_RETRY_MAX_MS);
      this.retryTimer = this.opts.timers.setTimeout(() => {
        this.retryTimer = undefined;
        void this.reload();
      }, delay);
    })();
    return this.loading;
  }

  /** initQuery → the pool's accounts. False (logged) when the query failed: the pool is left as it was. */
  async loadAll(): Promise<boolean> {
    let rows: Row[];
    try {
      rows = await this.run('init', this.spec.initQuery, {});
    } catch (e) {
      this.opts.log.error(
        { code: DATABASE_FAILED, pool: this.pool.name, database: this.opts.database, retryInMs: this.retryDelay, accounts: this.pool.lines.length },
        `${DATABASE_FAILED}: sip-bridge pool "${this.pool.name}": initQuery on ${this.opts.database} failed: ${(e as Error).message}; retrying in ${this.retryDelay} ms (the pool keeps its ${this.pool.lines.length} account(s))`,
      );
      return false;
    }
    if (this.stopped) return false;
    const specs = new Map<string, AccountSpec>();
    rows.forEach((row, i) => {
      const spec = this.specOf(row, `initQuery row ${i + 1}`);
      if (!spec) return;
      if (specs.has(spec.uri)) this.rowProblem(`initQuery row ${i + 1}`, `${spec.uri} is already an account of this pool (row skipped)`);
      else specs.set(spec.uri, spec);
    });
    const created: Line[] = [];
    for (const [uri, spec] of specs) {
      const existing = this.pool.get(uri);
      if (existing) this.opts.changes.updated(this.pool, existing, spec);
      else {
        const line = this.pool.add(spec);
        if (line) created.push(line);
      }
    }
    for (const line of this.pool.lines) if (!specs.has(line.uri)) this.opts.changes.deleted(this.pool, line);
    if (created.length > 0) this.opts.changes.created(this.pool, created);
    this.loaded = true;
    this.retryDelay = this.opts.retryMs ?? DEFAULT_LOAD_RETRY_MS;
    this.opts.log.info({ pool: this.pool.name, database: this.opts.database, accounts: this.pool.lines.length, rows: rows.length }, 'sip-bridge accounts loaded from the database');
    return true;
  }

  /**
   * updateQuery with :identifier = update.identifier, then create, update or delete the account `update.uri`.
   * Resolves when applied, given up, or superseded by a later update of the same URI.
   */
  async accountUpdateNeeded(update: AccountUpdate): Promise<void> {
    const generation = (this.updateGeneration.get(update.uri) ?? 0) + 1;
    this.updateGeneration.set(update.uri, generation);
    const attempts = this.opts.updateAttempts ?? DEFAULT_UPDATE_ATTEMPTS;
    for (let attempt = 1; !this.stopped; attempt++) {
      let rows: Row[];
      try {
        rows = await this.run('update', this.spec.updateQuery, { identifier: update.identifier });
      } catch (e) {
        const last = attempt >= attempts;
        const delay = Math.min((this.opts.retryMs ?? DEFAULT_LOAD_RETRY_MS) * 2 ** (attempt - 1), this.opts.retryMaxMs ?? DEFAULT_LOAD_RETRY_MAX_MS);
        this.opts.log.error(
          { code: DATABASE_FAILED, pool: this.pool.name, database: this.opts.database, account: update.uri, identifier: update.identifier, attempt },
          `${DATABASE_FAILED}: sip-bridge pool "${this.pool.name}": updateQuery for ${update.uri} on ${this.opts.database} failed: ${(e as Error).message}; ${last ? `given up after ${attempt} attempts (the account stays as it was)` : `retrying in ${delay} ms`}`,
        );
        if (last) return;
        await new Promise<void>((resolve) => this.opts.timers.setTimeout(resolve, delay));
        if (this.updateGeneration.get(update.uri) !== generation) return;
        continue;
      }
      if (this.stopped || this.updateGeneration.get(update.uri) !== generation) return;
      this.applyUpdate(update, rows);
      return;
    }
  }

  private applyUpdate(update: AccountUpdate, rows: readonly Row[]): void {
    const existing = this.pool.get(update.uri);
    if (rows.length === 0) {
      if (!existing) this.opts.log.warn({ pool: this.pool.name, account: update.uri }, 'account update: no such account in the database nor in the pool, nothing to delete');
      else this.opts.changes.deleted(this.pool, existing);
      return;
    }
    if (rows.length > 1) this.opts.log.warn({ pool: this.pool.name, account: update.uri, rows: rows.length }, 'account update: updateQuery returned several rows, the first one is used');
    const spec = this.specOf(rows[0]!, `updateQuery for ${update.uri}`);
    if (!spec) return;
    if (spec.uri !== update.uri) {
      this.rowProblem(`updateQuery for ${update.uri}`, `inconsistent URIs between the update (${update.uri}) and the database row (${spec.uri}): update aborted, as Flexisip does`);
      return;
    }
    if (existing) this.opts.changes.updated(this.pool, existing, spec);
    else {
      const line = this.pool.add(spec);
      if (line) this.opts.changes.created(this.pool, [line]);
    }
    this.opts.log.info({ pool: this.pool.name, account: update.uri, action: existing ? 'updated' : 'created' }, 'sip-bridge account updated from the database');
  }

  /** A row → the account with its addresses, or undefined (logged: the row is skipped). */
  private specOf(row: Row, where: string): AccountSpec | undefined {
    const read = accountFromRow(row);
    if ('error' in read) {
      this.rowProblem(where, read.error);
      return undefined;
    }
    let refused = false;
    const problems: string[] = [...read.warnings];
    const spec = compileAccount(read.account, this.pool.spec, {
      report: (field, what) => {
        refused = true;
        this.rowProblem(where, `${field}: ${what}`);
      },
      warn: (field, what) => problems.push(`${field}: ${what}`),
    });
    for (const w of problems) this.opts.log.warn({ pool: this.pool.name, account: spec.uri }, `sip-bridge account from the database: ${w}`);
    return refused ? undefined : spec;
  }

  private rowProblem(where: string, what: string): void {
    this.opts.log.error({ code: DATABASE_ROW_INVALID, pool: this.pool.name, database: this.opts.database }, `${DATABASE_ROW_INVALID}: sip-bridge pool "${this.pool.name}": ${where}: ${what}`);
  }

  private async run(which: 'init' | 'update', query: PreparedQuery, values: Readonly<Record<string, string>>): Promise<Row[]> {
    const params = query.names.map((n) => values[n] ?? '');
    let text = which === 'init' ? this.initText : this.updateText;
    for (let rewrites = 0; ; rewrites++) {
      try {
        const rows = await this.opts.driver.query(text, params);
        if (which === 'init') this.initText = text;
        else this.updateText = text;
        return rows;
      } catch (e) {
        const rewritten = this.spec.backend === 'sqlite3' && rewrites < 64 ? sqliteLegacyStrings(text, (e as Error).message) : undefined;
        if (rewritten === undefined) throw e;
        if (rewrites === 0) {
          this.opts.log.warn({ pool: this.pool.name }, `sip-bridge pool "${this.pool.name}": the ${which}Query uses double-quoted strings ("..."), which this SQLite build refuses: read as '...' (SQLite's legacy reading, which Flexisip's SQLite has); write '...' in the query`);
        }
        text = rewritten;
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer !== undefined) this.opts.timers.clearTimeout(this.retryTimer);
    await this.opts.driver.close();
  }
}

/**
 * SQLite reads a double-quoted word that names no column as a string (its "DQS" legacy, on in the SQLite Flexisip links
 * to; Flexisip's tester writes `"newRealm" as realm`). better-sqlite3 is built without it: after "no such column: X",
 * `"X"` is rewritten `'X'` (outside single-quoted text) and the query tried again. Undefined: not that error.
 */
export function sqliteLegacyStrings(text: string, error: string): string | undefined {
  const m = /no such column: ("(?:[^"]|"")*"|\S+)/.exec(error);
  if (!m) return undefined;
  const word = m[1]!.startsWith('"') ? m[1]!.slice(1, -1).replace(/""/g, '"') : m[1]!;
  const quoted = `"${word.replace(/"/g, '""')}"`;
  let out = '';
  let i = 0;
  let changed = false;
  while (i < text.length) {
    if (text[i] === '\'') {
      const end = text.indexOf('\'', i + 1);
      const stop = end < 0 ? text.length : end + 1;
      out += text.slice(i, stop);
      i = stop;
    } else if (text.startsWith(quoted, i)) {
      out += `'${word.replace(/'/g, '\'\'')}'`;
      i += quoted.length;
      changed = true;
    } else {
      out += text[i++];
    }
  }
  return changed ? out : undefined;
}
