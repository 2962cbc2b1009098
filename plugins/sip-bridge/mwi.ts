/**
 * Message waiting (RFC 3842, event `message-summary`) as Flexisip's sip-bridge does it:
 * (a) bridging: an out-of-dialog SUBSCRIBE from an internal user (hooks.subscribeTarget) goes out as a provider's account
 *     (sip-provider.cc onSubscribeCreate: trigger on the resource, account by FindInPool with the event's to / from /
 *     requestUri, or Random): From and To = the account, Request-URI = the subscriber's, through the account's outbound
 *     proxy, challenges answered with its credentials. The core relays NOTIFYs back (core/b2bua/subscriptions.ts).
 * (b) a pool's `mwiServerUri`: each registered account SUBSCRIBEs message-summary to it (liblinphone's account MWI:
 *     Request-URI = the MWI server, From = To = the account, Expires 86400, Accept application/simple-message-summary);
 *     each NOTIFY is forwarded out of dialog to the alias of the account it is for (onNotifyToBeSent: FindInPool with
 *     the NOTIFY's fields), Message-Account rewritten to the alias, with a Priority header, through the provider's
 *     `outgoingNotify.outboundProxy`. A provider without outgoingNotify forwards nothing (logged).
 * With one-connection-per-account (`transportOf`), both kinds of SUBSCRIBE (refreshes and un-SUBSCRIBE included) go
 * through the account's own socket, as liblinphone's accounts_channel_isolation sends every request of an account on
 * its channel (host API 1.7.0; an older host sends them from the server's socket).
 */
import { messageSummaryPriority, rejectCall } from '../../core/plugin-api/index.js';
import type { AccountTransport, IncomingNotifyView, IncomingSubscribe, Logger, OutgoingRequest, PluginSipApi, PluginSubscription, RegistrationEvent, SubscribeTarget } from '../../core/plugin-api/index.js';
import type { AccountPool, Line } from './accounts.js';
import type { CompiledProvider } from './bridge-config.js';
import { chooseLine } from './routing.js';
import { parseSipAddress } from './sip-uri.js';
import { addressesOf, callValues, type AddressText } from './template.js';

export const MWI_EVENT = 'message-summary';
export const MWI_CONTENT_TYPE = 'application/simple-message-summary';
/** liblinphone's [sip] mwi_expires default (account.cpp subscribeToMessageWaitingIndication). */
export const MWI_EXPIRES = 86400;
/** A subscription of an account that ended while it is registered is tried again after this long. */
export const MWI_RETRY_MS = 60_000;

export interface EventAddresses {
  readonly to: AddressText;
  readonly from: AddressText;
  readonly requestUri: string;
}

function eventValues(e: EventAddresses): ReturnType<typeof callValues> {
  return callValues(addressesOf(e.to, e.from, e.requestUri));
}

export type SubscribeDecision =
  | { readonly kind: 'route'; readonly provider: CompiledProvider; readonly line: Line; readonly target: SubscribeTarget }
  | { readonly kind: 'reject'; readonly status: 488; readonly why: string };

/** SipBridge::onSubscribe: the first provider whose trigger matches the resource (To) and that finds an account. */
export function routeSubscribe(
  providers: readonly CompiledProvider[],
  pools: ReadonlyMap<string, AccountPool>,
  sub: EventAddresses,
  random: () => number = Math.random,
): SubscribeDecision {
  const values = eventValues(sub);
  for (const provider of providers) {
    const choice = chooseLine(provider, pools, values, sub.to.uri, random);
    if (choice.kind === 'next') continue;
    if (choice.kind === 'reject') return choice;
    const { line } = choice;
    // createSubscribe(resource = the account's identity): From and To are the account; Request-URI = leg A's.
    return {
      kind: 'route',
      provider,
      line,
      target: { requestUri: sub.requestUri, from: `<${line.uri}>`, to: `<${line.uri}>`, outboundProxy: line.outboundProxy, headers: {}, credentials: line.credentials },
    };
  }
  return { kind: 'reject', status: 488, why: 'no provider matched the subscription' };
}

export type NotifyDecision =
  | { readonly kind: 'send'; readonly provider: CompiledProvider; readonly line: Line; readonly alias: string; readonly outboundProxy: string }
  | { readonly kind: 'none'; readonly why: string };

/**
 * SipBridge::onNotifyToBeSent: providers in order; one whose trigger matches the NOTIFY's resource (To), that finds the
 * account (FindInPool with the NOTIFY's fields, or Random) and has outgoingNotify sends it to the account's alias;
 * any other outcome (decline included: sip-provider.cc returns nullopt) tries the next provider.
 */
export function routeNotify(
  providers: readonly CompiledProvider[],
  pools: ReadonlyMap<string, AccountPool>,
  notify: EventAddresses,
  random: () => number = Math.random,
): NotifyDecision {
  const values = eventValues(notify);
  const skipped: string[] = [];
  for (const provider of providers) {
    const choice = chooseLine(provider, pools, values, notify.to.uri, random, false);
    if (choice.kind !== 'line') {
      skipped.push(`"${provider.name}": ${choice.kind === 'reject' ? choice.why : 'trigger or account not matched'}`);
      continue;
    }
    const { line } = choice;
    if (!line.alias) { skipped.push(`"${provider.name}": account ${line.uri} has no alias`); continue; }
    if (!provider.notifyProxy) { skipped.push(`"${provider.name}": no outgoingNotify.outboundProxy`); continue; }
    return { kind: 'send', provider, line, alias: parseSipAddress(line.alias).uri, outboundProxy: provider.notifyProxy };
  }
  return { kind: 'none', why: skipped.length ? skipped.join('; ') : 'no provider' };
}

/**
 * The body as liblinphone writes it again (MessageWaitingIndication::toContent): Messages-Waiting, Message-Account
 * (here: `account`), then the summary lines (`Voice-Message: 4/8 (1/2)`…); other lines are dropped.
 */
export function rewriteMessageSummary(body: string, account: string): string {
  const lines = body.split(/\r?\n/);
  const waiting = lines.map((l) => /^\s*Messages-Waiting\s*:\s*(\S+)/i.exec(l)?.[1]).find((v) => v !== undefined);
  const summaries = lines.filter((l) => /^\s*[\w-]+-Message\s*:\s*\d+\s*\/\s*\d+/i.test(l)).map((l) => l.trim());
  return [`Messages-Waiting: ${waiting?.toLowerCase() === 'yes' ? 'yes' : 'no'}`, `Message-Account: ${account}`, ...summaries].map((l) => `${l}\r\n`).join('');
}

export interface MwiTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface MwiOptions {
  readonly providers: readonly CompiledProvider[];
  readonly pools: ReadonlyMap<string, AccountPool>;
  readonly sip: PluginSipApi;
  readonly log: Logger;
  readonly random: () => number;
  readonly timers: MwiTimers;
  readonly retryMs?: number;
  /** one-connection-per-account: the account's own socket (account-transports.ts), if it has one. */
  readonly transportOf?: (line: Line) => AccountTransport | undefined;
}

/** The MWI part of a running bridge: the subscribeTarget decision (a) and the accounts' own subscriptions (b). */
export class Mwi {
  /** Each account's subscription, with the identity and server it was made with. */
  private readonly subscriptions = new Map<Line, { readonly sub: PluginSubscription; readonly uri: string; readonly server: string }>();
  private readonly retries = new Map<Line, unknown>();
  /** Aliases with a forwarded NOTIFY in flight → the latest one waiting (undefined: none). */
  private readonly sending = new Map<string, OutgoingRequest | undefined>();
  private stopped = false;

  constructor(private readonly o: MwiOptions) {}

  /** hooks.subscribeTarget: a target for message-summary (and any event, as Flexisip), or 488. */
  subscribeTarget(target: SubscribeTarget | undefined, sub: IncomingSubscribe): SubscribeTarget | undefined {
    if (target) return target; // another plugin took it
    let decision: SubscribeDecision;
    try {
      decision = routeSubscribe(this.o.providers, this.o.pools, sub, this.o.random);
    } catch (e) {
      // sip-provider.cc onSubscribeCreate: an exception declines leg A (NotAcceptable).
      this.o.log.error({ subscription: sub.id, err: e }, 'SUBSCRIBE routing failed; declining it');
      return rejectCall(488, 'Not Acceptable Here');
    }
    if (decision.kind === 'reject') {
      this.o.log.info({ subscription: sub.id, event: sub.event, from: sub.from.uri, to: sub.to.uri, why: decision.why }, 'SUBSCRIBE not bridged');
      return rejectCall(decision.status, 'Not Acceptable Here');
    }
    const transport = this.o.transportOf?.(decision.line);
    this.o.log.info({ subscription: sub.id, event: sub.event, provider: decision.provider.name, account: decision.line.uri, ...(transport ? { port: transport.port } : {}) }, 'SUBSCRIBE bridged');
    return transport ? { ...decision.target, transport } : decision.target;
  }

  /** Accounts registered → subscribe to their pool's mwiServerUri; unregistered / failed / removed → unsubscribe. */
  registrationChanged(event: RegistrationEvent): void {
    const line = this.lineOf(event.account);
    if (!line || this.stopped) return;
    if (event.state === 'registered') this.subscribe(line);
    // unregistered, failed, and whatever else means the account is gone (a refresh in progress keeps it)
    else if (event.state !== 'registering') this.unsubscribe(line);
  }

  private lineOf(uri: string): Line | undefined {
    for (const pool of this.o.pools.values()) {
      const line = pool.get(uri);
      if (line) return line;
    }
    return undefined;
  }

  private subscribe(line: Line): void {
    // The account's own mwiServerUri, else its pool's (Flexisip account-pool.cc:79-84, 171-177).
    const server = line.account.mwiServerUri ? parseSipAddress(line.account.mwiServerUri).uri : line.pool.mwiServerUri;
    const current = this.subscriptions.get(line);
    // An account updated (SQL loader) to another identity or server subscribes again as what it is now.
    if (current && (current.uri !== line.uri || current.server !== server)) this.unsubscribe(line);
    if (!server || line.removed || this.subscriptions.has(line)) return;
    this.clearRetry(line);
    const { log } = this.o;
    const transport = this.o.transportOf?.(line);
    const sub = this.o.sip.subscribe({
      uri: server, event: MWI_EVENT, from: `<${line.uri}>`, to: `<${line.uri}>`, expires: MWI_EXPIRES,
      headers: { accept: MWI_CONTENT_TYPE }, outboundProxy: line.outboundProxy, credentials: line.credentials,
      ...(transport ? { transport } : {}),
    });
    this.subscriptions.set(line, { sub, uri: line.uri, server });
    log.info({ account: line.uri, mwiServer: server }, 'MWI: subscribing to the pool\'s mwiServerUri');
    sub.onNotify((n) => {
      if (line.removed) { this.unsubscribe(line); return; } // deleted from its pool meanwhile
      try {
        this.forward(n);
      } catch (e) {
        log.error({ account: line.uri, err: e }, 'MWI: forwarding a NOTIFY failed');
      }
    });
    sub.onTerminated((why) => {
      if (this.subscriptions.get(line)?.sub !== sub) return;
      this.subscriptions.delete(line);
      log.info({ account: line.uri, mwiServer: server, ...why }, 'MWI: subscription ended');
      if (this.stopped || line.removed || line.registration.state !== 'registered') return;
      this.retries.set(line, this.o.timers.setTimeout(() => {
        this.retries.delete(line);
        if (!this.stopped && line.registration.state === 'registered') this.subscribe(line);
      }, this.o.retryMs ?? MWI_RETRY_MS));
    });
  }

  private unsubscribe(line: Line): void {
    this.clearRetry(line);
    const current = this.subscriptions.get(line);
    if (!current) return;
    this.subscriptions.delete(line);
    void current.sub.terminate();
  }

  private clearRetry(line: Line): void {
    const t = this.retries.get(line);
    if (t !== undefined) this.o.timers.clearTimeout(t);
    this.retries.delete(line);
  }

  /** onMessageWaitingIndicationChanged → onNotifyToBeSent → an out-of-dialog NOTIFY to the account's alias. */
  private forward(n: IncomingNotifyView): void {
    const { log } = this.o;
    if (n.contentType !== MWI_CONTENT_TYPE) {
      log.info({ from: n.from.uri, contentType: n.contentType }, 'MWI: NOTIFY without a message summary: not forwarded');
      return;
    }
    const decision = routeNotify(this.o.providers, this.o.pools, { to: n.to, from: n.from, requestUri: n.requestUri }, this.o.random);
    if (decision.kind === 'none') {
      log.info({ to: n.to.uri, from: n.from.uri, why: decision.why }, 'MWI: NOTIFY not forwarded (no provider with outgoingNotify matched its account)');
      return;
    }
    const { alias, outboundProxy } = decision;
    const request: OutgoingRequest = {
      method: 'NOTIFY',
      uri: alias,
      headers: {
        from: `<${alias}>`, to: `<${alias}>`, event: MWI_EVENT, 'subscription-state': 'terminated', 'content-type': MWI_CONTENT_TYPE,
        priority: messageSummaryPriority(n.body),
      },
      body: rewriteMessageSummary(n.body, alias),
      outboundProxy,
    };
    // One NOTIFY in flight per alias; a summary is the whole state, so only the latest one waiting is kept.
    if (this.sending.has(alias)) {
      this.sending.set(alias, request);
      return;
    }
    this.sending.set(alias, undefined);
    void this.send(request, { account: decision.line.uri, alias, provider: decision.provider.name, outboundProxy });
  }

  private async send(request: OutgoingRequest, fields: Record<string, string>): Promise<void> {
    try {
      const res = await this.o.sip.request(request);
      if (res.status >= 300) this.o.log.warn({ ...fields, status: res.status }, 'MWI: forwarded NOTIFY refused');
      else this.o.log.info({ ...fields, status: res.status }, 'MWI: NOTIFY forwarded to the alias');
    } catch (e) {
      this.o.log.warn({ ...fields, err: e }, 'MWI: forwarded NOTIFY not sent');
    }
    const next = this.sending.get(request.uri);
    if (next && !this.stopped) {
      this.sending.set(request.uri, undefined);
      await this.send(next, fields);
    } else this.sending.delete(request.uri);
  }

  /** Shutdown: every account subscription un-SUBSCRIBEd. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const line of [...this.retries.keys()]) this.clearRetry(line);
    const subs = [...this.subscriptions.values()];
    this.subscriptions.clear();
    await Promise.allSettled(subs.map((s) => s.sub.terminate()));
  }
}
