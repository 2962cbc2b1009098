/**
 * Offer/answer inside a call (re-INVITE, UPDATE, RFC 4028 refreshes): an offer that matters to the
 * other leg (streams added or removed, hold, resume) is forwarded and answered when the other leg
 * answers; other changes are answered here. One exchange at a time: a second one gets 491.
 */
import { randomInt } from 'node:crypto';
import { OTHER_LEG, type LegId } from '../vocabulary/index.js';
import { parseSdp } from '../sdp/parse.js';
import { readPeerSdp, type PeerSdp } from '../sdp/validate.js';
import { reasonPhrase, type SipRequest } from '../sip/message.js';
import type { ServerTransaction } from '../sip/stack.js';
import type { CallContext, CallInDialog } from './call-context.js';
import { errorHeaders, errorResponse } from './error-response.js';

export class OfferExchange {
  /** An exchange in progress (forwarded re-INVITE/UPDATE, or our own refresh). */
  private current: { from: LegId; method: string } | undefined;
  /** Offerless re-INVITE from a leg: its ACK carries the answer. */
  private awaitingAckAnswer: LegId | undefined;

  constructor(private readonly call: CallInDialog, private readonly ctx: Pick<CallContext, 'stack' | 'contact' | 'capabilities' | 'config'>) {}

  /** An offer or answer from a peer, parsed and checked (core/sdp/validate.ts); unparsable is 488 here, as in Flexisip. */
  private peerSdp(text: string): PeerSdp {
    return readPeerSdp(text, { maxMediaLines: this.ctx.config.maxMediaLines }, 488);
  }

  /** A refusal for an SDP problem: its status and reason, and a Warning naming the problem. */
  private refuse(tx: ServerTransaction, e: unknown): void {
    const res = tx.response(...errorResponse(e)!);
    for (const [name, value] of errorHeaders(e, this.ctx.contact())) res.set(name, value);
    tx.send(res);
  }

  onAck(leg: LegId, ack: SipRequest): void {
    const bridge = this.call.bridge;
    if (this.awaitingAckAnswer !== leg || !bridge) return;
    this.awaitingAckAnswer = undefined;
    const parsed = ack.contentType === 'application/sdp' ? parseSdp(ack.body) : undefined;
    if (parsed?.ok) void bridge.acceptAnswer(leg, parsed.sdp).catch((e: Error) => this.call.log.warn({ err: e.message }, 'answer in ACK not applied'));
  }

  /** re-INVITE / UPDATE from a leg: forwarded when it matters to the other leg, else answered here. */
  async onOffer(leg: LegId, req: SipRequest, tx: ServerTransaction): Promise<void> {
    const dialog = this.call.dialogOf(leg)!;
    const bridge = this.call.bridge;
    if (!bridge) { tx.send(tx.response(500)); return; }
    this.call.sessionTimers[leg]?.refreshed(req);
    if (this.current || (req.method === 'INVITE' && this.call.state === 'answered' && leg === 'a')) {
      const res = tx.response(491, 'Request Pending', undefined);
      res.set('retry-after', '1');
      tx.send(res);
      return;
    }
    dialog.refreshTarget(req);
    const answer = (status: number, sdp?: string): void => {
      const res = tx.response(status, reasonPhrase(status));
      if (status < 300) {
        res.set('contact', `<${this.ctx.contact()}>`);
        this.ctx.capabilities(res);
        this.call.sessionTimers[leg]?.decorate(res);
      }
      if (sdp !== undefined) { res.set('content-type', 'application/sdp'); res.body = sdp; }
      tx.send(res);
    };
    if (req.contentType !== 'application/sdp' || req.body.trim() === '') {
      if (req.method === 'UPDATE') { answer(200); return; }
      this.awaitingAckAnswer = leg;
      answer(200, bridge.currentSdp(leg));
      return;
    }
    const parsed = this.peerSdp(req.body);
    if (!parsed.ok) {
      this.call.log.info({ leg, method: req.method, problem: parsed.error.reason }, 'offer refused');
      this.refuse(tx, parsed.error);
      return;
    }
    const other = OTHER_LEG[leg];
    const otherDialog = this.call.dialogOf(other);
    try {
      if (!bridge.needsForwarding(leg, parsed.sdp) || !otherDialog) {
        answer(200, await bridge.answerLocally(leg, parsed.sdp));
        return;
      }
      this.current = { from: leg, method: req.method };
      const offer = await bridge.forwardOffer(leg, parsed.sdp);
      const out = otherDialog.request(req.method);
      out.set('contact', `<${this.ctx.contact()}>`);
      out.set('content-type', 'application/sdp');
      out.body = offer;
      this.call.log.info({ from: leg, method: req.method }, 'offer forwarded to the other leg');
      const res = await this.call.sendInDialog(other, out);
      if (res.status >= 200 && res.status < 300 && req.method === 'INVITE') {
        void this.ctx.stack.sendAck(otherDialog.ack(out.cseq.seq), otherDialog.destination(), otherDialog.flow);
      }
      otherDialog.refreshTarget(res);
      if (this.call.ended) return;
      if (res.status >= 300) {
        this.call.log.info({ status: res.status }, 'forwarded offer refused');
        tx.send(tx.response(res.status === 491 ? 491 : res.status, res.reason));
        return;
      }
      const ans = res.contentType === 'application/sdp' ? this.peerSdp(res.body) : undefined;
      if (!ans?.ok) {
        if (ans) { this.call.log.warn({ leg: other, problem: ans.error.reason }, 'forwarded offer answered with an unusable SDP'); this.refuse(tx, ans.error); } else answer(488);
        return;
      }
      answer(200, await bridge.forwardAnswer(other, ans.sdp));
    } catch (e) {
      const response = errorResponse(e);
      if (response) this.refuse(tx, e);
      else {
        this.call.log.error({ err: (e as Error).stack }, 're-INVITE handling failed');
        tx.send(tx.response(500));
      }
    } finally {
      this.current = undefined;
    }
  }

  /** Our own session refresh on a leg: re-INVITE with our current SDP, or UPDATE without SDP if the peer allows it. */
  async refresh(leg: LegId, useUpdate: boolean): Promise<void> {
    const dialog = this.call.dialogOf(leg);
    if (!dialog || this.call.ended || !this.call.bridge) return;
    if (this.current) return; // an exchange in progress refreshes the session anyway
    this.current = { from: OTHER_LEG[leg], method: useUpdate ? 'UPDATE' : 'INVITE' };
    try {
      const req = dialog.request(useUpdate ? 'UPDATE' : 'INVITE');
      req.set('contact', `<${this.ctx.contact()}>`);
      this.call.sessionTimers[leg]?.decorateRequest(req);
      if (!useUpdate) { req.set('content-type', 'application/sdp'); req.body = this.call.bridge.currentSdp(leg); }
      const res = await this.call.sendInDialog(leg, req);
      if (req.method === 'INVITE' && res.status >= 200 && res.status < 300) void this.ctx.stack.sendAck(dialog.ack(req.cseq.seq), dialog.destination(), dialog.flow);
      if (res.status === 481 || res.status === 408) await this.call.end('session-refresh-failed');
      if (res.status === 491 && !this.call.ended) {
        // Glare (RFC 3261 §14.1): try again after 2.1-4 s.
        this.call.addTimer(this.ctx.stack.timers.after(2100 + randomInt(1900), () => void this.refresh(leg, useUpdate)));
      }
    } finally {
      this.current = undefined;
    }
  }
}
