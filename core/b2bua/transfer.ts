/**
 * Call transfer (RFC 3515 / RFC 5589): a REFER from one leg is accepted here (202), re-issued to the
 * other leg (the transferee) with Replaces rewritten to the dialog the target really has with us,
 * and the transferee's progress is reported to the transferor as NOTIFY message/sipfrag 100 / 200 / 500.
 * One `Transfers` per call holds the transfer in progress. The transferTarget hook may change the Refer-To (sip-bridge
 * rewrites it to the other side's form); Replaces stays core's. We never INVITE the Refer-To ourselves: the transferee
 * (the other leg's UA) decides where its new INVITE goes.
 */
import { OTHER_LEG, type LegId, type NameAddr } from '../vocabulary/index.js';
import type { TransferRequest, TransferTarget } from '../plugin-api/index.js';
import { formatNameAddr, parseNameAddr } from '../sip/headers.js';
import { reasonPhrase, type SipRequest } from '../sip/message.js';
import type { ServerTransaction } from '../sip/stack.js';
import { formatUri, parseUri, type SipUri } from '../sip/uri.js';
import type { Dialog } from '../sip/dialog.js';
import type { CallContext, CallInDialog } from './call-context.js';

interface Transfer {
  readonly transferor: LegId;
  finished: boolean;
}

/** `callid;to-tag=X;from-tag=Y` (our dialog with the transferor) → the same for our dialog with the target. */
export function rewriteReplaces(value: string, ctx: Pick<CallContext, 'findByDialog'>): string | undefined {
  return replacesTarget(value, ctx)?.value;
}

/** rewriteReplaces, with the dialog it names (a REFER's transferee must reach that dialog's far end). */
export function replacesTarget(value: string, ctx: Pick<CallContext, 'findByDialog'>): { value: string; targetDialog: Dialog } | undefined {
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
  return { value: `${targetDialog.callId};to-tag=${targetDialog.remoteTag};from-tag=${targetDialog.localTag}${early ? ';early-only' : ''}`, targetDialog };
}

export class Transfers {
  private current: Transfer | undefined;

  constructor(private readonly call: CallInDialog, private readonly ctx: Pick<CallContext, 'findByDialog' | 'contact' | 'hooks'>) {}

  async onRefer(leg: LegId, req: SipRequest, tx: ServerTransaction): Promise<void> {
    const { call, ctx } = this;
    const other = OTHER_LEG[leg];
    const otherDialog = call.dialogOf(other);
    const referTo = parseNameAddr(req.get('refer-to') ?? '');
    const target = referTo ? parseUri(referTo.uri) : undefined;
    if (!referTo || !target) { tx.send(tx.response(400, 'Bad Request (Refer-To)')); return; }
    if (!otherDialog) { tx.send(tx.response(481)); return; }
    if (this.current && !this.current.finished) { tx.send(tx.response(491)); return; }
    const replacesKey = Object.keys(target.headers).find((k) => k.toLowerCase() === 'replaces');
    let replaces: ReturnType<typeof replacesTarget>;
    if (replacesKey) {
      replaces = replacesTarget(decodeURIComponent(target.headers[replacesKey]!), ctx);
      if (!replaces) { tx.send(tx.response(403, 'Forbidden (Replaces names no dialog of ours)')); return; }
    }
    const transfer: Transfer = { transferor: leg, finished: false };
    this.current = transfer;
    const accepted = tx.response(202, 'Accepted');
    accepted.set('contact', `<${ctx.contact()}>`);
    tx.send(accepted);
    this.sipfragNotify(leg, '100 Trying', false);
    const referredBy = req.get('referred-by');
    let chosen = await this.chooseTarget(leg, referTo, target, referredBy);
    if (call.ended) { transfer.finished = true; return; }
    // Attended, no hook changed it: the target as our dialog with it knows it, the address the transferee can reach
    // (the transferor wrote it in its side's form). Flexisip takes the To of that leg (b2bua-server.cc onCallStateReferred);
    // we take its far end, the same for a leg we called and the target itself for a leg it called us on.
    if (replaces && !chosen.changed) {
      const far = parseNameAddr(replaces.targetDialog.remoteAddr);
      const farUri = far ? parseUri(far.uri) : undefined;
      if (far && farUri) chosen = { uri: farUri, displayName: far.displayName, changed: false };
    }
    // Replaces is core's: whatever the hooks returned, the received one goes back, rewritten to our dialog with the target.
    const headers: Record<string, string> = Object.fromEntries(Object.entries(chosen.uri.headers).filter(([k]) => k.toLowerCase() !== 'replaces'));
    if (replaces) headers['Replaces'] = encodeURIComponent(replaces.value);
    const out = otherDialog.request('REFER');
    out.set('refer-to', formatNameAddr({ displayName: chosen.displayName, uri: formatUri({ ...chosen.uri, headers }), params: referTo.params }));
    if (referredBy) out.set('referred-by', referredBy);
    call.log.info(
      { from: leg, replaces: replacesKey !== undefined, referTo: bareUri(target), ...(chosen.uri !== target ? { rewrittenTo: bareUri(chosen.uri) } : {}) },
      'REFER forwarded to the transferee',
    );
    const res = await call.sendInDialog(other, out);
    if (res.status >= 300 && !transfer.finished) {
      transfer.finished = true;
      this.sipfragNotify(leg, '500 Internal Server Error', true);
    }
  }

  /**
   * The transferTarget hook's Refer-To; the received one when no hook changes it, when a hook throws or returns a URI
   * that does not parse (logged: the transfer goes on as the transferor asked).
   */
  private async chooseTarget(leg: LegId, referTo: NameAddr, target: SipUri, referredBy: string | undefined): Promise<{ uri: SipUri; displayName: string | undefined; changed: boolean }> {
    const { call, ctx } = this;
    const received = { uri: target, displayName: referTo.displayName, changed: false };
    const incoming = call.incoming;
    const dialog = call.dialogOf(leg);
    const legRemote = dialog ? parseNameAddr(dialog.remoteAddr) : undefined;
    const legRequestUri = leg === 'a' ? incoming?.legA.requestUri : call.target?.requestUri;
    if (!incoming || !legRemote || legRequestUri === undefined || !ctx.hooks.transferTarget.isUsed()) return received;
    const request: TransferRequest = { call: incoming, leg, legRequestUri, legRemote, referTo, referredBy };
    let value: TransferTarget;
    try {
      value = await ctx.hooks.transferTarget.promise({ uri: referTo.uri, displayName: referTo.displayName }, request);
    } catch (e) {
      call.log.error({ err: (e as Error)?.stack ?? String(e), referTo: bareUri(target) }, 'a transferTarget hook failed; the REFER goes on with its own Refer-To');
      return received;
    }
    if (value.uri === referTo.uri) return { uri: target, displayName: value.displayName, changed: false };
    const uri = typeof value.uri === 'string' ? parseUri(value.uri) : undefined;
    if (!uri) {
      call.log.warn({ hookValue: String(value.uri).slice(0, 200), referTo: bareUri(target) }, 'a transferTarget hook returned a Refer-To that is not a SIP URI; the REFER goes on with its own');
      return received;
    }
    return { uri, displayName: value.displayName, changed: true };
  }

  onNotify(leg: LegId, req: SipRequest, tx: ServerTransaction): void {
    tx.send(tx.response(200));
    const transfer = this.current;
    const event = (req.get('event') ?? '').split(';')[0]!.trim().toLowerCase();
    if (!transfer || transfer.finished || leg === transfer.transferor || event !== 'refer') return;
    const line = /^SIP\/2\.0\s+(\d{3})([^\r\n]*)/.exec(req.body.trim());
    const status = Number(line?.[1] ?? 0);
    if (status >= 200 && status < 300) {
      transfer.finished = true;
      this.sipfragNotify(transfer.transferor, '200 OK', true);
    } else if (status >= 300 && status < 700) {
      // The transferee's own final status (603 Declined, 486 Busy Here...): Flexisip always writes 500 (its
      // CallTransferListener "cannot yet distinguish"); a transferor sees a failure either way, ours also sees why.
      transfer.finished = true;
      this.sipfragNotify(transfer.transferor, `${status} ${sipfragReason(line?.[2] ?? '', status)}`, true);
    } else if (status === 0 && /terminated/i.test(req.get('subscription-state') ?? '')) {
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

/** The reason phrase of a relayed sipfrag: the transferee's, if it is plain text, else the standard one. */
function sipfragReason(reason: string, status: number): string {
  const r = reason.trim();
  return r !== '' && r.length <= 64 && /^[\x20-\x7e]+$/.test(r) ? r : reasonPhrase(status) || 'Failed';
}

/** A URI without its headers (a Replaces carries tags: not for logs). */
function bareUri(uri: SipUri): string {
  return formatUri({ ...uri, headers: {} });
}
