/**
 * Turns the version 2 model into what routing needs (compiled regexes and templates) and performs the checks a
 * schema cannot: pool references, unique names, regexes, templates, URIs, SQL loaders (backend, connection, queries,
 * threadPoolSize).
 */
import { didYouMean, jsonPath } from '../../core/plugin-api/index.js';
import type { EncryptionMode } from '../../core/plugin-api/index.js';
import type { AccountPoolConfig, SqlLoader, StaticAccount, V2Root } from './config-types.js';
import type { ProvidersFile } from './providers-file.js';
import { PROVIDERS_KEY } from './providers-file.js';
import { isSipUri, parseSipAddress, readProxyUri, uriForHost } from './sip-uri.js';
import type { Protocol } from './sip-uri.js';
import { ACCOUNT_ADDRESSES, CALL_ADDRESSES, INVITE_ADDRESSES, compileTemplate } from './template.js';
import type { Template } from './template.js';
import { v1PoolName } from './v1-to-v2.js';
import { DB_BACKENDS, readConnection } from './sql/connection.js';
import type { DbBackend, DbConnection } from './sql/connection.js';
import { prepareQuery } from './sql/query.js';
import type { PreparedQuery } from './sql/query.js';

/** MatchRegex is matched against the incoming Request-URI, whatever its `source` says (as Flexisip 2.5 does). */
export type Trigger = { readonly kind: 'always' } | { readonly kind: 'regex'; readonly pattern: RegExp };
export type AccountChoice =
  | { readonly kind: 'random' }
  | { readonly kind: 'find'; readonly by: Template; readonly source: Template };

export interface CompiledProvider {
  readonly name: string;
  readonly poolName: string;
  readonly trigger: Trigger;
  readonly accountToUse: AccountChoice;
  readonly onAccountNotFound: 'nextProvider' | 'decline';
  readonly to: Template;
  readonly from: Template;
  readonly outboundProxy: string | undefined;
  readonly enableAvpf: boolean | undefined;
  readonly mediaEncryption: EncryptionMode | undefined;
  /** outgoingNotify.outboundProxy, a bare SIP URI: where MWI NOTIFYs for this provider's accounts are sent (mwi.ts). */
  readonly notifyProxy?: string | undefined;
}

/** An account with the addresses its requests use, worked out once (the same values for --check-config and run time). */
export interface AccountSpec {
  /** As written in the file (credentials, alias). */
  readonly account: StaticAccount;
  /** Its identity, a bare SIP URI. */
  readonly uri: string;
  /** Bare SIP URI where its REGISTERs and INVITEs are sent. */
  readonly outboundProxy: string;
  /** Bare SIP URI its REGISTERs are addressed to (Request-URI). */
  readonly registrar: string;
}

/** An SQL account loader, checked (Flexisip 2.5.2 configuration/v2/v2.hh:167-181, sql-account-loader.cc). */
export interface SqlLoaderSpec {
  readonly backend: DbBackend;
  readonly connection: DbConnection;
  readonly initQuery: PreparedQuery;
  readonly updateQuery: PreparedQuery;
  readonly threadPoolSize: number;
}

export interface PoolSpec {
  readonly name: string;
  readonly config: AccountPoolConfig;
  /** The static accounts; an SQL pool starts empty and is filled by its loader. */
  readonly accounts: readonly AccountSpec[];
  readonly sql?: SqlLoaderSpec;
  /** The pool's outboundProxy and registrar, bare URIs (undefined when absent). */
  readonly outboundProxy: string | undefined;
  readonly registrar: string | undefined;
  /** mwiServerUri, a bare SIP URI: each registered account SUBSCRIBEs message-summary to it (mwi.ts). */
  readonly mwiServerUri?: string | undefined;
}

export interface BridgeConfig {
  readonly file: string;
  readonly providers: readonly CompiledProvider[];
  readonly pools: ReadonlyMap<string, PoolSpec>;
  /** `providers: <file>: <JSON path>: …` lines: what is accepted but read differently than written, or ignored. */
  readonly warnings: readonly string[];
}

/** The `source` spellings of the Request-URI (the last one is what Flexisip's v1 conversion writes, v2.cc:37). */
const REQUEST_URI_SOURCES = ['{incoming.requestUri}', '{requestUri}', '${incoming.requestUri}'];
export const DEFAULT_FROM = '{account.uri}';

/** Where a problem is, in the file's own format (v1 files have no pools: a pool is its provider). */
interface Locator {
  provider(index: number, field: string): string;
  pool(name: string, field: string): string;
}

function locatorFor(file: ProvidersFile): Locator {
  if (file.version === 2) {
    return {
      provider: (i, field) => `${jsonPath(`/providers/${i}`)}.${field}`,
      pool: (name, field) => `${jsonPath(`/accountPools/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`)}${field ? `.${field}` : ''}`,
    };
  }
  const v1Fields: Record<string, string> = { 'triggerCondition.pattern': 'pattern', name: 'name' };
  const indexOfPool = new Map(file.root.providers.map((p, i) => [v1PoolName(p.name), i]));
  return {
    provider: (i, field) => `[${i}].${v1Fields[field] ?? field}`,
    pool: (name, field) => `[${indexOfPool.get(name) ?? '?'}]${field ? `.${field.replace(/^loader/, 'accounts')}` : ''}`,
  };
}

export function compileBridgeConfig(file: ProvidersFile): { config: BridgeConfig; problems: string[] } {
  const root: V2Root = file.root;
  const at = locatorFor(file);
  const problems: string[] = [];
  const warnings: string[] = file.warnings.map((w) => `${PROVIDERS_KEY}: ${file.file}: ${w}`);
  const report = (where: string, what: string) => problems.push(`${PROVIDERS_KEY}: ${file.file}: ${where}: ${what}`);
  // Warnings name a JSON path from the root `$` (as unknown-keys.ts does): `$.providers[0].…`, `$[0].…` (version 1).
  const warn = (where: string, what: string) => warnings.push(`${PROVIDERS_KEY}: ${file.file}: ${where.startsWith('[') ? '$' : '$.'}${where}: ${what}`);
  /** A proxy / registrar field: the bare URI, or undefined (absent, or refused and reported). */
  const proxyField = (value: string | undefined, where: string, protocol?: Protocol): string | undefined => {
    if (!value) return undefined;
    const read = readProxyUri(value, protocol);
    if ('error' in read) {
      report(where, `"${value}" ${read.error} (write e.g. sip:proxy.example.org;transport=tcp${protocol ? ', or host:port with the account\'s protocol' : ''})`);
      return undefined;
    }
    if (read.form === 'host' && !protocol) {
      warn(where, `"${value}" has no scheme: read as ${read.uri} (UDP); Flexisip 2.5 hands this field to liblinphone's address parser, which expects a SIP URI (write ${read.uri}, with ;transport=tcp or tls if needed)`);
    }
    return read.uri;
  };

  const pools = new Map<string, PoolSpec>();
  for (const [name, pool] of Object.entries(root.accountPools)) {
    const poolProxy = proxyField(pool.outboundProxy, at.pool(name, 'outboundProxy'));
    const poolRegistrar = proxyField(pool.registrar, at.pool(name, 'registrar'));
    // Flexisip refuses an unparsable mwiServerUri at start-up (account-pool.cc:79-83).
    const mwiServerUri = pool.mwiServerUri ? proxyField(pool.mwiServerUri, at.pool(name, 'mwiServerUri')) : undefined;
    if (!Array.isArray(pool.loader)) {
      const sql = compileSqlLoader(pool.loader, (field, what) => report(at.pool(name, `loader.${field}`), what), (field, what) => warn(at.pool(name, `loader.${field}`), what));
      if (sql) pools.set(name, { name, config: pool, accounts: [], sql, outboundProxy: poolProxy, registrar: poolRegistrar, mwiServerUri });
      continue;
    }
    const seen = new Map<string, number>();
    const accounts: AccountSpec[] = [];
    pool.loader.forEach((account, j) => {
      const where = (field: string) => at.pool(name, `loader[${j}].${field}`);
      const spec = compileAccount(account, { outboundProxy: poolProxy, registrar: poolRegistrar }, {
        report: (field, what) => report(where(field), what),
        warn: (field, what) => warn(where(field), what),
      }, (uri) => {
        const first = seen.get(uri);
        if (first !== undefined) report(where('uri'), `"${account.uri}" is already account [${first}] of this pool (remove the duplicate)`);
        else seen.set(uri, j);
      });
      accounts.push(spec);
    });
    pools.set(name, { name, config: pool, accounts, outboundProxy: poolProxy, registrar: poolRegistrar, mwiServerUri });
  }

  const providers: CompiledProvider[] = [];
  const firstIndexOfName = new Map<string, number>();
  root.providers.forEach((p, i) => {
    const before = problems.length;
    const earlier = firstIndexOfName.get(p.name);
    if (earlier !== undefined) {
      report(at.provider(i, 'name'), `"${p.name}" is already the name of provider [${earlier}] (give each provider a unique name)`);
    } else firstIndexOfName.set(p.name, i);

    if (!(p.accountPool in root.accountPools)) {
      const names = Object.keys(root.accountPools);
      const hint = didYouMean(p.accountPool, names);
      report(
        at.provider(i, 'accountPool'),
        `no account pool named "${p.accountPool}" (${hint ? `did you mean "${hint}"?` : names.length ? `define it in accountPools, or use one of ${names.map((n) => `"${n}"`).join(', ')}` : 'define it in accountPools'})`,
      );
    }

    const template = (text: string, field: string, addresses: readonly string[]): Template | undefined => {
      const t = compileTemplate(text, addresses);
      if ('error' in t) {
        report(at.provider(i, field), t.error);
        return undefined;
      }
      return t;
    };

    let trigger: Trigger | undefined = { kind: 'always' };
    if (p.triggerCondition.strategy === 'MatchRegex') {
      const pattern = wholeMatch(p.triggerCondition.pattern);
      if ('error' in pattern) report(at.provider(i, 'triggerCondition.pattern'), `invalid regex "${p.triggerCondition.pattern}": ${pattern.error} (fix the regular expression)`);
      const source = p.triggerCondition.source;
      if (source !== undefined && !REQUEST_URI_SOURCES.includes(source.trim())) {
        warn(
          at.provider(i, 'triggerCondition.source'),
          `"${source}" is ignored: the pattern is matched against the incoming Request-URI, as Flexisip 2.5 does (trigger-strategy.cc:33 reads only the Request-URI); write "{incoming.requestUri}", or route on From/To with accountToUse FindInPool`,
        );
      }
      trigger = pattern instanceof RegExp ? { kind: 'regex', pattern } : undefined;
    }

    let accountToUse: AccountChoice | undefined = { kind: 'random' };
    if (p.accountToUse.strategy === 'FindInPool') {
      const byText = p.accountToUse.by === 'uri' || p.accountToUse.by === 'alias' ? `{${p.accountToUse.by}}` : p.accountToUse.by;
      const by = template(byText, 'accountToUse.by', ACCOUNT_ADDRESSES);
      const source = template(p.accountToUse.source, 'accountToUse.source', CALL_ADDRESSES);
      accountToUse = by && source ? { kind: 'find', by, source } : undefined;
    }

    const to = template(p.outgoingInvite.to, 'outgoingInvite.to', INVITE_ADDRESSES);
    const from = template(p.outgoingInvite.from || DEFAULT_FROM, 'outgoingInvite.from', INVITE_ADDRESSES);
    for (const [t, field] of [[to, 'outgoingInvite.to'], [from, 'outgoingInvite.from']] as const) {
      for (const f of t?.quotedDisplayNames ?? []) {
        warn(
          at.provider(i, field),
          `"{${f}}" is written between double quotes: Flexisip 2.5 renders the display name with its own quotes (string-format-fields.hh:44), so it would send ""Name"" and decline callers that have a display name; this server renders it once quoted (write {${f}} without the quotes)`,
        );
      }
    }
    const inviteProxy = proxyField(p.outgoingInvite.outboundProxy, at.provider(i, 'outgoingInvite.outboundProxy'));
    // Flexisip refuses an unparsable outgoingNotify.outboundProxy at start-up (notify-tweaker.cc:37-40).
    const notifyProxy = proxyField(p.outgoingNotify?.outboundProxy, at.provider(i, 'outgoingNotify.outboundProxy'));

    if (problems.length === before && trigger && accountToUse && to && from) {
      providers.push({
        name: p.name,
        poolName: p.accountPool,
        trigger,
        accountToUse,
        onAccountNotFound: p.onAccountNotFound,
        to,
        from,
        outboundProxy: inviteProxy,
        enableAvpf: p.outgoingInvite.enableAvpf,
        mediaEncryption: p.outgoingInvite.mediaEncryption,
        notifyProxy,
      });
    }
  });
  return { config: { file: file.file, providers, pools, warnings }, problems };
}

export interface AccountProblems {
  /** A refused field: the account is unusable. */
  report(field: string, what: string): void;
  warn(field: string, what: string): void;
}

/**
 * An account (static, or read from a database row) with the addresses its requests use. Flexisip's
 * AccountPool::setOutboundProxyAndRegistrar (account-pool.cc:138-156): the account's proxy, else the pool's, else its
 * URI's host with its protocol (makeUriFromParameter(""), account.hh:200); the registrar: the account's, else the
 * pool's, else that outbound proxy.
 */
export function compileAccount(
  account: StaticAccount,
  pool: { readonly outboundProxy: string | undefined; readonly registrar: string | undefined },
  problems: AccountProblems,
  /** Called after the URI is checked (the static loader reports duplicates there). */
  checkUri?: (uri: string) => void,
): AccountSpec {
  const uri = parseSipAddress(account.uri).uri;
  if (!isSipUri(account.uri)) problems.report('uri', `"${account.uri}" is not a SIP URI (write sip:user@domain)`);
  checkUri?.(uri);
  if (account.alias && !isSipUri(account.alias)) problems.report('alias', `"${account.alias}" is not a SIP URI (write e.g. sip:proxy.example.org;transport=tcp)`);
  const protocol = account.protocol ?? 'udp';
  const field = (value: string | undefined, name: string): string | undefined => {
    if (!value) return undefined;
    const read = readProxyUri(value, protocol);
    if ('error' in read) {
      problems.report(name, `"${value}" ${read.error} (write e.g. sip:proxy.example.org;transport=tcp, or host:port with the account's protocol)`);
      return undefined;
    }
    return read.uri;
  };
  const ownProxy = field(account.outboundProxy, 'outboundProxy');
  const ownRegistrar = field(account.registrar, 'registrar');
  // An account's own mwiServerUri (Flexisip account-pool.cc:171-177, refused at start-up when unparsable); mwi.ts reads it.
  if (account.mwiServerUri && !isSipUri(account.mwiServerUri)) problems.report('mwiServerUri', `"${account.mwiServerUri}" is not a SIP URI (write e.g. sip:voicemail@itsp.example.net)`);
  const outboundProxy = ownProxy ?? pool.outboundProxy ?? defaultProxy(account.uri, protocol, (what) => problems.warn('uri', what));
  return { account, uri, outboundProxy, registrar: ownRegistrar ?? pool.registrar ?? outboundProxy };
}

/** Flexisip opens threadPoolSize sessions in a soci::connection_pool of 50 (sql-account-loader.hh:44, .cc:45-47): more fails at start. */
export const MAX_THREAD_POOL_SIZE = 50;
export const DEFAULT_THREAD_POOL_SIZE = 50;

function compileSqlLoader(loader: SqlLoader, report: (field: string, what: string) => void, warn: (field: string, what: string) => void): SqlLoaderSpec | undefined {
  const backend = loader.dbBackend as DbBackend;
  if (!DB_BACKENDS.includes(backend)) {
    report('dbBackend', `"${loader.dbBackend}" is not a database backend (use one of ${DB_BACKENDS.join(', ')})`);
    return undefined;
  }
  const threadPoolSize = loader.threadPoolSize ?? DEFAULT_THREAD_POOL_SIZE;
  let ok = true;
  // sql-account-loader.cc:31-37 refuses <= 0 ("invalid thread pool size (N) set in SQL Account loader"); above 50,
  // soci::connection_pool::at() throws at start-up (the pool has 50 slots, sql-account-loader.hh:44).
  if (!Number.isInteger(threadPoolSize) || threadPoolSize <= 0 || threadPoolSize > MAX_THREAD_POOL_SIZE) {
    report('threadPoolSize', `invalid thread pool size (${threadPoolSize}) set in SQL Account loader (write an integer from 1 to ${MAX_THREAD_POOL_SIZE}: Flexisip refuses 0 and below, and cannot open more than ${MAX_THREAD_POOL_SIZE} connections)`);
    ok = false;
  }
  const connection = readConnection(backend, loader.connection);
  if (!connection.ok) {
    report('connection', `"${hidePassword(loader.connection)}": ${connection.error} (write the soci connection string of ${backend}, e.g. ${CONNECTION_EXAMPLES[backend]})`);
    ok = false;
  }
  const initQuery = prepareQuery(loader.initQuery, backend);
  if (!loader.initQuery.trim()) {
    report('initQuery', 'is empty (write the SELECT that returns every account of the pool)');
    ok = false;
  }
  if (initQuery.names.length > 0) {
    report('initQuery', `uses :${initQuery.names[0]}, but no parameter is bound to the initial query (remove it)`);
    ok = false;
  }
  const updateQuery = prepareQuery(loader.updateQuery, backend);
  const unknown = updateQuery.names.find((n) => n !== 'identifier');
  if (unknown !== undefined) {
    report('updateQuery', `uses :${unknown}, but only :identifier is bound (Flexisip binds the identifier of an account update, sql-account-loader.cc:72)`);
    ok = false;
  } else if (updateQuery.names.length === 0) {
    warn('updateQuery', 'has no :identifier parameter: an account update would read the same rows whatever account changed (write e.g. ... WHERE user_id = :identifier)');
  }
  return ok && connection.ok ? { backend, connection: connection.value, initQuery, updateQuery, threadPoolSize } : undefined;
}

const CONNECTION_EXAMPLES: Record<DbBackend, string> = {
  sqlite3: '"/var/lib/flexisip/b2b/accounts.db" or "db=accounts.db timeout=5"',
  postgresql: '"host=127.0.0.1 port=5432 dbname=flexisip user=flexisip password=secret"',
  mysql: '"host=127.0.0.1 port=3306 db=flexisip user=flexisip password=secret"',
};

function hidePassword(connection: string): string {
  return connection.replace(/\b(password|pass)(\s*=\s*)('[^']*'|"[^"]*"|\S+)/g, '$1$2***').replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

/**
 * Where an account without any outbound proxy sends: its URI's host with its protocol. Flexisip writes the host only
 * (SipUri{uri}.getHost(), account.hh:200) and so drops a port the account URI has: we keep it, and say so.
 */
function defaultProxy(accountUri: string, protocol: Protocol, warn: (what: string) => void): string {
  const parts = parseSipAddress(accountUri);
  if (parts.hostport !== parts.host) {
    warn(`no outboundProxy for "${accountUri}": its requests go to ${uriForHost(parts.hostport, protocol)}; Flexisip 2.5 would drop the port (${uriForHost(parts.host, protocol)}): set outboundProxy to be explicit`);
  }
  return uriForHost(parts.hostport, protocol);
}

/** Flexisip uses std::regex_match: the pattern must match the whole string. */
function wholeMatch(pattern: string): RegExp | { error: string } {
  try {
    return new RegExp(`^(?:${pattern})$`);
  } catch (e) {
    const message = (e as Error).message;
    return { error: message.slice(message.lastIndexOf(': ') + 2) };
  }
}
