/**
 * Leg B's INVITE: built from the LegBTarget (our tag and Call-ID, Max-Forwards, session timers,
 * Replaces, the plugins' headers, Flexisip's `X-Flexisip-B2BUA: ignore` marker), sent, and sent again when leg B challenges it (401/407, digest)
 * or finds our session interval too small (422, Min-SE), 3 times at most. Its first 2xx makes leg B's
 * dialog; that 2xx retransmitted is ACKed again, a 2xx from another fork is ACKed then BYEd. The call
 * sees provisional, answering and final responses through `LegBHandlers`.
 */
import { randomInt } from 'node:crypto';
import { b2buaError } from '../errors/index.js';
import type { LegBTarget } from '../plugin-api/index.js';
import { answerChallenge } from '../sip/challenge.js';
import { Dialog } from '../sip/dialog.js';
import { SipRequest, type SipResponse } from '../sip/message.js';
import type { ClientTransaction } from '../sip/stack.js';
import type { Logger } from '../vocabulary/index.js';
import type { CallContext } from './call-context.js';
import { asNameAddr } from './incoming.js';
import { MARKER_HEADER, MARKER_VALUE } from './loop.js';
import { sessionTimerOffer } from './session-timer.js';
import { rewriteReplaces } from './transfer.js';
import { accountFlow } from './sip-api.js';

/** What the call does with leg B's responses. */
export interface LegBHandlers {
  ended(): boolean;
  provisional(res: SipResponse): Promise<void>;
  /** The 2xx that made leg B's dialog; `ack` sends its ACK (the call first configures leg B's media). */
  answered(res: SipResponse, ack: () => void): Promise<void>;
  /** A final refusal not retried. */
  refused(res: SipResponse): Promise<void>;
  /** Handling a response threw. */
  failed(e: unknown): Promise<void>;
}

export interface LegBSetup {
  readonly target: LegBTarget;
  readonly sdp: string;
  readonly callId: string;
  readonly tag: string;
  /** Leg A's INVITE: its Max-Forwards and Replaces carry over. */
  readonly inviteA: SipRequest;
}

type LegBContext = Pick<CallContext, 'stack' | 'contact' | 'capabilities' | 'config' | 'findByDialog'>;

const MAX_RETRIES = 3;

function buildInvite(setup: LegBSetup, ctx: LegBContext): SipRequest {
  const { target, inviteA } = setup;
  const from = asNameAddr(target.from);
  const to = asNameAddr(target.to);
  if (!from || !to) throw b2buaError('B2BUA_INTERNAL', { bug: `bad leg B From/To: ${target.from} / ${target.to}` });
  const req = new SipRequest('INVITE', target.requestUri);
  req.set('from', `${from};tag=${setup.tag}`);
  req.set('to', to);
  req.set('call-id', setup.callId);
  req.set('cseq', `${randomInt(1, 1000)} INVITE`);
  req.set('contact', `<${target.transport?.contact ?? ctx.contact()}>`);
  const maxForwards = Number(inviteA.get('max-forwards'));
  if (Number.isInteger(maxForwards) && maxForwards > 0) req.set('max-forwards', String(Math.min(70, maxForwards - 1)));
  ctx.capabilities(req);
  req.remove('accept');
  sessionTimerOffer(req, ctx.config);
  // An INVITE replacing one of our dialogs (attended transfer, RFC 3891) must name, towards leg B, the dialog leg B's
  // side has with us: rewritten as Flexisip does (b2bua-server.cc:189-196); a dialog we do not know is passed as is.
  const replaces = inviteA.get('replaces');
  if (replaces) req.set('replaces', rewriteReplaces(replaces, ctx) ?? replaces);
  for (const [name, value] of Object.entries(target.headers)) req.set(name, value);
  // Flexisip's leg B marker (b2bua-server.cc:157-158), after the plugins' headers so that it is always ours.
  req.set(MARKER_HEADER, MARKER_VALUE);
  req.set('content-type', 'application/sdp');
  req.body = setup.sdp;
  return req;
}

export class LegBInvite {
  private invite: SipRequest;
  private tx: ClientTransaction | undefined;
  private retries = 0;
  /** Leg B's dialog, from its first 2xx. */
  dialog: Dialog | undefined;

  /** Throws B2BUA_INTERNAL (500) when the target's From / To is not a name-addr. */
  constructor(private readonly ctx: LegBContext, private readonly target: LegBTarget, setup: Omit<LegBSetup, 'target'>,
    private readonly log: Logger, private readonly handlers: LegBHandlers) {
    this.invite = buildInvite({ ...setup, target }, ctx);
  }

  /** The INVITE last sent. */
  get request(): SipRequest { return this.invite; }

  send(): void {
    this.log.info({ to: this.target.requestUri, via: this.target.outboundProxy ?? 'request-uri' }, 'leg B INVITE');
    this.transmit();
  }

  /** CANCEL of the INVITE (teardown before leg B answered). */
  cancel(): void {
    this.tx?.cancel();
  }

  private transmit(): void {
    this.tx = this.ctx.stack.request(this.invite, this.target.outboundProxy ?? this.target.requestUri, (res) => { void this.onResponse(res); }, accountFlow(this.target.transport));
  }

  private async onResponse(res: SipResponse): Promise<void> {
    try {
      await this.handle(res);
    } catch (e) {
      await this.handlers.failed(e);
    }
  }

  private async handle(res: SipResponse): Promise<void> {
    if (res.status === 100) return;
    if (res.status < 200) { await this.handlers.provisional(res); return; }
    if (res.status < 300) { await this.onSuccess(res); return; }
    if (this.handlers.ended()) return;
    if ((res.status === 401 || res.status === 407) && this.retryWithCredentials(res)) return;
    if (res.status === 422 && this.retryWithMinSe(res)) return;
    await this.handlers.refused(res);
  }

  private async onSuccess(res: SipResponse): Promise<void> {
    const invite = this.invite;
    if (this.dialog) {
      if (this.dialog.remoteTag === (res.toTag ?? '')) {
        void this.ctx.stack.sendAck(this.dialog.ack(invite.cseq.seq), this.dialog.destination(), this.dialog.flow);
      } else this.ackAndBye(res, 'forked 2xx');
      return;
    }
    if (this.handlers.ended()) { this.ackAndBye(res, 'answered after the call ended'); return; }
    const dialog = this.asUac(invite, res);
    this.dialog = dialog;
    await this.handlers.answered(res, () => void this.ctx.stack.sendAck(dialog.ack(invite.cseq.seq), dialog.destination(), dialog.flow));
  }

  /** Leg B's dialog; placed through an account transport, its in-dialog requests keep that socket. */
  private asUac(invite: SipRequest, res: SipResponse): Dialog {
    const d = Dialog.asUac(invite, res, `<${this.target.transport?.contact ?? this.ctx.contact()}>`);
    d.flow ??= accountFlow(this.target.transport);
    return d;
  }

  /** A 2xx we do not want (fork loser, late answer): ACK it then BYE it. */
  private ackAndBye(res: SipResponse, why: string): void {
    const invite = this.invite;
    const d = this.asUac(invite, res);
    this.log.info({ toTag: d.remoteTag, why }, 'ACK + BYE of an unwanted leg B dialog');
    void this.ctx.stack.sendAck(d.ack(invite.cseq.seq), d.destination(), d.flow);
    this.ctx.stack.request(d.request('BYE'), d.destination(), () => undefined, d.flow);
  }

  /** Leg B challenged our INVITE: send it again with the target's credentials. */
  private retryWithCredentials(res: SipResponse): boolean {
    const credentials = this.target.credentials;
    if (!credentials || this.retries >= MAX_RETRIES) return false;
    const answer = answerChallenge({ response: res, credentials, method: 'INVITE', uri: this.invite.uri });
    if (!answer.ok) {
      if (answer.challenge) this.log.warn({ error: answer.error }, 'cannot answer leg B challenge');
      return false;
    }
    this.resend((req) => req.set(answer.header, answer.value), `${res.status} ${answer.challenge.realm}`);
    return true;
  }

  /** 422 Session Interval Too Small: send the INVITE again with the peer's Min-SE (RFC 4028 §7.4). */
  private retryWithMinSe(res: SipResponse): boolean {
    const minSe = Number(/^\s*(\d+)/.exec(res.get('min-se') ?? '')?.[1]);
    if (!Number.isInteger(minSe) || minSe <= 0 || this.retries >= MAX_RETRIES) return false;
    this.resend((req) => { req.set('session-expires', String(minSe)); req.set('min-se', String(minSe)); }, `422 min-se ${minSe}`);
    return true;
  }

  private resend(change: (req: SipRequest) => void, why: string): void {
    const previous = this.invite;
    this.retries++;
    const req = new SipRequest('INVITE', previous.uri);
    for (const h of previous.headers) if (h.name !== 'via') req.headers.push({ ...h });
    req.set('cseq', `${previous.cseq.seq + 1} INVITE`);
    change(req);
    req.body = previous.body;
    this.invite = req;
    this.log.info({ why }, 'leg B INVITE sent again');
    this.transmit();
  }
}
