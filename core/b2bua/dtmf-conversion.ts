/**
 * DTMF between a leg that negotiated telephone-event and one that did not (as Flexisip's B2BUA, onDtmfReceived):
 * RFC 4733 events the media engine reports become SIP INFO on the other leg; an INFO towards a leg that negotiated
 * telephone-event becomes RFC 4733 packets, when the engine can send them (else the INFO is relayed).
 */
import { OTHER_LEG, type LegId } from '../vocabulary/index.js';
import type { SipRequest } from '../sip/message.js';
import type { ServerTransaction } from '../sip/stack.js';
import type { CallInDialog } from './call-context.js';

/** What liblinphone sends: `Content-Type: application/dtmf-relay`. */
export const DTMF_RELAY = 'application/dtmf-relay';
const DEFAULT_DURATION_MS = 250;

export function dtmfInfoBody(digit: string, durationMs: number): string {
  return `Signal=${digit}\r\nDuration=${durationMs}\r\n`;
}

/** The digit and duration of an INFO body (application/dtmf-relay `Signal=`/`Duration=`, or application/dtmf: the digit). */
export function parseDtmfInfo(contentType: string | undefined, body: string): { digit: string; durationMs: number } | undefined {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  const valid = (d: string | undefined): d is string => d !== undefined && /^[0-9*#A-D]$/i.test(d);
  if (type === 'application/dtmf') {
    const d = body.trim();
    return valid(d) ? { digit: d.toUpperCase(), durationMs: DEFAULT_DURATION_MS } : undefined;
  }
  if (type !== DTMF_RELAY) return undefined;
  const fields = new Map<string, string>();
  for (const line of body.split(/\r?\n/)) {
    const eq = line.indexOf('=');
    if (eq > 0) fields.set(line.slice(0, eq).trim().toLowerCase(), line.slice(eq + 1).trim());
  }
  const digit = fields.get('signal');
  if (!valid(digit)) return undefined;
  const duration = Number(fields.get('duration'));
  return { digit: digit.toUpperCase(), durationMs: Number.isInteger(duration) && duration > 0 && duration <= 8000 ? duration : DEFAULT_DURATION_MS };
}

/** The first audio stream index where `leg` negotiated telephone-event, if any. */
function teStream(call: CallInDialog, leg: LegId): number | undefined {
  const bridge = call.bridge;
  if (!bridge) return undefined;
  const n = bridge.legs[leg].local?.length ?? 0;
  for (let i = 0; i < n; i++) if (bridge.telephoneEvent(leg, i)) return i;
  return undefined;
}

export class DtmfConversion {
  constructor(private readonly call: CallInDialog) {}

  /** An RFC 4733 event from `from` the engine did not forward: an INFO on the other leg. */
  onMediaDtmf(from: LegId, digit: string, durationMs: number): void {
    const to = OTHER_LEG[from];
    const dialog = this.call.dialogOf(to);
    if (!dialog || this.call.ended) return;
    const out = dialog.request('INFO');
    out.set('content-type', DTMF_RELAY);
    out.setBodyBytes(Buffer.from(dtmfInfoBody(digit, durationMs)));
    this.call.log.info({ from, digit, durationMs }, 'RFC 4733 DTMF sent as SIP INFO');
    void this.call.sendInDialog(to, out).then((res) => {
      if (res.status >= 300) this.call.log.info({ status: res.status }, 'DTMF INFO refused');
    });
  }

  /**
   * An INFO from `from`: true when it was taken as DTMF for the other leg's media (answered 200, or `relay` called when
   * the engine could not send it after all, at once or when its asynchronous answer comes), false = relay it.
   */
  onInfo(from: LegId, req: SipRequest, tx: ServerTransaction, relay: () => void): boolean {
    const to = OTHER_LEG[from];
    const session = this.call.bridge?.session;
    const dtmf = parseDtmfInfo(req.get('content-type'), req.bodyBytes.toString('utf8'));
    if (!dtmf || !session) return false;
    const index = teStream(this.call, to);
    if (index === undefined || teStream(this.call, from) !== undefined) return false;
    if (!session.sendDtmf) {
      this.call.log.debug({ from }, 'DTMF INFO relayed as INFO: the media engine cannot send RFC 4733 events');
      return false;
    }
    const settle = (sent: boolean): void => {
      if (!sent) {
        this.call.log.debug({ from }, 'DTMF INFO relayed as INFO: no RTP sent on the other leg yet');
        relay();
        return;
      }
      this.call.log.info({ from, digit: dtmf.digit, durationMs: dtmf.durationMs }, 'SIP INFO DTMF sent as RFC 4733');
      tx.send(tx.response(200));
    };
    const sent = session.sendDtmf(to, index, dtmf.digit, dtmf.durationMs);
    if (typeof sent === 'boolean') settle(sent);
    else void sent.then(settle, () => settle(false));
    return true;
  }
}
