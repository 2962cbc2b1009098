/**
 * A SIP dialog (RFC 3261 §12): Call-ID, tags, CSeq, route set, remote target. Builds in-dialog
 * requests (and the ACK of a 2xx) and says where to send them.
 */
import { randomInt } from 'node:crypto';
import { formatNameAddr, parseNameAddr, parseNameAddrList } from './headers.js';
import { SipRequest, type SipResponse } from './message.js';
import type { Flow } from './stack.js';
import { parseUri } from './uri.js';

export class Dialog {
  localCSeq: number;
  remoteCSeq: number;
  /** For a peer on TCP/TLS without a route set: the connection it opened, reused for our requests. */
  flow: Flow | undefined;

  private constructor(
    readonly callId: string,
    readonly localTag: string,
    readonly remoteTag: string,
    /** Our From/To (name-addr without tag) and the peer's. */
    readonly localAddr: string,
    readonly remoteAddr: string,
    public remoteTarget: string,
    readonly routeSet: readonly string[],
    readonly contact: string,
    localCSeq: number,
    remoteCSeq: number,
  ) {
    this.localCSeq = localCSeq;
    this.remoteCSeq = remoteCSeq;
  }

  /** UAS side: from an incoming INVITE and the tag we put in our To. */
  static asUas(invite: SipRequest, localTag: string, contact: string): Dialog {
    const from = invite.from;
    const to = invite.to;
    const remoteContact = parseNameAddr(invite.get('contact') ?? '')?.uri ?? from.uri;
    const routes = (parseNameAddrList(invite.getAll('record-route').join(',')) ?? []).map(formatNameAddr);
    return new Dialog(invite.callId, localTag, from.params['tag'] ?? '', stripTag(to), stripTag(from), remoteContact, routes, contact,
      randomInt(1, 10000), invite.cseq.seq);
  }

  /** UAC side: from our INVITE and a 1xx/2xx carrying the peer's tag. */
  static asUac(invite: SipRequest, res: SipResponse, contact: string): Dialog {
    const from = invite.from;
    const to = res.to;
    const remoteContact = parseNameAddr(res.get('contact') ?? '')?.uri ?? invite.uri;
    const routes = (parseNameAddrList(res.getAll('record-route').join(',')) ?? []).map(formatNameAddr).reverse();
    return new Dialog(invite.callId, from.params['tag'] ?? '', to.params['tag'] ?? '', stripTag(from), stripTag(to), remoteContact, routes, contact,
      invite.cseq.seq, 0);
  }

  /** UAC side from a lone 2xx (its INVITE transaction is gone): enough to ACK and BYE it. */
  static fromStray2xx(res: SipResponse, contact: string): Dialog {
    const remoteContact = parseNameAddr(res.get('contact') ?? '')?.uri ?? res.to.uri;
    const routes = (parseNameAddrList(res.getAll('record-route').join(',')) ?? []).map(formatNameAddr).reverse();
    return new Dialog(res.callId, res.fromTag ?? '', res.toTag ?? '', stripTag(res.from), stripTag(res.to), remoteContact, routes, contact, res.cseq.seq, 0);
  }

  /** A new in-dialog request (CSeq incremented). */
  request(method: string): SipRequest {
    this.localCSeq++;
    return this.build(method, this.localCSeq);
  }

  /** The ACK of a 2xx to the INVITE with CSeq `seq`. */
  ack(seq: number): SipRequest {
    return this.build('ACK', seq);
  }

  private build(method: string, seq: number): SipRequest {
    const req = new SipRequest(method, this.remoteTarget);
    req.set('from', `${this.localAddr};tag=${this.localTag}`);
    req.set('to', this.remoteTag ? `${this.remoteAddr};tag=${this.remoteTag}` : this.remoteAddr);
    req.set('call-id', this.callId);
    req.set('cseq', `${seq} ${method}`);
    for (const r of this.routeSet) req.add('route', r);
    if (method !== 'ACK' && method !== 'BYE' && method !== 'CANCEL') req.set('contact', this.contact);
    return req;
  }

  /** Where in-dialog requests go: the first (loose) route, else the remote target. */
  destination(): string {
    const first = this.routeSet[0];
    if (first) return parseNameAddr(first)?.uri ?? this.remoteTarget;
    return this.remoteTarget;
  }

  /** Accept an in-dialog request's CSeq; false = out of order (answer 500). */
  acceptRemoteCSeq(req: SipRequest): boolean {
    const seq = req.cseq.seq;
    if (req.method === 'ACK' || req.method === 'CANCEL') return true;
    if (this.remoteCSeq !== 0 && seq <= this.remoteCSeq) return false;
    this.remoteCSeq = seq;
    return true;
  }

  /** A target refresh (re-INVITE, UPDATE, their 2xx) may change the remote Contact. */
  refreshTarget(msg: { get(name: string): string | undefined }): void {
    const c = parseNameAddr(msg.get('contact') ?? '')?.uri;
    if (c && parseUri(c)) this.remoteTarget = c;
  }

  matches(callId: string, localTag: string | undefined, remoteTag: string | undefined): boolean {
    return callId === this.callId && localTag === this.localTag && (remoteTag ?? '') === this.remoteTag;
  }
}

function stripTag(na: { displayName?: string | undefined; uri: string; params: Readonly<Record<string, string | null>> }): string {
  const { tag: _tag, ...params } = na.params;
  return formatNameAddr({ displayName: na.displayName, uri: na.uri, params });
}
