/**
 * soci's named parameters (`:identifier`) turned into the placeholders of each driver, and Flexisip's column names
 * read into an account (soci::type_conversion<Account>::from_base, Flexisip 2.5.2 configuration/v2/account.hh:269-295).
 */
import type { SecretType, StaticAccount } from '../config-types.js';
import type { DbBackend } from './connection.js';

export interface PreparedQuery {
  /** The query with positional placeholders: `?` (sqlite3, mysql) or `$1` (postgresql). */
  readonly text: string;
  /** The named parameters in placeholder order. */
  readonly names: readonly string[];
}

/**
 * Replaces `:name` by the backend's placeholder, outside quoted text and comments; `::` (a PostgreSQL cast) is left
 * alone. The same `:name` twice binds the same value twice.
 */
export function prepareQuery(sql: string, backend: DbBackend): PreparedQuery {
  const names: string[] = [];
  let out = '';
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    if (c === '\'' || c === '"' || c === '`') {
      const end = closing(sql, i, c);
      out += sql.slice(i, end);
      i = end;
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      const stop = end < 0 ? n : end;
      out += sql.slice(i, stop);
      i = stop;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      const stop = end < 0 ? n : end + 2;
      out += sql.slice(i, stop);
      i = stop;
    } else if (c === ':' && sql[i + 1] === ':') {
      out += '::';
      i += 2;
    } else if (c === ':' && /[A-Za-z_]/.test(sql[i + 1] ?? '')) {
      let j = i + 1;
      while (j < n && /\w/.test(sql[j]!)) j++;
      names.push(sql.slice(i + 1, j));
      out += backend === 'postgresql' ? `$${names.length}` : '?';
      i = j;
    } else {
      out += c;
      i++;
    }
  }
  return { text: out, names };
}

/** Index just past the quoted text starting at `start` (a doubled quote is an escaped one). */
function closing(sql: string, start: number, quote: string): number {
  let i = start + 1;
  for (;;) {
    const end = sql.indexOf(quote, i);
    if (end < 0) return sql.length;
    if (sql[end + 1] === quote) {
      i = end + 2;
      continue;
    }
    return end + 1;
  }
}

export type Row = Readonly<Record<string, unknown>>;

/** Columns Flexisip reads without a fallback: a query without them fails (soci throws on a missing column). */
const REQUIRED: readonly (readonly string[])[] = [
  ['username'], ['domain', 'hostport'], ['user_id'], ['realm'], ['secret'], ['secret_type'], ['alias_username'], ['alias_domain', 'alias_hostport'],
];
/** The columns Flexisip reads when they are there. */
export const ACCOUNT_COLUMNS = [
  'username', 'domain', 'user_id', 'realm', 'secret', 'secret_type', 'alias_username', 'alias_domain', 'outbound_proxy', 'registrar', 'protocol',
  'mwi_server_uri',
] as const;

/** Missing required columns of a result row (the same for every row of a result), as `domain (or hostport)`. */
export function missingColumns(row: Row): string[] {
  return REQUIRED.filter((names) => !names.some((n) => n in row)).map((names) => names.join(' (or ') + (names.length > 1 ? ')' : ''));
}

export type RowReading = { readonly account: StaticAccount; readonly warnings: readonly string[] } | { readonly error: string };

/**
 * One result row → an account, as Flexisip reads it: uri `sip:username@domain`; realm defaults to the domain; secret
 * type lower-cased (`md5`, `sha256`, `sha-256`, `clrtxt`; anything else is MD5, as nlohmann's enum reading gives the
 * first value); alias only when both alias columns are non-empty; protocol lower-cased, default `udp`.
 */
export function accountFromRow(row: Row): RowReading {
  const missing = missingColumns(row);
  if (missing.length > 0) return { error: `the query returns no column ${missing.join(', ')} (Flexisip's column names: ${ACCOUNT_COLUMNS.join(', ')})` };
  const warnings: string[] = [];
  const text = (names: readonly string[]): string | null | { error: string } => {
    const name = names.find((n) => n in row)!;
    const v = row[name];
    if (v === null || v === undefined) return null;
    if (typeof v === 'string') return v;
    return { error: `column ${name} is ${Buffer.isBuffer(v) ? 'binary' : typeof v}, not text (CAST it to a string type in the query, as Flexisip needs too)` };
  };
  const values: Record<string, string | null> = {};
  for (const names of [...REQUIRED, ['outbound_proxy'], ['registrar'], ['protocol'], ['mwi_server_uri']]) {
    if (!names.some((n) => n in row)) continue;
    const v = text(names);
    if (v !== null && typeof v === 'object') return v;
    values[names[0]!] = v;
  }
  const username = values['username'];
  const domain = values['domain'];
  if (username === null || username === undefined) return { error: 'username is NULL' };
  if (!domain) return { error: `domain is ${domain === null ? 'NULL' : 'empty'}` };
  const uri = `sip:${username ? `${username}@` : ''}${domain}`;
  const rawType = (values['secret_type'] ?? 'md5').toLowerCase();
  const secretType: SecretType = rawType === 'clrtxt' ? 'clrtxt' : rawType === 'sha256' || rawType === 'sha-256' ? 'sha256' : 'md5';
  if (!['md5', 'sha256', 'sha-256', 'clrtxt'].includes(rawType)) {
    warnings.push(`secret_type "${values['secret_type']}" is not md5, sha256 or clrtxt: read as md5, as Flexisip does`);
  }
  const protocol = (values['protocol'] ?? 'udp').toLowerCase();
  if (protocol !== 'udp' && protocol !== 'tcp' && protocol !== 'tls') return { error: `protocol "${values['protocol']}" is not udp, tcp or tls` };
  const aliasUser = values['alias_username'] ?? '';
  const aliasDomain = values['alias_domain'] ?? '';
  const account: StaticAccount = {
    uri,
    userid: values['user_id'] ?? '',
    secret: values['secret'] ?? '',
    secretType,
    realm: values['realm'] ?? domain,
    protocol,
  };
  if (aliasUser && aliasDomain) account.alias = `sip:${aliasUser}@${aliasDomain}`;
  if (values['outbound_proxy']) account.outboundProxy = values['outbound_proxy'];
  if (values['registrar']) account.registrar = values['registrar'];
  if (values['mwi_server_uri']) account.mwiServerUri = values['mwi_server_uri']; // Flexisip account.hh:294
  return { account, warnings };
}
