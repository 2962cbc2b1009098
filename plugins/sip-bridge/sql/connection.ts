/**
 * The `connection` of an SQL account loader, in Flexisip's form: the soci connection string of its `dbBackend`
 * (whitespace-separated `key=value`, a value may be quoted with ' or "), read into what our drivers need. Checked at
 * --check-config and start-up; nothing here touches a database.
 *
 * - sqlite3 (soci's sqlite3 backend): `db=FILE` (or `dbname=`), or the whole string is the file name when it has no `=`;
 *   `timeout=SECONDS` (busy timeout), `readonly=true`; soci's `synchronous`, `shared_cache`, `vfs`, `nocreate` are
 *   accepted and ignored. A relative file name is resolved from `[b2bua-server] data-directory`; an empty connection
 *   is `<data-directory>/sip-bridge-accounts.db`.
 * - postgresql (soci hands it to libpq's PQconnectdb): `host`, `hostaddr`, `port`, `dbname`, `user`, `password`,
 *   `connect_timeout` (seconds), `sslmode`, `application_name`, `options`; or a `postgresql://` URI.
 * - mysql (soci's mysql backend): `db` / `dbname` / `service`, `user`, `password` / `pass`, `host`, `port`,
 *   `unix_socket`, `sslca`, `sslcert`, `sslkey`, `charset`, `connect_timeout` (seconds); soci's `reconnect`,
 *   `local_infile`, `read_timeout`, `write_timeout` are accepted and ignored.
 */
import path from 'node:path';

export const DB_BACKENDS = ['sqlite3', 'postgresql', 'mysql'] as const;
export type DbBackend = (typeof DB_BACKENDS)[number];

/** Connecting longer than this counts as "down" (a connect_timeout / timeout key changes it). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
export const DEFAULT_SQLITE_FILE = 'sip-bridge-accounts.db';

export interface SqliteConnection {
  readonly backend: 'sqlite3';
  /** As written: '' (the default file), relative (to data-directory) or absolute. */
  readonly file: string;
  readonly readonly: boolean;
  readonly busyTimeoutMs: number;
}

export interface PostgresConnection {
  readonly backend: 'postgresql';
  /** pg.Pool options (without the pool size). */
  readonly options: {
    host?: string; port?: number; database?: string; user?: string; password?: string; connectionString?: string;
    ssl?: boolean | { rejectUnauthorized: boolean }; application_name?: string; options?: string;
    connectionTimeoutMillis: number;
  };
}

export interface MysqlConnection {
  readonly backend: 'mysql';
  readonly options: {
    host?: string; port?: number; database?: string; user?: string; password?: string; socketPath?: string; charset?: string;
    ssl?: { ca?: string; cert?: string; key?: string };
    connectTimeout: number;
  };
}

export type DbConnection = SqliteConnection | PostgresConnection | MysqlConnection;

/** `key=value` pairs of a soci / libpq connection string; values may be quoted ('…' or "…", backslash escapes). */
export function parseKeyValues(text: string): { pairs: [string, string][] } | { error: string } {
  const pairs: [string, string][] = [];
  let i = 0;
  const n = text.length;
  const skipSpaces = () => {
    while (i < n && /\s/.test(text[i]!)) i++;
  };
  for (;;) {
    skipSpaces();
    if (i >= n) return { pairs };
    const keyStart = i;
    while (i < n && text[i] !== '=' && !/\s/.test(text[i]!)) i++;
    const key = text.slice(keyStart, i);
    skipSpaces();
    if (text[i] !== '=') return { error: `"${key}" has no value (write ${key}=VALUE)` };
    i++;
    skipSpaces();
    let value = '';
    const quote = text[i];
    if (quote === '\'' || quote === '"') {
      i++;
      for (;;) {
        if (i >= n) return { error: `the value of ${key} has no closing ${quote}` };
        const c = text[i]!;
        if (c === '\\' && i + 1 < n) {
          value += text[i + 1];
          i += 2;
        } else if (c === quote) {
          i++;
          break;
        } else {
          value += c;
          i++;
        }
      }
    } else {
      while (i < n && !/\s/.test(text[i]!)) value += text[i++];
    }
    if (!key) return { error: `a value "${value}" has no key` };
    pairs.push([key, value]);
  }
}

type Read<T> = { ok: true; value: T } | { ok: false; error: string };

const seconds = (key: string, v: string): Read<number> =>
  /^\d+(\.\d+)?$/.test(v) ? { ok: true, value: Math.round(Number(v) * 1000) } : { ok: false, error: `${key}=${v} is not a number of seconds` };

/** Reads `connection` for `backend`; the error says what to write instead. */
export function readConnection(backend: DbBackend, text: string): Read<DbConnection> {
  if (backend === 'postgresql' && /^postgres(ql)?:\/\//.test(text.trim())) {
    return { ok: true, value: { backend, options: { connectionString: text.trim(), connectionTimeoutMillis: DEFAULT_CONNECT_TIMEOUT_MS } } };
  }
  if (backend === 'sqlite3' && !text.includes('=')) {
    return { ok: true, value: { backend, file: text.trim(), readonly: false, busyTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS } };
  }
  const parsed = parseKeyValues(text);
  if ('error' in parsed) return { ok: false, error: parsed.error };
  const known = KNOWN_KEYS[backend];
  for (const [key] of parsed.pairs) {
    if (!known.used.includes(key) && !known.ignored.includes(key)) {
      return { ok: false, error: `unknown key "${key}" for ${backend} (known keys: ${known.used.join(', ')})` };
    }
  }
  const kv = new Map(parsed.pairs);
  const timeout = (key: string): Read<number> => (kv.has(key) ? seconds(key, kv.get(key)!) : { ok: true, value: DEFAULT_CONNECT_TIMEOUT_MS });
  const port = (): Read<number | undefined> => {
    const p = kv.get('port');
    if (p === undefined) return { ok: true, value: undefined };
    return /^\d{1,5}$/.test(p) && Number(p) > 0 && Number(p) < 65536 ? { ok: true, value: Number(p) } : { ok: false, error: `port=${p} is not a port number` };
  };
  const p = port();
  if (!p.ok) return p;
  switch (backend) {
    case 'sqlite3': {
      const t = timeout('timeout');
      if (!t.ok) return t;
      return { ok: true, value: { backend, file: kv.get('db') ?? kv.get('dbname') ?? '', readonly: kv.get('readonly') === 'true', busyTimeoutMs: t.value } };
    }
    case 'postgresql': {
      const t = timeout('connect_timeout');
      if (!t.ok) return t;
      const sslmode = kv.get('sslmode');
      if (sslmode !== undefined && !SSL_MODES.includes(sslmode)) return { ok: false, error: `sslmode=${sslmode} is not one of ${SSL_MODES.join(', ')}` };
      const options: PostgresConnection['options'] = { connectionTimeoutMillis: t.value };
      const host = kv.get('host') ?? kv.get('hostaddr');
      if (host !== undefined) options.host = host;
      if (p.value !== undefined) options.port = p.value;
      if (kv.has('dbname')) options.database = kv.get('dbname')!;
      if (kv.has('user')) options.user = kv.get('user')!;
      if (kv.has('password')) options.password = kv.get('password')!;
      if (kv.has('application_name')) options.application_name = kv.get('application_name')!;
      if (kv.has('options')) options.options = kv.get('options')!;
      if (sslmode === 'require') options.ssl = { rejectUnauthorized: false };
      else if (sslmode === 'verify-ca' || sslmode === 'verify-full') options.ssl = true;
      return { ok: true, value: { backend, options } };
    }
    case 'mysql': {
      const t = timeout('connect_timeout');
      if (!t.ok) return t;
      const options: MysqlConnection['options'] = { connectTimeout: t.value };
      if (kv.has('host')) options.host = kv.get('host')!;
      if (p.value !== undefined) options.port = p.value;
      const database = kv.get('db') ?? kv.get('dbname') ?? kv.get('service');
      if (database !== undefined) options.database = database;
      if (kv.has('user')) options.user = kv.get('user')!;
      const password = kv.get('password') ?? kv.get('pass');
      if (password !== undefined) options.password = password;
      if (kv.has('unix_socket')) options.socketPath = kv.get('unix_socket')!;
      if (kv.has('charset')) options.charset = kv.get('charset')!;
      if (kv.has('sslca') || kv.has('sslcert') || kv.has('sslkey')) {
        options.ssl = {};
        if (kv.has('sslca')) options.ssl.ca = kv.get('sslca')!;
        if (kv.has('sslcert')) options.ssl.cert = kv.get('sslcert')!;
        if (kv.has('sslkey')) options.ssl.key = kv.get('sslkey')!;
      }
      return { ok: true, value: { backend, options } };
    }
  }
}

const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];

const KNOWN_KEYS: Record<DbBackend, { used: string[]; ignored: string[] }> = {
  sqlite3: { used: ['db', 'dbname', 'timeout', 'readonly'], ignored: ['synchronous', 'shared_cache', 'vfs', 'nocreate'] },
  postgresql: { used: ['host', 'hostaddr', 'port', 'dbname', 'user', 'password', 'connect_timeout', 'sslmode', 'application_name', 'options'], ignored: [] },
  mysql: {
    used: ['db', 'dbname', 'service', 'user', 'password', 'pass', 'host', 'port', 'unix_socket', 'sslca', 'sslcert', 'sslkey', 'charset', 'connect_timeout'],
    ignored: ['reconnect', 'local_infile', 'read_timeout', 'write_timeout'],
  },
};

/** The SQLite file a connection opens: relative names (and the default) live in data-directory. */
export function sqliteFile(c: SqliteConnection, dataDirectory: string): string {
  if (c.file === ':memory:') return c.file;
  return path.resolve(dataDirectory, c.file || DEFAULT_SQLITE_FILE);
}

/** For logs: where the database is, never its password. */
export function describeConnection(c: DbConnection, dataDirectory: string): string {
  switch (c.backend) {
    case 'sqlite3':
      return `sqlite3 ${sqliteFile(c, dataDirectory)}`;
    case 'postgresql': {
      if (c.options.connectionString) return `postgresql ${c.options.connectionString.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@')}`;
      const o = c.options;
      return `postgresql ${o.user ? `${o.user}@` : ''}${o.host ?? 'localhost'}${o.port ? `:${o.port}` : ''}/${o.database ?? ''}`;
    }
    case 'mysql': {
      const o = c.options;
      return `mysql ${o.user ? `${o.user}@` : ''}${o.socketPath ?? `${o.host ?? 'localhost'}${o.port ? `:${o.port}` : ''}`}/${o.database ?? ''}`;
    }
  }
}
