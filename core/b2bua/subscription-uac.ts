/**
 * The subscriber side of a subscription (RFC 6665), used by leg B of a bridged subscription and by plugins'
 * subscriptions: SUBSCRIBE sent (401/407 answered with digest, twice at most), refreshes and un-SUBSCRIBE in the dialog,
 * the dialog created by the 2xx or by a NOTIFY that arrives first. It decides nothing: its owner handles the NOTIFYs.
 */
import type { AccountTransport, OutgoingRequest } from '../plugin-api/index.js';
import type { Logger } from '../vocabulary/index.js';
import { answerChallenge } from '../sip/challenge.js';
import { Dialog } from '../sip/dialog.js';
import { formatNameAddr, parseNameAddr } from '../sip/headers.js';
import { randomToken, SipRequest, type SipResponse } from '../sip/message.js';
import type { ServerTransaction, SipStack } from '../sip/stack.js';
import { accountFlow } from './sip-api.js';

const MAX_CHALLENGES = 2;

/** What the subscriber side needs of its host: the stack, our Contact, and the table in-dialog requests are routed by. */
export interface SubscriptionHost {
  readonly stack: SipStack;
  readonly log: Logger;
  contact(): string;
  /** Route in-dialog requests with Call-ID|our tag `key` to `handler` (until unroute). */
  route(key: string, handler: (req: SipRequest, tx: ServerTransaction) => void): void;
  unroute(key: string): void;
}

export interface SubscriberOptions {
  readonly requestUri: string;
  readonly from: string;
  readonly to: string;
  /** The Event header as sent (package and `id` parameter). */
  readonly event: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly outboundProxy: string | undefined;
  readonly credentials: OutgoingRequest['credentials'] | undefined;
  /** Body (and its Content-Type) of the initial SUBSCRIBE. */
  readonly body?: { readonly contentType: string; readonly text: string } | undefined;
  /**
   * An account transport (sip-bridge's one-connection-per-account): the SUBSCRIBE, refreshes and un-SUBSCRIBE leave
   * from it with a Contact on its port, so the notifier's NOTIFYs arrive on it; undefined = the server's transport.
   */
  readonly transport?: AccountTransport | undefined;
}

/** Expires as Flexisip reads it (std::stoi: leading blanks, a sign, digits; the rest ignored); undefined when unreadable. */
export function readExpires(value: string | undefined): number | undefined {
  const m = /^\s*([+-]?\d{1,10})/.exec(value ?? '');
  if (!m) return undefined;
  const n = Number(m[1]);
  return n > 2 ** 31 - 1 || n < -(2 ** 31) ? undefined : n;
}

/** Subscription-State: `active;expires=60` → { state: 'active', expires: 60, reason: undefined }. */
export function readSubscriptionState(value: string | undefined): { state: string; expires?: number | undefined; reason?: string | undefined } {
  const [state = '', ...params] = (value ?? '').split(';').map((p) => p.trim());
  const param = (n: string): string | undefined => params.map((p) => p.split('=')).find(([k]) => k!.trim().toLowerCase() === n)?.[1]?.trim();
  const expires = readExpires(param('expires'));
  return { state: state.toLowerCase(), expires: expires !== undefined && expires >= 0 ? expires : undefined, reason: param('reason') };
}

export class SubscriberLeg {
  readonly callId = randomToken(16);
  readonly localTag = randomToken(8);
  dialog: Dialog | undefined;
  private cseq = 0;
  private routed = false;
  private readonly fromValue: string;

  constructor(
    private readonly host: SubscriptionHost,
    readonly options: SubscriberOptions,
    /** Requests in our dialog (NOTIFY mostly), after the dialog checks. */
    private readonly onRequest: (req: SipRequest, tx: ServerTransaction) => void,
  ) {
    const from = parseNameAddr(options.from) ?? { uri: options.from, params: {} };
    this.fromValue = formatNameAddr({ ...from, params: { ...from.params, tag: this.localTag } });
  }

  /** Our Contact: the account transport's when the subscription goes through one, else the server's. */
  private contact(): string {
    return this.options.transport?.contact ?? this.host.contact();
  }

  get key(): string {
    return `${this.callId}|${this.localTag}`;
  }

  /** SUBSCRIBE (initial, refresh, or Expires: 0) with challenges answered; resolves with the final response (never rejects). */
  async subscribe(expires: number): Promise<SipResponse> {
    if (!this.routed) {
      this.routed = true;
      this.host.route(this.key, (req, tx) => this.receive(req, tx));
    }
    const { credentials } = this.options;
    let authorization: { name: string; value: string } | undefined;
    for (let attempt = 0; ; attempt++) {
      const req = this.build(expires);
      if (authorization) req.set(authorization.name, authorization.value);
      const res = await this.send(req);
      if (res.status >= 200 && res.status < 300 && !this.dialog) {
        this.dialog = Dialog.asUac(req, res, `<${this.contact()}>`);
        this.dialog.flow ??= accountFlow(this.options.transport);
        this.dialog.localCSeq = this.cseq;
      }
      if ((res.status !== 401 && res.status !== 407) || !credentials || attempt >= MAX_CHALLENGES) return res;
      const answer = answerChallenge({ response: res, credentials, method: 'SUBSCRIBE', uri: req.uri, body: req.body });
      if (!answer.challenge || (attempt > 0 && !answer.challenge.stale)) return res;
      if (!answer.ok) {
        this.host.log.warn({ uri: req.uri, error: answer.error }, 'cannot answer the digest challenge to a SUBSCRIBE');
        return res;
      }
      authorization = { name: answer.header, value: answer.value };
    }
  }

  /** Stop routing our dialog's requests here (after `lingerMs`, during which NOTIFYs are still answered 200, not handed on). */
  close(lingerMs = 0): void {
    if (!this.routed) return;
    if (lingerMs <= 0) {
      this.routed = false;
      this.host.unroute(this.key);
      return;
    }
    this.host.route(this.key, (req, tx) => tx.send(tx.response(req.method === 'NOTIFY' ? 200 : 481)));
    this.host.stack.timers.after(lingerMs, () => this.close(0));
  }

  private build(expires: number): SipRequest {
    let req: SipRequest;
    if (this.dialog) {
      req = this.dialog.request('SUBSCRIBE');
      this.cseq = this.dialog.localCSeq;
    } else {
      this.cseq++;
      req = new SipRequest('SUBSCRIBE', this.options.requestUri);
      req.set('from', this.fromValue);
      req.set('to', formatNameAddr(parseNameAddr(this.options.to) ?? { uri: this.options.to, params: {} }));
      req.set('call-id', this.callId);
      req.set('cseq', `${this.cseq} SUBSCRIBE`);
      req.set('contact', `<${this.contact()}>`);
      if (this.options.body) {
        req.set('content-type', this.options.body.contentType);
        req.body = this.options.body.text;
      }
    }
    req.set('event', this.options.event);
    req.set('expires', String(expires));
    for (const [name, value] of Object.entries(this.options.headers)) req.set(name, value);
    return req;
  }

  private send(req: SipRequest): Promise<SipResponse> {
    const d = this.dialog;
    const destination = d ? d.destination() : (this.options.outboundProxy ?? this.options.requestUri);
    return new Promise((resolve) => {
      this.host.stack.request(req, destination, (res) => { if (res.status >= 200) resolve(res); }, d ? d.flow : accountFlow(this.options.transport));
    });
  }

  /** A request with our Call-ID and tag: a NOTIFY creates the dialog when it arrives before the 2xx (RFC 6665 §4.1.2.4). */
  private receive(req: SipRequest, tx: ServerTransaction): void {
    if (!this.dialog && req.method === 'NOTIFY') {
      this.dialog = Dialog.asUas(req, this.localTag, `<${this.contact()}>`);
      this.dialog.flow ??= accountFlow(this.options.transport);
      this.dialog.localCSeq = this.cseq;
      this.dialog.remoteCSeq = 0;
    }
    const d = this.dialog;
    if (!d || d.remoteTag !== (req.fromTag ?? '')) { tx.send(tx.response(481)); return; }
    if (!d.acceptRemoteCSeq(req)) { tx.send(tx.response(500, 'Server Internal Error (CSeq out of order)')); return; }
    if (req.method === 'NOTIFY') d.refreshTarget(req);
    this.onRequest(req, tx);
  }
}
