/**
 * Choosing a provider and an account for a call (Flexisip's rules), pure apart from reading line availability:
 * providers in order; a trigger that does not match → next provider; no account found → nextProvider or decline;
 * a found account that is busy or unregistered → 488; nothing matched → 488.
 */
import type { OutgoingRequest } from '../../core/plugin-api/index.js';
import type { AccountPool, Line } from './accounts.js';
import type { CompiledProvider } from './bridge-config.js';
import { parseSipAddress, renderedAddress } from './sip-uri.js';
import { callValues } from './template.js';
import type { CallAddresses, TemplateValues } from './template.js';

export interface RoutedTarget {
  readonly requestUri: string;
  /** The account's digest credentials, for challenges to leg B's INVITE. */
  readonly credentials: OutgoingRequest['credentials'];
  readonly to: string;
  readonly from: string;
  /** Always set: the provider's outgoingInvite.outboundProxy, else the account's (bare SIP URIs). */
  readonly outboundProxy: string;
}

export type RouteDecision =
  | { readonly kind: 'route'; readonly provider: CompiledProvider; readonly line: Line; readonly target: RoutedTarget }
  | { readonly kind: 'reject'; readonly status: 488; readonly why: string };

export function routeCall(
  providers: readonly CompiledProvider[],
  pools: ReadonlyMap<string, AccountPool>,
  call: CallAddresses,
  random: () => number = Math.random,
): RouteDecision {
  const values = callValues(call);
  for (const provider of providers) {
    // Flexisip matches the Request-URI, URI only (trigger-strategy.cc:33, asStringUriOnly()), whatever `source` says.
    const choice = chooseLine(provider, pools, values, call.requestUri.uri, random);
    if (choice.kind === 'next') continue;
    if (choice.kind === 'reject') return choice;
    const { line } = choice;
    const inviteValues = { ...values, ...line.templateValues };
    const toText = provider.to.render(inviteValues);
    const fromText = provider.from.render(inviteValues);
    const to = renderedAddress(toText);
    const from = renderedAddress(fromText);
    if (to === undefined) return reject(`provider "${provider.name}": outgoingInvite.to rendered "${toText}", not a SIP URI`);
    if (from === undefined) return reject(`provider "${provider.name}": outgoingInvite.from rendered "${fromText}", not a SIP URI`);
    const requestUri = parseSipAddress(to).uri;
    return {
      kind: 'route',
      provider,
      line,
      // Like Flexisip, a provider's own outboundProxy sends the INVITE outside the account: no account credentials.
      target: provider.outboundProxy
        ? { requestUri, to, from, outboundProxy: provider.outboundProxy, credentials: undefined }
        : { requestUri, to, from, outboundProxy: line.outboundProxy, credentials: line.credentials },
    };
  }
  return reject('no provider matched the call');
}

export type LineChoice =
  | { readonly kind: 'line'; readonly line: Line }
  | { readonly kind: 'next' }
  | { readonly kind: 'reject'; readonly status: 488; readonly why: string };

/**
 * One provider's account for a call or an event (Flexisip's SipProvider): its trigger tested on `triggerUri` (a call's
 * Request-URI, an event's resource); the account by FindInPool (source rendered with `values`) or Random; no account →
 * next provider or decline (onAccountNotFound); a found account that is busy or unregistered → 488 (unless !requireAvailable).
 */
export function chooseLine(
  provider: CompiledProvider,
  pools: ReadonlyMap<string, AccountPool>,
  values: TemplateValues,
  triggerUri: string,
  random: () => number,
  /** False for an MWI NOTIFY to forward (Flexisip's onNotifyToBeSent does not ask whether the account is available). */
  requireAvailable = true,
): LineChoice {
  if (provider.trigger.kind === 'regex' && !provider.trigger.pattern.test(triggerUri)) return { kind: 'next' };
  const pool = pools.get(provider.poolName);
  if (!pool) return { kind: 'next' }; // compileBridgeConfig guarantees it exists; defensive only
  const line =
    provider.accountToUse.kind === 'random'
      ? pool.pickAvailable(random)
      : pool.find(provider.accountToUse.by, provider.accountToUse.source.render(values));
  if (!line) {
    if (provider.onAccountNotFound === 'nextProvider') return { kind: 'next' };
    return reject(`provider "${provider.name}": no account available in pool "${pool.name}" (onAccountNotFound: decline)`);
  }
  if (requireAvailable && !line.isAvailable()) {
    const why = line.freeSlots === 0 ? `all ${line.busySlots} slots busy` : `registration ${line.registration.state}`;
    return reject(`provider "${provider.name}": account ${line.uri} is not available (${why})`);
  }
  return { kind: 'line', line };
}

function reject(why: string): { readonly kind: 'reject'; readonly status: 488; readonly why: string } {
  return { kind: 'reject', status: 488, why };
}
