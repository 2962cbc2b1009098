/** Flexisip's conversion of a version 1 providers array into the version 2 model. */
import type { AccountPoolConfig, ProviderConfig, V1Root, V2Root } from './config-types.js';

export const V1_TO_TEMPLATE = 'sip:{incoming.requestUri.user}@{account.uri.hostport}{incoming.requestUri.uriParameters}';
/** v1 routes were unlimited per line. */
export const V1_DEFAULT_MAX_CALLS_PER_LINE = 4294967295;

export function v1PoolName(providerName: string): string {
  return `Account pool - ${providerName}`;
}

export function convertV1(v1: V1Root): V2Root {
  const providers: ProviderConfig[] = [];
  const accountPools: Record<string, AccountPoolConfig> = {};
  for (const p of v1) {
    const poolName = v1PoolName(p.name);
    providers.push({
      name: p.name,
      accountPool: poolName,
      triggerCondition: { strategy: 'MatchRegex', pattern: p.pattern, source: '{incoming.requestUri}' },
      accountToUse: { strategy: 'Random' },
      onAccountNotFound: 'decline',
      outgoingInvite: {
        to: V1_TO_TEMPLATE,
        ...(p.enableAvpf !== undefined ? { enableAvpf: p.enableAvpf } : {}),
        ...(p.mediaEncryption !== undefined ? { mediaEncryption: p.mediaEncryption } : {}),
      },
    });
    accountPools[poolName] = {
      registrationRequired: p.registrationRequired ?? false,
      maxCallsPerLine: p.maxCallsPerLine ?? V1_DEFAULT_MAX_CALLS_PER_LINE,
      ...(p.outboundProxy ? { outboundProxy: p.outboundProxy } : {}),
      loader: p.accounts.map((a) => ({
        uri: a.uri,
        ...(a.userid ? { userid: a.userid } : {}),
        secretType: 'clrtxt' as const,
        ...(a.password ? { secret: a.password } : {}),
      })),
    };
  }
  return { schemaVersion: 2, providers, accountPools };
}
