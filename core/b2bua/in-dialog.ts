/**
 * Requests inside a call's dialogs, routed by method: BYE ends the call, re-INVITE / UPDATE go to the
 * offer exchange, REFER / NOTIFY to the call's transfers, INFO / MESSAGE are relayed to the other leg,
 * OPTIONS is answered here, anything else is refused as out of dialog (405 or 501, with Allow: method-refusal.ts).
 * An async handler that fails answers 500.
 */
import { OTHER_LEG, type LegId } from '../vocabulary/index.js';
import type { SipRequest } from '../sip/message.js';
import type { ServerTransaction } from '../sip/stack.js';
import type { CallContext, CallInDialog } from './call-context.js';
import { DtmfConversion } from './dtmf-conversion.js';
import { methodRefusal } from './method-refusal.js';
import { OfferExchange } from './offer-exchange.js';
import { Transfers } from './transfer.js';

export class InDialogRequests {
  /** re-INVITE / UPDATE handling and our session refreshes. */
  readonly offers: OfferExchange;
  private readonly transfers: Transfers;
  /** DTMF between a leg with telephone-event and one without. */
  readonly dtmf: DtmfConversion;
  /** The legs that sent BYE (not sent one at teardown). */
  readonly byeFrom: Record<LegId, boolean> = { a: false, b: false };

  constructor(private readonly call: CallInDialog, private readonly ctx: Pick<CallContext, 'stack' | 'contact' | 'capabilities' | 'findByDialog' | 'hooks' | 'config'>) {
    this.offers = new OfferExchange(call, ctx);
    this.transfers = new Transfers(call, ctx);
    this.dtmf = new DtmfConversion(call);
  }

  onRequest(leg: LegId, req: SipRequest, tx: ServerTransaction): void {
    const dialog = this.call.dialogOf(leg);
    if (this.call.ended || !dialog) { tx.send(tx.response(481)); return; }
    if (!dialog.acceptRemoteCSeq(req)) { tx.send(tx.response(500, 'Server Internal Error (CSeq out of order)')); return; }
    switch (req.method) {
      case 'BYE':
        this.byeFrom[leg] = true;
        tx.send(tx.response(200));
        void this.call.end(leg === 'a' ? 'caller-bye' : 'callee-bye');
        return;
      case 'INVITE':
      case 'UPDATE':
        this.guard(this.offers.onOffer(leg, req, tx), tx);
        return;
      case 'INFO':
        if (this.dtmf.onInfo(leg, req, tx, () => this.relay(leg, req, tx))) return;
        this.relay(leg, req, tx);
        return;
      case 'MESSAGE':
        this.relay(leg, req, tx);
        return;
      case 'REFER':
        this.guard(this.transfers.onRefer(leg, req, tx), tx);
        return;
      case 'NOTIFY':
        this.transfers.onNotify(leg, req, tx);
        return;
      case 'OPTIONS':
        tx.send(tx.response(200));
        return;
      default: {
        const refusal = tx.response(methodRefusal(req.method));
        this.ctx.capabilities(refusal);
        tx.send(refusal);
      }
    }
  }

  /** An async request handler that fails answers 500 and logs; never an unhandled rejection. */
  private guard(work: Promise<void>, tx: ServerTransaction): void {
    work.catch((e: unknown) => {
      this.call.log.error({ err: (e as Error)?.stack ?? String(e) }, 'in-dialog request handling failed');
      if (!tx.final) tx.send(tx.response(500));
    });
  }

  /** INFO (DTMF relay) and MESSAGE: forwarded to the other leg, its final status returned. */
  private relay(leg: LegId, req: SipRequest, tx: ServerTransaction): void {
    const other = this.call.dialogOf(OTHER_LEG[leg]);
    if (!other) { tx.send(tx.response(481)); return; }
    const out = other.request(req.method);
    for (const name of ['content-type', 'event', 'info-package', 'recv-info']) {
      const v = req.get(name);
      if (v !== undefined) out.set(name, v);
    }
    out.setBodyBytes(req.bodyBytes);
    void this.call.sendInDialog(OTHER_LEG[leg], out).then((res) => tx.send(tx.response(res.status, res.reason)));
  }
}
