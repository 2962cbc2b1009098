/**
 * Call transfer (RFC 3515 / RFC 5589): a REFER from one leg is accepted here (202), re-issued to the
 * other leg (the transferee) with Replaces rewritten to the dialog the target really has with us,
 * and the transferee's progress is reported to the transferor as NOTIFY message/sipfrag 100 / 200 / 500.
 * One `Transfers` per call holds the transfer in progress.
 */
import { OTHER_LEG, type LegId } from '../vocabulary/index.js';
import { formatNameAddr, parseNameAddr } from '../sip/headers.js';
import type { SipRequest } from '../sip/message.js';
import type { ServerTransaction } from '../sip/stack.js';
import { formatUri, parseUri } from '../sip/uri.js';
import type { CallContext, CallInDialog } from './call-context.js';

interface Transfer {
  readonly transferor: LegId;
  finished: boolean;
}

/** `callid;to-tag=X;from-tag=Y` (our dialog with the transferor) → the same for our dialog with the target. */
export function rewriteReplaces(value: string, ctx: Pick<CallContext, 'findByDialog'>): string | undefined {
  const parts = value.split(';');
  const callId = parts[0]!.trim();
  const param = (n: string): string | undefined => parts.slice(1).map((p) => p.trim().split('=')).find(([k]) => k!.toLowerCase() === n)?.[1];
  const toTag = param('to-tag');
  const fromTag = param('from-tag');
  if (!callId || toTag === undefined || fromTag === undefined) return undefined;
  const found = ctx.findByDialog(callId, toTag, fromTag);
  if (!found) return undefined;
  const targetDialog = found.call.dialogOf(OTHER_LEG[found.leg]);
  if (!targetDialog) return undefined;
  const early = parts.slice(1).some((p) => p.trim().toLowerCase() === 'early-only');
  return `${targetDialog.callId};to-tag=${targetDialog.remoteTag};from-tag=${targetDialog.localTag}${early ? ';early-only' : ''}`;
}

export class Transfers {
  private current: Transfer | undefined;

  constructor(private readonly call: CallInDialog, private readonly ctx: Pick<CallContext, 'findByDialog' | 'contact'>) {}

  async onRefer(leg: LegId, req: SipRequest, tx: ServerTransaction): Promise<void> {
    const { call, ctx } = this;
    const other = OTHER_LEG[leg];
    const otherDialog = call.dialogOf(other);
    const referTo = parseNameAddr(req.get('refer-to') ?? '');
    const target = referTo ? parseUri(referTo.uri) : undefined;
    if (!referTo || !target) { tx.send(tx.response(400, 'Bad Request (Refer-To)')); return; }
    if (!otherDialog) { tx.send(tx.response(481)); return; }
    if (this.current && !this.current.finished) { tx.send(tx.response(491)); return; }
    const headers: Record<string, string> = { ...target.headers };
    const replacesKey = Object.keys(headers).find((k) => k.toLowerCase() === 'replaces');
    if (replacesKey) {
      const rewritten = rewriteReplaces(decodeURIComponent(headers[replacesKey]!), ctx);
      if (!rewritten) { tx.send(tx.response(403, 'Forbidden (Replaces names no dialog of ours)')); return; }
      headers[replacesKey] = encodeURIComponent(rewritten);
    }
    const transfer: Transfer = { transferor: leg, finished: false };
    this.current = transfer;
    const accepted = tx.response(202, 'Accepted');
    accepted.set('contact', `<${ctx.contact()}>`);
    tx.send(accepted);
    this.sipfragNotify(leg, '100 Trying', false);
    const out = otherDialog.request('REFER');
    out.set('refer-to', formatNameAddr({ displayName: referTo.displayName, uri: formatUri({ ...target, headers }), params: referTo.params }));
    const referredBy = req.get('referred-by');
    if (referredBy) out.set('referred-by', referredBy);
    call.log.info({ from: leg, replaces: replacesKey !== undefined }, 'REFER forwarded to the transferee');
    const res = await call.sendInDialog(other, out);
    if (res.status >= 300 && !transfer.finished) {
      transfer.finished = true;
      this.sipfragNotify(leg, '500 Internal Server Error', true);
    }
  }

  onNotify(leg: LegId, req: SipRequest, tx: ServerTransaction): void {
    tx.send(tx.response(200));
    const transfer = this.current;
    const event = (req.get('event') ?? '').split(';')[0]!.trim().toLowerCase();
    if (!transfer || transfer.finished || leg === transfer.transferor || event !== 'refer') return;
    const status = Number(/^SIP\/2\.0\s+(\d{3})/.exec(req.body.trim())?.[1] ?? 0);
    if (status >= 200 && status < 300) {
      transfer.finished = true;
      this.sipfragNotify(transfer.transferor, '200 OK', true);
    } else if (status >= 300 || (status === 0 && /terminated/i.test(req.get('subscription-state') ?? ''))) {
      transfer.finished = true;
      this.sipfragNotify(transfer.transferor, '500 Internal Server Error', true);
    }
  }

  private sipfragNotify(leg: LegId, status: string, terminated: boolean): void {
    const d = this.call.dialogOf(leg);
    if (!d || this.call.ended) return;
    const n = d.request('NOTIFY');
    n.set('event', 'refer');
    n.set('subscription-state', terminated ? 'terminated;reason=noresource' : 'active;expires=60');
    n.set('content-type', 'message/sipfrag;version=2.0');
    n.body = `SIP/2.0 ${status}\r\n`;
    void this.call.sendInDialog(leg, n);
  }
}
