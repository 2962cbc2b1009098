/**
 * Turns the version 2 model into what routing needs (compiled regexes and templates) and performs the checks a
 * schema cannot: pool references, unique names, regexes, templates, URIs, unsupported loaders.
 */
import { didYouMean, jsonPath } from '../../core/plugin-api/index.js';
import type { EncryptionMode } from '../../core/plugin-api/index.js';
import type { AccountPoolConfig, StaticAccount, V2Root } from './config-types.js';
import type { ProvidersFile } from './providers-file.js';
import { PROVIDERS_KEY } from './providers-file.js';
import { isSipUri, parseSipAddress, readProxyUri, uriForHost } from './sip-uri.js';
import type { Protocol } from './sip-uri.js';
import { ACCOUNT_ADDRESSES, CALL_ADDRESSES, INVITE_ADDRESSES, compileTemplate } from './template.js';
import type { Template } from './template.js';
import { v1PoolName } from './v1-to-v2.js';

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

export interface PoolSpec {
  readonly name: string;
  readonly config: AccountPoolConfig;
  readonly accounts: readonly AccountSpec[];
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
    if (!Array.isArray(pool.loader)) {
      report(at.pool(name, 'loader'), 'SQL account loader is not supported by this server yet (list the accounts in a static loader array)');
      continue;
    }
    const poolProxy = proxyField(pool.outboundProxy, at.pool(name, 'outboundProxy'));
    const poolRegistrar = proxyField(pool.registrar, at.pool(name, 'registrar'));
    const seen = new Map<string, number>();
    const accounts: AccountSpec[] = [];
    pool.loader.forEach((account, j) => {
      const where = (field: string) => at.pool(name, `loader[${j}].${field}`);
      const uri = parseSipAddress(account.uri).uri;
      if (!isSipUri(account.uri)) report(where('uri'), `"${account.uri}" is not a SIP URI (write sip:user@domain)`);
      const first = seen.get(uri);
      if (first !== undefined) report(where('uri'), `"${account.uri}" is already account [${first}] of this pool (remove the duplicate)`);
      else seen.set(uri, j);
      checkUri(account.alias, where('alias'), report);
      const protocol = account.protocol ?? 'udp';
      const ownProxy = proxyField(account.outboundProxy, where('outboundProxy'), protocol);
      const ownRegistrar = proxyField(account.registrar, where('registrar'), protocol);
      // Flexisip's AccountPool::setOutboundProxyAndRegistrar (account-pool.cc:138-156): the account's proxy, else the
      // pool's, else its URI's host with its protocol (makeUriFromParameter(""), account.hh:200); the registrar: the
      // account's, else the pool's, else that outbound proxy.
      const outboundProxy = ownProxy ?? poolProxy ?? defaultProxy(account.uri, protocol, (what) => warn(where('uri'), what));
      accounts.push({ account, uri, outboundProxy, registrar: ownRegistrar ?? poolRegistrar ?? outboundProxy });
    });
    pools.set(name, { name, config: pool, accounts });
  }
  const sqlPools = new Set(Object.entries(root.accountPools).filter(([, p]) => !Array.isArray(p.loader)).map(([n]) => n));

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

    if (problems.length === before && trigger && accountToUse && to && from && !sqlPools.has(p.accountPool)) {
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
      });
    }
  });
  return { config: { file: file.file, providers, pools, warnings }, problems };
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

function checkUri(value: string | undefined, where: string, report: (where: string, what: string) => void): void {
  if (value && !isSipUri(value)) report(where, `"${value}" is not a SIP URI (write e.g. sip:proxy.example.org;transport=tcp)`);
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
