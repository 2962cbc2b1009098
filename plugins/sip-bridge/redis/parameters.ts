/**
 * The Redis server of the SQL pools' account updates, read as Flexisip 2.5.2 reads it
 * (libhiredis-wrapper/redis-parameters.cc RedisParameters::fromRegistrarConf): the keys of `[module::Registrar]`
 * of the same flexisip.conf (module-registrar.cc:448-507 for their defaults). Values are checked as Flexisip's
 * ConfigInt / ConfigBoolean / ConfigDuration<seconds> read them; a problem names the key and what to write.
 */
import type { ConfigFileView } from '../../../core/plugin-api/index.js';

export const REGISTRAR_SECTION = 'module::Registrar';

export type RedisAuth =
  | { readonly kind: 'none' }
  /** `AUTH password` (Redis < 6 or the default user). */
  | { readonly kind: 'legacy'; readonly password: string }
  /** `AUTH user password` (Redis 6 ACL). */
  | { readonly kind: 'acl'; readonly user: string; readonly password: string };

export interface RedisParameters {
  readonly host: string;
  readonly port: number;
  readonly auth: RedisAuth;
  /** `redis-subscription-keep-alive-check-period`: PING every this many seconds (> 0). */
  readonly keepAliveSeconds: number;
  /** `redis-use-slaves-as-backup` and `redis-slave-check-period`: read, checked, not acted on (see README). */
  readonly useSlavesAsBackup: boolean;
  readonly slaveCheckSeconds: number;
}

export interface RedisParametersReading {
  readonly parameters: RedisParameters;
  readonly problems: readonly string[];
  readonly warnings: readonly string[];
}

const DEFAULTS = {
  'redis-server-domain': 'localhost',
  'redis-server-port': '6379',
  'redis-auth-user': '',
  'redis-auth-password': '',
  'redis-slave-check-period': '60',
  'redis-use-slaves-as-backup': 'true',
  'redis-subscription-keep-alive-check-period': '60',
} as const;

type Key = keyof typeof DEFAULTS;

/** Seconds of a Flexisip DurationS value (`60`, `30s`, `2min`, `1h`, `1d`, `1m` = a month, `1y`), or an error. */
export function flexisipSeconds(value: string): number | { error: string } {
  const m = /^([0-9]+)(|ms|s|min|h|d|m|y)$/.exec(value);
  if (!m) return { error: 'is not a duration (write seconds, e.g. 60, or a number with s, min, h or d, e.g. 2min)' };
  const n = Number(m[1]);
  switch (m[2]) {
    case 'ms': return { error: 'is in milliseconds, finer than this key\'s precision (Flexisip refuses it: write seconds, e.g. 60)' };
    case '': case 's': return n;
    case 'min': return n * 60;
    case 'h': return n * 3600;
    case 'd': return n * 86400;
    case 'm': return n * Math.trunc(30.436875 * 86400);
    default: return n * Math.trunc(365.2425 * 86400);
  }
}

export function readRedisParameters(configFile: ConfigFileView | undefined): RedisParametersReading {
  const section = configFile?.section(REGISTRAR_SECTION);
  const problems: string[] = [];
  const warnings: string[] = [];
  const written = (key: Key): string | undefined => section?.get(key)?.trim();
  const raw = (key: Key): string => written(key) ?? DEFAULTS[key];
  const problem = (key: Key, what: string): void => {
    problems.push(`[${REGISTRAR_SECTION}] ${key}: "${raw(key)}" ${what}`);
  };

  const host = raw('redis-server-domain');
  if (host === '' || /[\s/@]/.test(host)) problem('redis-server-domain', 'is not a host name or address (write e.g. localhost or 192.0.2.10)');

  let port = 6379;
  const portText = raw('redis-server-port');
  if (!/^[+]?[0-9]+$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) problem('redis-server-port', 'is not a port (write an integer from 1 to 65535, e.g. 6379)');
  else port = Number(portText);

  const seconds = (key: Key, fallback: number): number => {
    const read = flexisipSeconds(raw(key));
    if (typeof read !== 'number') {
      problem(key, read.error);
      return fallback;
    }
    if (read <= 0) {
      problem(key, 'must be positive, as Flexisip requires (write e.g. 60)');
      return fallback;
    }
    return read;
  };
  const keepAliveSeconds = seconds('redis-subscription-keep-alive-check-period', 60);
  const slaveCheckSeconds = seconds('redis-slave-check-period', 60);

  let useSlavesAsBackup = true;
  const slaves = raw('redis-use-slaves-as-backup');
  if (slaves === 'true' || slaves === '1') useSlavesAsBackup = true;
  else if (slaves === 'false' || slaves === '0') useSlavesAsBackup = false;
  else problem('redis-use-slaves-as-backup', 'is not a boolean (write true or false, as Flexisip reads it)');

  const user = raw('redis-auth-user');
  const password = section?.get('redis-auth-password') ?? ''; // a password is taken as written
  let auth: RedisAuth = { kind: 'none' };
  if (password !== '') auth = user === '' ? { kind: 'legacy', password } : { kind: 'acl', user, password };
  else if (user !== '') {
    warnings.push(`[${REGISTRAR_SECTION}] redis-auth-user: "${user}" without redis-auth-password is ignored, as Flexisip does: the account updates connect to Redis without authentication (set redis-auth-password, or remove redis-auth-user)`);
  }

  // Replica failover is not implemented. The section is the proxy's too (its default is true): refusing would break
  // shared files, so a value written in the file is a warning, the default is only documented.
  if (useSlavesAsBackup && written('redis-use-slaves-as-backup') !== undefined) {
    warnings.push(`[${REGISTRAR_SECTION}] redis-use-slaves-as-backup: "${raw('redis-use-slaves-as-backup')}": the sip-bridge account updates do not fail over to Redis replicas (nor check them every redis-slave-check-period): when ${host}:${port} is lost they reconnect to it, and reload every account once subscribed again (keep it for the proxy; nothing to change for the B2BUA)`);
  }
  return { parameters: { host, port, auth, keepAliveSeconds, useSlavesAsBackup, slaveCheckSeconds }, problems, warnings };
}

/** Where the server is, for messages: no password. */
export function describeRedis(p: RedisParameters): string {
  const who = p.auth.kind === 'acl' ? `${p.auth.user}@` : '';
  return `redis://${who}${p.host.includes(':') ? `[${p.host}]` : p.host}:${p.port}`;
}
