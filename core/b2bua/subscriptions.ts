/**
 * Subscriptions (RFC 6665), as Flexisip's B2BUA bridges them (b2bua-server.cc onSubscribeReceived, onNotifyReceived,
 * onSubscribeStateChanged): an out-of-dialog SUBSCRIBE (leg A, we are its notifier) is offered to `hooks.subscribeTarget`;
 * with a target, leg B's SUBSCRIBE (we are its subscriber, subscription-uac.ts) goes there and leg A is answered with
 * leg B's answer; leg B's NOTIFYs are relayed to leg A (message-summary gets a Priority header), leg A's refreshes and
 * un-SUBSCRIBE to leg B; an expiry, a `terminated` NOTIFY or a 481 ends both. Also the plugins' own subscriptions
 * (`host.sip.subscribe`). Bounded: live subscriptions, body sizes; each has at most one timer, always cancelled.
 */
import { CallRejection } from '../plugin-api/index.js';
import type {
  B2buaHooks, IncomingNotifyView, IncomingSubscribe, OutgoingSubscribe, PluginSubscription, PluginSubscriptionState, SubscribeTarget,
} from '../plugin-api/index.js';
import type { Logger } from '../vocabulary/index.js';
import { Dialog } from '../sip/dialog.js';
import { randomToken, type SipRequest, type SipResponse } from '../sip/message.js';
import type { ServerTransaction, SipStack } from '../sip/stack.js';
import type { TimerHandle } from '../sip/timers.js';
import { messageSummaryPriority } from './subscription-mwi.js';
import { readExpires, readSubscriptionState, SubscriberLeg, type SubscriptionHost } from './subscription-uac.js';

/** Bridged subscriptions alive at once (asking plugins, waiting for leg B, active); more get 503. */
export const DEFAULT_MAX_SUBSCRIPTIONS = 1000;
/** SUBSCRIBE / NOTIFY bodies larger than this are refused (413 / not relayed). */
export const MAX_BODY_BYTES = 16 * 1024;
/** We never ask a notifier for more than a day; it may grant less (RFC 6665 §4.2.1.1). */
export const MAX_EXPIRES = 86400;
/** After its expiry, a subscription not refreshed lives this long more (a refresh in flight). */
const EXPIRY_GRACE_MS = 2000;
/** After an un-SUBSCRIBE, the notifier's final NOTIFY is awaited this long. */
const FINAL_NOTIFY_MS = 5000;
/** NOTIFYs waiting for leg A's answer to the previous one, per subscription; older ones are dropped beyond. */
export const MAX_QUEUED_NOTIFY = 8;
/** Refreshes of leg A closer than this to the previous one are answered here, not relayed to leg B. */
export const MIN_REFRESH_INTERVAL_MS = 2000;
/** A fetch (Expires: 0) or a closed leg keeps answering its NOTIFYs this long. */
const LINGER_MS = 5000;

export interface SubscriptionsOptions {
  readonly stack: SipStack;
  readonly hooks: B2buaHooks;
  readonly log: Logger;
  contact(): string;
  /** False once the server stops accepting (new SUBSCRIBEs get 503). */
  accepting(): boolean;
  readonly maxSubscriptions?: number;
}

type Handler = (req: SipRequest, tx: ServerTransaction) => void;

function eventPackage(value: string | undefined): string {
  return (value ?? '').split(';')[0]!.trim().toLowerCase();
}

/** A refusal from leg B relayed to leg A: never a challenge meant for us. */
function relayedStatus(res: SipResponse): [number, string] {
  if (res.status === 401 || res.status === 407) return [403, 'Forbidden (the notifier refused our credentials)'];
  return [res.status, res.reason];
}

export class Subscriptions implements SubscriptionHost {
  readonly stack: SipStack;
  readonly log: Logger;
  private readonly routes = new Map<string, Handler>();
  private readonly live = new Set<Bridged>();
  private readonly own = new Set<OwnSubscription>();
  private total = 0;

  constructor(private readonly o: SubscriptionsOptions) {
    this.stack = o.stack;
    this.log = o.log.child({ component: 'subscriptions' });
  }

  contact(): string { return this.o.contact(); }
  route(key: string, handler: Handler): void { this.routes.set(key, handler); }
  unroute(key: string): void { this.routes.delete(key); }
  /** Dialogs routed here (live legs and lingering ones): back to 0 once everything ended. */
  get routedDialogs(): number { return this.routes.size; }

  counters(): { subscriptions: number; subscriptionsTotal: number } {
    return { subscriptions: this.live.size + this.own.size, subscriptionsTotal: this.total };
  }

  /** An in-dialog request (To tag set) for one of our subscriptions; false when none has this dialog. */
  inDialog(req: SipRequest, tx: ServerTransaction): boolean {
    const handler = this.routes.get(`${req.callId}|${req.toTag ?? ''}`);
    if (!handler) return false;
    handler(req, tx);
    return true;
  }

  /** An out-of-dialog SUBSCRIBE. */
  onSubscribe(req: SipRequest, tx: ServerTransaction): void {
    const toTag = randomToken(8);
    const refuse = (status: number, reason: string, why: string): void => {
      this.log.info({ callIdA: req.callId, event: req.get('event'), from: req.from.uri, to: req.to.uri, status, why }, 'SUBSCRIBE refused');
      tx.send(tx.response(status, reason, toTag));
    };
    if (!this.o.accepting()) return refuse(503, 'Service Unavailable (shutting down)', 'the server is stopping');
    const max = this.o.maxSubscriptions ?? DEFAULT_MAX_SUBSCRIPTIONS;
    if (this.live.size >= max) return refuse(503, 'Service Unavailable (too many subscriptions)', `${max} subscriptions are alive`);
    // Our own leg B SUBSCRIBE routed back to us (its Call-ID and From tag are a leg B dialog of ours): a loop.
    if (this.routes.has(`${req.callId}|${req.fromTag ?? ''}`)) return refuse(482, 'Loop Detected', 'our own leg B SUBSCRIBE came back');
    if (req.get('max-forwards')?.trim() === '0') return refuse(483, 'Too Many Hops', 'Max-Forwards: 0');
    const event = eventPackage(req.get('event'));
    if (!event) return refuse(489, 'Bad Event', 'no Event header');
    if (Buffer.byteLength(req.body) > MAX_BODY_BYTES) return refuse(413, 'Request Entity Too Large', `body larger than ${MAX_BODY_BYTES} bytes`);
    // Flexisip: std::stoi(Expires) or deny NotAcceptable (b2bua-server.cc:459-466); a negative value is refused too.
    const expires = readExpires(req.get('expires'));
    if (expires === undefined || expires < 0) return refuse(488, 'Not Acceptable Here', `Expires "${req.get('expires') ?? ''}" is not a number of seconds`);
    if (expires > MAX_EXPIRES) {
      // Safer than Flexisip (which passes any value on): a subscription never outlives a day without a refresh.
      this.log.warn({ callIdA: req.callId, expires, max: MAX_EXPIRES }, `SUBSCRIBE Expires ${expires} asks for more than a day: leg B is asked ${MAX_EXPIRES} s`);
    }
    this.total++;
    const sub = new Bridged(this, `sub-${this.total}`, req, tx, toTag, event, Math.min(expires, MAX_EXPIRES));
    this.live.add(sub);
    void sub.start().catch((e: unknown) => {
      sub.log.error({ err: (e as Error).stack }, 'subscription failed');
      void sub.end('internal error', { unsubscribe: true, status: [500, 'Server Internal Error'] });
    });
  }

  ended(sub: Bridged): void { this.live.delete(sub); }
  ownEnded(sub: OwnSubscription): void { this.own.delete(sub); }
  get hooks(): B2buaHooks { return this.o.hooks; }

  /** A plugin's subscription (`host.sip.subscribe`). */
  subscribe(options: OutgoingSubscribe): PluginSubscription {
    this.total++;
    const sub = new OwnSubscription(this, `own-${this.total}`, options);
    this.own.add(sub);
    sub.start();
    return sub;
  }

  /**
   * Shutdown, before the plugins' shutdown hooks (which close their account transports): the bridged subscriptions
   * ended as close() ends them, so a leg B placed through an account transport un-SUBSCRIBEs from it.
   */
  async endBridged(): Promise<void> {
    await Promise.allSettled([...this.live].map((s) => s.end('shutdown', { unsubscribe: true, notifyA: 'noresource', status: [503, 'Service Unavailable (shutting down)'] })));
  }

  /** Shutdown: every subscription ended (leg A told `terminated;reason=noresource`, leg B un-SUBSCRIBEd); bounded by the caller. */
  async close(): Promise<void> {
    const ends = [...this.live].map((s) => s.end('shutdown', { unsubscribe: true, notifyA: 'noresource', status: [503, 'Service Unavailable (shutting down)'] }));
    ends.push(...[...this.own].map((s) => s.terminate()));
    await Promise.allSettled(ends);
  }
}

interface EndOptions {
  /** Send leg B an un-SUBSCRIBE. */
  readonly unsubscribe?: boolean;
  /** Tell leg A with NOTIFY `terminated;reason=<this>`. */
  readonly notifyA?: string;
  /** Leg A's SUBSCRIBE not answered yet: answer this. */
  readonly status?: [number, string];
}

/** A bridged subscription: leg A (we notify) and leg B (we subscribe). */
class Bridged {
  readonly log: Logger;
  private legB: SubscriberLeg | undefined;
  private dialogA: Dialog | undefined;
  private state: 'asking' | 'subscribing' | 'active' | 'closing' | 'ended' = 'asking';
  private timer: TimerHandle | undefined;
  /** A NOTIFY of leg B received before leg A could be answered (the latest only). */
  private early: SipRequest | undefined;
  private readonly eventHeader: string;
  /** NOTIFYs waiting for leg A (see notifyA), the one in progress, and how many were dropped. */
  private readonly queueA: ((n: SipRequest) => void)[] = [];
  private sendingA: Promise<void> | undefined;
  private droppedA = 0;
  /** When the granted time runs out; a refresh on its way to leg B; when the last one was relayed. */
  private expiresAt = 0;
  private refreshing = false;
  private lastRefreshAt = 0;

  constructor(
    private readonly owner: Subscriptions,
    readonly id: string,
    private readonly req: SipRequest,
    private readonly tx: ServerTransaction,
    private readonly tagA: string,
    readonly event: string,
    private expires: number,
  ) {
    this.eventHeader = req.get('event') ?? event;
    this.log = owner.log.child({ subscription: id, event, callIdA: req.callId });
  }

  private view(): IncomingSubscribe {
    const { req, tx } = this;
    return Object.freeze({
      id: this.id, event: this.event, callId: req.callId, requestUri: req.uri, from: req.from, to: req.to, expires: this.expires,
      header: (n: string) => req.get(n), body: req.body, source: { address: tx.source.address, port: tx.source.port },
    });
  }

  async start(): Promise<void> {
    this.log.info({ from: this.req.from.uri, to: this.req.to.uri, requestUri: this.req.uri, expires: this.expires, source: this.tx.source }, 'incoming SUBSCRIBE');
    let target: SubscribeTarget | undefined;
    try {
      target = await this.owner.hooks.subscribeTarget.promise(undefined, this.view());
    } catch (e) {
      if (e instanceof CallRejection) return this.end(`refused by a plugin: ${e.status} ${e.reason}`, { status: [e.status, e.reason] });
      this.log.error({ err: (e as Error).stack }, 'a subscribeTarget hook threw');
      return this.end('a subscribeTarget hook threw', { status: [500, 'Server Internal Error'] });
    }
    if (this.state === 'ended') return;
    // Flexisip's default application (application.hh onSubscribe) denies with NotAcceptable.
    if (!target) return this.end('no plugin takes this subscription', { status: [488, 'Not Acceptable Here'] });
    this.state = 'subscribing';
    const accept = this.req.get('accept');
    const contentType = this.req.get('content-type');
    this.legB = new SubscriberLeg(this.owner, {
      requestUri: target.requestUri,
      from: target.from,
      to: target.to,
      event: this.eventHeader,
      headers: { ...(accept ? { accept } : {}), ...target.headers },
      outboundProxy: target.outboundProxy,
      credentials: target.credentials,
      transport: target.transport,
      body: this.req.body !== '' ? { contentType: contentType ?? 'text/plain', text: this.req.body } : undefined,
    }, (r, t) => this.fromB(r, t));
    this.log.info({ requestUri: target.requestUri, from: target.from, to: target.to, outboundProxy: target.outboundProxy, callIdB: this.legB.callId }, 'leg B SUBSCRIBE');
    const legB = this.legB;
    const res = await legB.subscribe(this.expires);
    if (this.state !== 'subscribing') {
      // Ended meanwhile (shutdown, internal error): an accepted leg B is un-SUBSCRIBEd.
      if (res.status < 300) void legB.subscribe(0).finally(() => legB.close(LINGER_MS));
      else legB.close();
      return;
    }
    if (res.status >= 300) {
      legB.close();
      return this.end(`leg B answered ${res.status} ${res.reason}`, { status: relayedStatus(res) });
    }
    const granted = readExpires(res.get('expires'));
    if (granted !== undefined && granted >= 0 && granted < this.expires) this.expires = granted;
    this.dialogA = Dialog.asUas(this.req, this.tagA, `<${this.owner.contact()}>`);
    if (this.tx.transport.protocol !== 'udp' && this.dialogA.routeSet.length === 0) this.dialogA.flow = { transport: this.tx.transport, remote: this.tx.source };
    this.owner.route(`${this.req.callId}|${this.tagA}`, (r, t) => this.fromA(r, t));
    const ok = this.tx.response(res.status === 202 ? 202 : 200, res.status === 202 ? 'Accepted' : 'OK', this.tagA);
    ok.set('expires', String(this.expires));
    ok.set('contact', `<${this.owner.contact()}>`);
    this.tx.send(ok);
    this.state = 'active';
    this.log.info({ status: ok.status, expires: this.expires }, 'subscription active');
    this.armExpiry();
    const early = this.early;
    this.early = undefined;
    if (early) this.relay(early);
  }

  private armExpiry(): void {
    this.timer?.cancel();
    // A fetch (Expires: 0) waits for the notifier's NOTIFY a little; others expire unless refreshed.
    const ms = this.expires === 0 ? LINGER_MS : this.expires * 1000 + EXPIRY_GRACE_MS;
    this.expiresAt = Date.now() + this.expires * 1000;
    this.timer = this.owner.stack.timers.after(ms, () => {
      this.timer = undefined;
      void this.end(this.expires === 0 ? 'fetch done' : 'expired (not refreshed)', { unsubscribe: this.expires !== 0, notifyA: 'timeout' });
    });
  }

  /** Requests in leg A's dialog: refresh / un-SUBSCRIBE. */
  private fromA(req: SipRequest, tx: ServerTransaction): void {
    const d = this.dialogA!;
    if (d.remoteTag !== (req.fromTag ?? '')) { tx.send(tx.response(481)); return; }
    if (!d.acceptRemoteCSeq(req)) { tx.send(tx.response(500, 'Server Internal Error (CSeq out of order)')); return; }
    if (req.method !== 'SUBSCRIBE') {
      const res = tx.response(405);
      res.set('allow', 'SUBSCRIBE');
      tx.send(res);
      return;
    }
    if (this.state !== 'active') { tx.send(tx.response(481)); return; }
    const raw = req.get('expires');
    const asked = raw === undefined ? this.expires : readExpires(raw);
    if (asked === undefined || asked < 0) { tx.send(tx.response(400, 'Bad Request (Expires)')); return; }
    // A refresh while one is on its way to leg B, or right after one: answered here with the time left, so that a
    // subscriber refreshing in a loop does not make us flood the notifier.
    if (asked > 0 && (this.refreshing || Date.now() - this.lastRefreshAt < MIN_REFRESH_INTERVAL_MS)) {
      const ok = tx.response(200);
      ok.set('expires', String(Math.max(0, Math.round((this.expiresAt - Date.now()) / 1000))));
      ok.set('contact', `<${this.owner.contact()}>`);
      tx.send(ok);
      return;
    }
    void this.refresh(Math.min(asked, MAX_EXPIRES), tx);
  }

  private async refresh(expires: number, tx: ServerTransaction): Promise<void> {
    if (expires === 0) this.state = 'closing';
    this.refreshing = true;
    this.lastRefreshAt = Date.now();
    const res = await this.legB!.subscribe(expires).finally(() => { this.refreshing = false; });
    if (expires === 0) {
      // Leg A's un-SUBSCRIBE is accepted whatever leg B says (its final NOTIFY may even have ended us already).
      const ok = tx.response(200);
      ok.set('expires', '0');
      tx.send(ok);
      if (this.state === 'ended') return;
      this.log.info({ status: res.status }, 'un-SUBSCRIBE relayed to leg B; waiting for its final NOTIFY');
      this.timer?.cancel();
      this.timer = this.owner.stack.timers.after(FINAL_NOTIFY_MS, () => {
        this.timer = undefined;
        void this.end('un-SUBSCRIBE (leg B sent no final NOTIFY)', { notifyA: '' });
      });
      return;
    }
    if (this.state === 'ended') { tx.send(tx.response(481)); return; }
    if (res.status >= 300) {
      const [status, reason] = relayedStatus(res);
      tx.send(tx.response(status, reason));
      if (res.status === 481) void this.end('leg B: 481 to a refresh', { notifyA: 'noresource' });
      else this.log.info({ status: res.status }, 'refresh refused by leg B; the subscription lasts until its expiry');
      return;
    }
    const granted = readExpires(res.get('expires'));
    this.expires = granted !== undefined && granted >= 0 && granted < expires ? granted : expires;
    const ok = tx.response(200);
    ok.set('expires', String(this.expires));
    ok.set('contact', `<${this.owner.contact()}>`);
    tx.send(ok);
    this.armExpiry();
  }

  /** Requests in leg B's dialog (NOTIFY). */
  private fromB(req: SipRequest, tx: ServerTransaction): void {
    if (req.method !== 'NOTIFY') {
      const res = tx.response(405);
      res.set('allow', 'NOTIFY');
      tx.send(res);
      return;
    }
    if (Buffer.byteLength(req.body) > MAX_BODY_BYTES) {
      this.log.warn({ bytes: Buffer.byteLength(req.body), max: MAX_BODY_BYTES }, 'leg B NOTIFY body too large: not relayed');
      tx.send(tx.response(413, 'Request Entity Too Large'));
      return;
    }
    tx.send(tx.response(200));
    if (this.state === 'subscribing') { this.early = req; return; }
    if (this.state === 'active' || this.state === 'closing') this.relay(req);
  }

  /** Leg B's NOTIFY → leg A (Flexisip's onNotifyReceived): Event, Subscription-State, body, Priority for message-summary. */
  private relay(from: SipRequest): void {
    if (!this.dialogA) return;
    const sub = readSubscriptionState(from.get('subscription-state'));
    const state = from.get('subscription-state') ?? `active;expires=${this.expires}`;
    const terminated = sub.state === 'terminated';
    if (!terminated && sub.expires !== undefined && sub.expires < this.expires) {
      this.expires = sub.expires;
      this.armExpiry();
    }
    this.log.debug({ state: sub.state, bytes: Buffer.byteLength(from.body) }, 'NOTIFY relayed to leg A');
    void this.notifyA((n) => {
      n.set('subscription-state', state);
      const contentType = from.get('content-type');
      if (contentType) n.set('content-type', contentType);
      n.body = from.body;
      if (this.event === 'message-summary') n.set('priority', messageSummaryPriority(from.body));
    });
    if (terminated) void this.end(`leg B terminated the subscription (${sub.reason ?? 'no reason'})`, {});
  }

  /**
   * A NOTIFY for leg A, sent in order, one transaction at a time; at most MAX_QUEUED_NOTIFY wait (a notifier flooding
   * leg B cannot pile up transactions towards leg A): beyond, the oldest waiting one is dropped.
   */
  private notifyA(fill: (n: SipRequest) => void): Promise<void> {
    if (this.queueA.length >= MAX_QUEUED_NOTIFY) {
      this.queueA.shift();
      if (this.droppedA++ === 0) this.log.warn({ max: MAX_QUEUED_NOTIFY }, 'leg B sends NOTIFYs faster than leg A answers them: the oldest waiting ones are dropped');
    }
    this.queueA.push(fill);
    return (this.sendingA ??= this.drainA());
  }

  private async drainA(): Promise<void> {
    const d = this.dialogA!;
    try {
      for (let fill = this.queueA.shift(); fill; fill = this.queueA.shift()) {
        const n = d.request('NOTIFY');
        n.set('event', this.eventHeader);
        fill(n);
        const res = await new Promise<SipResponse>((resolve) => {
          this.owner.stack.request(n, d.destination(), (r) => { if (r.status >= 200) resolve(r); }, d.flow);
        });
        if (res.status === 481 || res.status === 408 || res.status === 503) {
          this.queueA.length = 0; // leg A is gone
          void this.end(`leg A answered the NOTIFY ${res.status}`, { unsubscribe: true });
        }
      }
    } finally {
      this.sendingA = undefined;
    }
  }

  /** The one way out: timers, routes, leg A answered or told, leg B un-SUBSCRIBEd; later calls do nothing. */
  async end(why: string, o: EndOptions): Promise<void> {
    if (this.state === 'ended') return;
    const was = this.state;
    this.state = 'ended';
    this.timer?.cancel();
    this.timer = undefined;
    this.owner.ended(this);
    this.owner.unroute(`${this.req.callId}|${this.tagA}`);
    if (!this.tx.final) {
      const [status, reason] = o.status ?? [500, 'Server Internal Error'];
      this.tx.send(this.tx.response(status, reason, this.tagA));
    }
    this.log.info({ why, was }, 'subscription ended');
    const sends: Promise<unknown>[] = [];
    const { notifyA } = o;
    if (notifyA !== undefined && this.dialogA) {
      sends.push(this.notifyA((n) => n.set('subscription-state', notifyA ? `terminated;reason=${notifyA}` : 'terminated')));
    }
    const legB = this.legB;
    if (legB && was !== 'subscribing') {
      if (o.unsubscribe && legB.dialog) sends.push(legB.subscribe(0));
      legB.close(LINGER_MS);
    }
    // While subscribing, start() sees the end once leg B answers: it un-SUBSCRIBEs an accepted leg B then.
    await Promise.allSettled(sends);
  }
}

/** A plugin's subscription: refreshed before expiry; NOTIFYs answered 200 and handed to the plugin. */
class OwnSubscription implements PluginSubscription {
  state: PluginSubscriptionState = 'pending';
  private readonly leg: SubscriberLeg;
  private readonly log: Logger;
  private readonly notifyHandlers: ((n: IncomingNotifyView) => void)[] = [];
  private readonly endHandlers: ((why: { readonly reason: string; readonly status?: number }) => void)[] = [];
  private timer: TimerHandle | undefined;
  private readonly expires: number;

  constructor(private readonly owner: Subscriptions, readonly id: string, private readonly o: OutgoingSubscribe) {
    this.expires = Math.max(0, Math.min(Math.floor(o.expires), MAX_EXPIRES));
    this.log = owner.log.child({ subscription: id, event: o.event, from: o.from, uri: o.uri });
    this.leg = new SubscriberLeg(owner, {
      requestUri: o.uri, from: o.from, to: o.to ?? o.uri, event: o.event, headers: o.headers ?? {},
      outboundProxy: o.outboundProxy, credentials: o.credentials, transport: o.transport,
    }, (req, tx) => this.onRequest(req, tx));
  }

  onNotify(handler: (n: IncomingNotifyView) => void): void { this.notifyHandlers.push(handler); }
  onTerminated(handler: (why: { readonly reason: string; readonly status?: number }) => void): void { this.endHandlers.push(handler); }

  start(): void {
    void this.send(true);
  }

  private async send(initial: boolean): Promise<void> {
    const res = await this.leg.subscribe(this.expires);
    if (this.state === 'terminated') return;
    if (res.status >= 300) {
      this.finish(initial ? `refused: ${res.status} ${res.reason}` : `refresh refused: ${res.status} ${res.reason}`, res.status);
      return;
    }
    if (this.state === 'pending' && res.status === 200) this.state = 'active';
    const granted = readExpires(res.get('expires'));
    const seconds = granted !== undefined && granted >= 0 && granted < this.expires ? granted : this.expires;
    if (initial) this.log.info({ status: res.status, expires: seconds }, 'subscription accepted');
    this.timer?.cancel();
    if (seconds === 0) return;
    // Refresh before expiry: half-way for short ones, 30 s before for the others.
    const refreshMs = (seconds > 120 ? seconds - 30 : seconds / 2) * 1000;
    this.timer = this.owner.stack.timers.after(refreshMs, () => { this.timer = undefined; void this.send(false); });
  }

  private onRequest(req: SipRequest, tx: ServerTransaction): void {
    if (req.method !== 'NOTIFY') { tx.send(tx.response(405)); return; }
    if (Buffer.byteLength(req.body) > MAX_BODY_BYTES) { tx.send(tx.response(413, 'Request Entity Too Large')); return; }
    tx.send(tx.response(200));
    if (this.state === 'terminated') return;
    const sub = readSubscriptionState(req.get('subscription-state'));
    if (sub.state === 'active') this.state = 'active';
    const view: IncomingNotifyView = Object.freeze({
      requestUri: req.uri, from: req.from, to: req.to, state: sub.state, header: (n: string) => req.get(n), contentType: req.contentType, body: req.body,
    });
    for (const h of this.notifyHandlers) {
      try { h(view); } catch (e) { this.log.error({ err: (e as Error).stack }, 'a NOTIFY handler threw'); }
    }
    if (sub.state === 'terminated') this.finish(`terminated by the notifier (${sub.reason ?? 'no reason'})`);
  }

  private finish(reason: string, status?: number): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.timer?.cancel();
    this.timer = undefined;
    this.leg.close(LINGER_MS);
    this.owner.ownEnded(this);
    this.log.info({ reason, status }, 'subscription ended');
    for (const h of this.endHandlers) {
      try { h(status === undefined ? { reason } : { reason, status }); } catch (e) { this.log.error({ err: (e as Error).stack }, 'an onTerminated handler threw'); }
    }
  }

  async terminate(): Promise<void> {
    if (this.state === 'terminated') return;
    const hadDialog = this.leg.dialog !== undefined;
    this.finish('terminated by the plugin');
    if (hadDialog) await this.leg.subscribe(0);
  }
}
