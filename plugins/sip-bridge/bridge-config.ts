/**
 * Turns the version 2 model into what routing needs (compiled regexes and templates) and performs the checks a
 * schema cannot: pool references, unique names, regexes, templates, URIs, unsupported loaders.
 */
import { didYouMean, jsonPath } from '../../core/plugin-api/index.js';
import type { EncryptionMode } from '../../core/plugin-api/index.js';
import type { AccountPoolConfig, StaticAccount, V2Root } from './config-types.js';
import type { ProvidersFile } from './providers-file.js';
import { PROVIDERS_KEY } from './providers-file.js';
import { isSipUri } from './sip-uri.js';
import { ACCOUNT_ADDRESSES, CALL_ADDRESSES, INVITE_ADDRESSES, compileTemplate } from './template.js';
import type { Template } from './template.js';
import { v1PoolName } from './v1-to-v2.js';

export type Trigger = { readonly kind: 'always' } | { readonly kind: 'regex'; readonly pattern: RegExp; readonly source: Template };
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

export interface PoolSpec {
  readonly name: string;
  readonly config: AccountPoolConfig;
  readonly accounts: readonly StaticAccount[];
}

export interface BridgeConfig {
  readonly file: string;
  readonly providers: readonly CompiledProvider[];
  readonly pools: ReadonlyMap<string, PoolSpec>;
}

export const DEFAULT_TRIGGER_SOURCE = '{incoming.requestUri}';
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
  const report = (where: string, what: string) => problems.push(`${PROVIDERS_KEY}: ${file.file}: ${where}: ${what}`);

  const pools = new Map<string, PoolSpec>();
  for (const [name, pool] of Object.entries(root.accountPools)) {
    if (!Array.isArray(pool.loader)) {
      report(at.pool(name, 'loader'), 'SQL account loader is not supported by this server yet (list the accounts in a static loader array)');
      continue;
    }
    checkUri(pool.outboundProxy, at.pool(name, 'outboundProxy'), report);
    checkUri(pool.registrar, at.pool(name, 'registrar'), report);
    const seen = new Map<string, number>();
    pool.loader.forEach((account, j) => {
      const where = (field: string) => at.pool(name, `loader[${j}].${field}`);
      if (!isSipUri(account.uri)) report(where('uri'), `"${account.uri}" is not a SIP URI (write sip:user@domain)`);
      const first = seen.get(account.uri);
      if (first !== undefined) report(where('uri'), `"${account.uri}" is already account [${first}] of this pool (remove the duplicate)`);
      else seen.set(account.uri, j);
      for (const field of ['alias', 'outboundProxy', 'registrar'] as const) checkUri(account[field], where(field), report);
    });
    pools.set(name, { name, config: pool, accounts: pool.loader });
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
      const source = template(p.triggerCondition.source ?? DEFAULT_TRIGGER_SOURCE, 'triggerCondition.source', CALL_ADDRESSES);
      trigger = pattern instanceof RegExp && source ? { kind: 'regex', pattern, source } : undefined;
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
    checkUri(p.outgoingInvite.outboundProxy, at.provider(i, 'outgoingInvite.outboundProxy'), report);

    if (problems.length === before && trigger && accountToUse && to && from && !sqlPools.has(p.accountPool)) {
      providers.push({
        name: p.name,
        poolName: p.accountPool,
        trigger,
        accountToUse,
        onAccountNotFound: p.onAccountNotFound,
        to,
        from,
        outboundProxy: p.outgoingInvite.outboundProxy || undefined,
        enableAvpf: p.outgoingInvite.enableAvpf,
        mediaEncryption: p.outgoingInvite.mediaEncryption,
      });
    }
  });
  return { config: { file: file.file, providers, pools }, problems };
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
