/**
 * A call = leg A (the caller's INVITE we answer) + leg B (the INVITE we send). The state machine
 * for every flow of the call, and one teardown path (end()).
 */
import { randomInt } from 'node:crypto';
import type { MediaEngine, MediaEvent } from '../media/types.js';
import type { LegId, EncryptionMode, Logger } from '../vocabulary/index.js';
import { CallRejection, type B2buaHooks, type IncomingCall, type LegBMedia, type LegBTarget } from '../plugin-api/index.js';
import type { B2buaServerConfig } from '../config/server-config.js';
import { parseSdp, summarizeOffer } from '../sdp/parse.js';
import type { ParsedSdp } from '../sdp/model.js';
import { Dialog } from '../sip/dialog.js';
import { digestAuthorization, parseChallenge } from '../sip/digest.js';
import { randomToken, reasonPhrase, SipRequest, type SipResponse } from '../sip/message.js';
import type { ClientTransaction, ServerTransaction, SipStack } from '../sip/stack.js';
import type { TimerHandle } from '../sip/timers.js';
import { asNameAddr, buildIncomingCall, defaultLegBTarget } from './incoming.js';
import { MediaBridge, SdpNegotiationError } from './media-bridge.js';
import { OfferExchange } from './offer-exchange.js';
import { onNotify, onRefer } from './transfer.js';
import { SessionTimer, sessionTimerOffer, sessionTimerAnswer } from './session-timer.js';

export type CallState = 'routing' | 'calling' | 'early' | 'answered' | 'confirmed' | 'ended';

export interface CallContext {
  readonly stack: SipStack;
  readonly hooks: B2buaHooks;
  readonly media: MediaEngine;
  readonly config: B2buaServerConfig;
  readonly log: Logger;
  contact(): string;
  capabilities(res: { set(name: string, value: string): unknown }): void;
  register(call: Call, leg: LegId, callId: string, localTag: string): void;
  unregister(call: Call): void;
  /** The call whose leg A dialog is (callId, our tag, their tag) — for Replaces. */
  findByDialog(callId: string, tagA: string, tagB: string): { call: Call; leg: LegId } | undefined;
  ended(call: Call): void;
}

/** Leg B final statuses forwarded with their own code and reason; others become 500 / 480. */
function mapFinalStatus(res: SipResponse): [number, string] {
  if (res.status >= 400) return [res.status, res.reason || reasonPhrase(res.status)];
  return [480, 'Temporarily Unavailable'];
}

function isCallRejection(e: unknown): e is CallRejection {
  return e instanceof CallRejection || (e instanceof Error && e.name === 'CallRejection' && typeof (e as CallRejection).status === 'number');
}

const OTHER: Record<LegId, LegId> = { a: 'b', b: 'a' };

export class Call {
  readonly id: string;
  readonly log: Logger;
  readonly startedAt = Date.now();
  answeredAt = 0;
  state: CallState = 'routing';
  incoming: IncomingCall | undefined;
  readonly tagA = randomToken(8);
  readonly tagB = randomToken(8);
  readonly callIdB = randomToken(16);
  dialogA: Dialog | undefined;
  dialogB: Dialog | undefined;
  private inviteB: SipRequest | undefined;
  private txB: ClientTransaction | undefined;
  private offerA: ParsedSdp | undefined;
  bridge: MediaBridge | undefined;
  target: LegBTarget | undefined;
  private endReason: string | undefined;
  private retries = 0;
  private readonly timers: TimerHandle[] = [];
  private readonly byeFrom: Record<LegId, boolean> = { a: false, b: false };
  /** re-INVITE / UPDATE handling and our session refreshes. */
  readonly offers: OfferExchange;
  readonly sessionTimers: Partial<Record<LegId, SessionTimer>> = {};
  earlyMediaSent = false;
  private endedPromise: Promise<void> | undefined;

  constructor(
    private readonly ctx: CallContext,
    readonly inviteA: SipRequest,
    readonly txA: ServerTransaction,
    seq: number,
  ) {
    this.id = `c${seq}-${randomToken(4)}`;
    this.log = ctx.log.child({ call: this.id, callIdA: inviteA.callId, callIdB: this.callIdB });
    this.offers = new OfferExchange(this, ctx);
  }

  /** Our session refresh on a leg (session timers). */
  refresh(leg: LegId, useUpdate: boolean): Promise<void> {
    return this.offers.refresh(leg, useUpdate);
  }

  /** A timer cancelled at teardown. */
  addTimer(t: TimerHandle): void {
    this.timers.push(t);
  }

  get ended(): boolean { return this.state === 'ended'; }
  get timersApi(): SipStack['timers'] { return this.ctx.stack.timers; }

  summary(): Record<string, unknown> {
    return {
      id: this.id, state: this.state, callIdA: this.inviteA.callId, callIdB: this.callIdB,
      from: this.inviteA.from.uri, to: this.inviteA.to.uri, target: this.target?.requestUri,
      startedAt: new Date(this.startedAt).toISOString(), answeredAt: this.answeredAt ? new Date(this.answeredAt).toISOString() : undefined,
      encryption: this.bridge ? { a: this.bridge.legs.a.encryption, b: this.bridge.legs.b.encryption } : undefined,
    };
  }

  // ------------------------------------------------------------ call set-up

  /** Runs the hooks, sets up media and sends leg B's INVITE. Never throws. */
  async start(): Promise<void> {
    const { ctx } = this;
    this.txA.onCancel = () => this.onCancelA();
    this.ctx.register(this, 'a', this.inviteA.callId, this.tagA);
    if (this.inviteA.contentType !== 'application/sdp' || this.inviteA.body.trim() === '') {
      this.rejectEarly(488, 'Not Acceptable Here (an INVITE without SDP offer is not supported)', 'no-offer');
      return;
    }
    const parsed = parseSdp(this.inviteA.body);
    if (!parsed.ok) {
      this.rejectEarly(400, `Bad Request (SDP: ${parsed.error.slice(0, 80)})`, 'bad-sdp');
      return;
    }
    this.offerA = parsed.sdp;
    const source = this.txA.source;
    this.incoming = buildIncomingCall(this.id, this.inviteA, this.txA.transport.protocol, source, summarizeOffer(parsed.sdp));
    const ringing = ((ctx.config['ringingTimeout'] as number | undefined) ?? 120) * 1000;
    if (ringing > 0) this.timers.push(ctx.stack.timers.after(ringing, () => void this.end('ringing-timeout', [408, 'Request Timeout'])));
    try {
      await ctx.hooks.incomingCall.promise(this.incoming);
      if (this.ended) return;
      const target = await ctx.hooks.legBTarget.promise(defaultLegBTarget(this.incoming, ctx.config.outboundProxy), this.incoming);
      if (this.ended) return;
      this.target = target;
      const legBMedia: LegBMedia = await ctx.hooks.legBMedia.promise(
        { encryption: this.incoming.offeredMedia.encryption, srtpSuites: [...this.incoming.offeredMedia.srtpSuites] }, this.incoming);
      if (this.ended) return;
      const caps = ctx.media.capabilities;
      const unsupported = ([['A', this.incoming.offeredMedia.encryption], ['B', legBMedia.encryption]] as [string, EncryptionMode][])
        .find(([, mode]) => !caps.encryption.includes(mode));
      if (unsupported) {
        await this.end(`rejected 488`, [488, `Not Acceptable Here (media encryption ${unsupported[1]} not available on leg ${unsupported[0]} with media engine ${ctx.media.name})`]);
        return;
      }
      const suitesB = legBMedia.srtpSuites.filter((s) => caps.srtpSuites.length === 0 || caps.srtpSuites.includes(s));
      const suitesA = this.incoming.offeredMedia.srtpSuites.filter((s) => caps.srtpSuites.length === 0 || caps.srtpSuites.includes(s));
      if (legBMedia.encryption === 'sdes' && suitesB.length === 0 && legBMedia.srtpSuites.length > 0) {
        await this.end('rejected 488', [488, `Not Acceptable Here (SRTP suites ${legBMedia.srtpSuites.join(', ')} not available)`]);
        return;
      }
      const session = await ctx.media.createSession({ callId: this.inviteA.callId, noRtpTimeoutMs: ctx.config.noRtpTimeout * 1000 });
      this.bridge = new MediaBridge(session, { encryption: this.incoming.offeredMedia.encryption, suites: suitesA },
        { encryption: legBMedia.encryption, suites: suitesB }, { audio: ctx.config.audioCodec, video: ctx.config.videoCodec });
      session.onEvent((e) => this.onMediaEvent(e));
      if (this.ended) { await this.closeMedia(); return; }
      const sdpB = await this.bridge.forwardOffer('a', this.offerA);
      if (this.ended) return;
      this.sendInviteB(target, sdpB);
    } catch (e) {
      if (isCallRejection(e)) {
        await this.end(`rejected ${e.status}`, [e.status, e.reason]);
      } else if (e instanceof SdpNegotiationError) {
        await this.end(`rejected ${e.status}`, [e.status, `${reasonPhrase(e.status)} (${e.message})`]);
      } else {
        this.log.error({ err: (e as Error)?.stack ?? String(e) }, 'call set-up failed (plugin hook or media)');
        await this.end('rejected 500', [500, 'Server Internal Error']);
      }
    }
  }

  /** Refused before the call reached the hooks: no callEnded. */
  private rejectEarly(status: number, reason: string, why: string): void {
    this.log.info({ status, why }, 'INVITE refused');
    this.txA.send(this.txA.response(status, reason, this.tagA));
    this.state = 'ended';
    this.ctx.unregister(this);
  }

  private sendInviteB(target: LegBTarget, sdp: string): void {
    const from = asNameAddr(target.from);
    const to = asNameAddr(target.to);
    if (!from || !to) throw new CallRejection(500, `Server Internal Error (bad leg B From/To: ${target.from} / ${target.to})`);
    const req = new SipRequest('INVITE', target.requestUri);
    req.set('from', `${from};tag=${this.tagB}`);
    req.set('to', to);
    req.set('call-id', this.callIdB);
    req.set('cseq', `${randomInt(1, 1000)} INVITE`);
    req.set('contact', `<${this.ctx.contact()}>`);
    const maxForwards = Number(this.inviteA.get('max-forwards'));
    if (Number.isInteger(maxForwards) && maxForwards > 0) req.set('max-forwards', String(Math.min(70, maxForwards - 1)));
    this.ctx.capabilities(req);
    req.remove('accept');
    sessionTimerOffer(req, this.ctx.config);
    const replaces = this.inviteA.get('replaces');
    if (replaces) req.set('replaces', replaces);
    for (const [name, value] of Object.entries(target.headers)) req.set(name, value);
    req.set('content-type', 'application/sdp');
    req.body = sdp;
    this.inviteB = req;
    this.state = 'calling';
    this.ctx.register(this, 'b', this.callIdB, this.tagB);
    this.log.info({ to: target.requestUri, via: target.outboundProxy ?? 'request-uri' }, 'leg B INVITE');
    this.txB = this.ctx.stack.request(req, target.outboundProxy ?? target.requestUri, (res) => { void this.onResponseB(res); });
  }

  private async onResponseB(res: SipResponse): Promise<void> {
    try {
      await this.handleResponseB(res);
    } catch (e) {
      if (e instanceof SdpNegotiationError) await this.end(`rejected ${e.status}`, [e.status, `${reasonPhrase(e.status)} (${e.message})`]);
      else {
        this.log.error({ err: (e as Error).stack }, 'error while handling a leg B response');
        await this.end('error', [500, 'Server Internal Error']);
      }
    }
  }

  private async handleResponseB(res: SipResponse): Promise<void> {
    if (res.status === 100) return;
    if (res.status < 200) {
      if (this.ended || this.state === 'answered' || this.state === 'confirmed') return;
      this.state = 'early';
      const out = this.txA.response(res.status === 183 || res.body ? res.status : 180, res.reason || reasonPhrase(res.status), this.tagA);
      out.set('contact', `<${this.ctx.contact()}>`);
      if (res.contentType === 'application/sdp' && res.body.trim() !== '' && this.bridge) {
        const parsed = parseSdp(res.body);
        if (parsed.ok) {
          const sdpA = await this.bridge.forwardAnswer('b', parsed.sdp);
          if (this.ended || this.txA.final) return;
          out.set('content-type', 'application/sdp');
          out.body = sdpA;
          this.earlyMediaSent = true;
        } else this.log.warn({ error: parsed.error }, 'leg B early SDP ignored');
      }
      this.txA.send(out);
      return;
    }
    if (res.status < 300) {
      await this.onAnsweredB(res);
      return;
    }
    if (this.ended) return;
    if ((res.status === 401 || res.status === 407) && this.retryWithCredentials(res)) return;
    if (res.status === 422 && this.retryWithMinSe(res)) return;
    const [status, reason] = mapFinalStatus(res);
    this.log.info({ status: res.status, reason: res.reason }, 'leg B refused');
    await this.end(`rejected ${res.status}`, [status, reason]);
  }

  /** Leg B challenged our INVITE: send it again with the target's credentials (twice at most). */
  private retryWithCredentials(res: SipResponse): boolean {
    const credentials = this.target?.credentials;
    const previous = this.inviteB;
    if (!credentials || !previous || this.retries >= 3) return false;
    const header = res.status === 401 ? 'www-authenticate' : 'proxy-authenticate';
    const challenge = res.getAll(header).map(parseChallenge).find((c) => c !== undefined);
    if (!challenge) return false;
    const answer = digestAuthorization({ challenge, credentials, method: 'INVITE', uri: previous.uri });
    if (!answer.ok) {
      this.log.warn({ error: answer.error }, 'cannot answer leg B challenge');
      return false;
    }
    this.resendInviteB((req) => req.set(res.status === 401 ? 'authorization' : 'proxy-authorization', answer.header), `${res.status} ${challenge.realm}`);
    return true;
  }

  /** 422 Session Interval Too Small: send the INVITE again with the peer's Min-SE (RFC 4028 §7.4). */
  private retryWithMinSe(res: SipResponse): boolean {
    const minSe = Number(/^\s*(\d+)/.exec(res.get('min-se') ?? '')?.[1]);
    if (!this.inviteB || !Number.isInteger(minSe) || minSe <= 0 || this.retries >= 3) return false;
    this.resendInviteB((req) => { req.set('session-expires', String(minSe)); req.set('min-se', String(minSe)); }, `422 min-se ${minSe}`);
    return true;
  }

  private resendInviteB(change: (req: SipRequest) => void, why: string): void {
    const previous = this.inviteB!;
    this.retries++;
    const req = new SipRequest('INVITE', previous.uri);
    for (const h of previous.headers) if (h.name !== 'via') req.headers.push({ ...h });
    req.set('cseq', `${previous.cseq.seq + 1} INVITE`);
    change(req);
    req.body = previous.body;
    this.inviteB = req;
    this.log.info({ why }, 'leg B INVITE sent again');
    this.txB = this.ctx.stack.request(req, this.target!.outboundProxy ?? this.target!.requestUri, (r) => { void this.onResponseB(r); });
  }

  private async onAnsweredB(res: SipResponse): Promise<void> {
    const invite = this.inviteB!;
    const toTag = res.toTag ?? '';
    if (this.dialogB) {
      if (this.dialogB.remoteTag === toTag) {
        void this.ctx.stack.sendAck(this.dialogB.ack(invite.cseq.seq), this.dialogB.destination(), this.dialogB.flow);
      } else this.ackAndBye(invite, res, 'forked 2xx');
      return;
    }
    if (this.ended) { this.ackAndBye(invite, res, 'answered after the call ended'); return; }
    const dialog = Dialog.asUac(invite, res, `<${this.ctx.contact()}>`);
    this.dialogB = dialog;
    // The callee may start sending RTP as soon as it has our ACK: configure leg B's media first,
    // so that its very first packet is accepted (a 2xx retransmitted meanwhile is ACKed above).
    const ack = (): void => void this.ctx.stack.sendAck(dialog.ack(invite.cseq.seq), dialog.destination());
    const parsed = res.contentType === 'application/sdp' ? parseSdp(res.body) : undefined;
    if (!parsed || !parsed.ok) {
      ack();
      this.log.warn({ error: parsed && !parsed.ok ? parsed.error : 'no SDP in 2xx' }, 'leg B answered without a usable SDP');
      await this.end('bad-answer', [488, 'Not Acceptable Here (callee answered without usable SDP)']);
      return;
    }
    let sdpA: string;
    try {
      sdpA = await this.bridge!.forwardAnswer('b', parsed.sdp);
    } finally {
      ack();
    }
    if (this.ended) return;
    this.sessionTimers.b = SessionTimer.fromAnswer(this, 'b', res, this.ctx.config);
    const ok = this.txA.response(200, 'OK', this.tagA);
    ok.set('contact', `<${this.ctx.contact()}>`);
    this.ctx.capabilities(ok);
    this.sessionTimers.a = sessionTimerAnswer(this, this.inviteA, ok, this.ctx.config);
    ok.set('content-type', 'application/sdp');
    ok.body = sdpA;
    this.dialogA = Dialog.asUas(this.inviteA, this.tagA, `<${this.ctx.contact()}>`);
    if (this.txA.transport.protocol !== 'udp' && this.dialogA.routeSet.length === 0) this.dialogA.flow = { transport: this.txA.transport, remote: this.txA.source };
    this.txA.onAckTimeout = () => void this.end('no-ack', undefined);
    this.txA.send(ok);
    this.state = 'answered';
    this.answeredAt = Date.now();
    for (const t of this.timers.splice(0)) t.cancel(); // ringing timeout
    const maxDuration = this.ctx.config.maxCallDuration * 1000;
    if (maxDuration > 0) this.timers.push(this.ctx.stack.timers.after(maxDuration, () => void this.end('max-call-duration')));
    this.sessionTimers.a?.start();
    this.sessionTimers.b?.start();
    this.log.info({ status: 200 }, 'call answered');
    try {
      await this.ctx.hooks.callAnswered.promise({ call: this.incoming!, legB: { callId: this.callIdB, requestUri: invite.uri } });
    } catch (e) {
      this.log.error({ err: (e as Error)?.stack ?? String(e) }, 'callAnswered hook threw');
    }
  }

  /** A 2xx we do not want (fork loser, late answer): ACK it then BYE it. */
  private ackAndBye(invite: SipRequest, res: SipResponse, why: string): void {
    const d = Dialog.asUac(invite, res, `<${this.ctx.contact()}>`);
    this.log.info({ toTag: d.remoteTag, why }, 'ACK + BYE of an unwanted leg B dialog');
    void this.ctx.stack.sendAck(d.ack(invite.cseq.seq), d.destination());
    this.ctx.stack.request(d.request('BYE'), d.destination(), () => undefined, d.flow);
  }

  private onCancelA(): void {
    this.log.info('leg A cancelled');
    void this.end('cancelled', [487, 'Request Terminated']);
  }

  // ------------------------------------------------------------ in-dialog requests

  onAck(leg: LegId, ack: SipRequest): void {
    if (leg === 'a' && this.state === 'answered') this.state = 'confirmed';
    this.offers.onAck(leg, ack);
  }

  onRequest(leg: LegId, req: SipRequest, tx: ServerTransaction): void {
    const dialog = leg === 'a' ? this.dialogA : this.dialogB;
    if (this.ended || !dialog) { tx.send(tx.response(481)); return; }
    if (!dialog.acceptRemoteCSeq(req)) { tx.send(tx.response(500, 'Server Internal Error (CSeq out of order)')); return; }
    switch (req.method) {
      case 'BYE':
        this.byeFrom[leg] = true;
        tx.send(tx.response(200));
        void this.end(leg === 'a' ? 'caller-bye' : 'callee-bye');
        return;
      case 'INVITE':
      case 'UPDATE':
        this.guard(this.offers.onOffer(leg, req, tx), tx);
        return;
      case 'INFO':
      case 'MESSAGE':
        this.relay(leg, req, tx);
        return;
      case 'REFER':
        this.guard(onRefer(this, leg, req, tx, this.ctx), tx);
        return;
      case 'NOTIFY':
        onNotify(this, leg, req, tx);
        return;
      case 'OPTIONS':
        tx.send(tx.response(200));
        return;
      default:
        tx.send(tx.response(405));
    }
  }

  /** An async request handler that fails answers 500 and logs; never an unhandled rejection. */
  private guard(work: Promise<void>, tx: ServerTransaction): void {
    work.catch((e: unknown) => {
      this.log.error({ err: (e as Error)?.stack ?? String(e) }, 'in-dialog request handling failed');
      if (!tx.final) tx.send(tx.response(500));
    });
  }

  /** The other leg's dialog, for forwarding. */
  dialogOf(leg: LegId): Dialog | undefined {
    return leg === 'a' ? this.dialogA : this.dialogB;
  }

  /** Send a request in a leg's dialog; resolves with the final response. */
  sendInDialog(leg: LegId, req: SipRequest): Promise<SipResponse> {
    const d = this.dialogOf(leg)!;
    return new Promise((resolve) => {
      this.ctx.stack.request(req, d.destination(), (res) => { if (res.status >= 200) resolve(res); }, d.flow);
    });
  }

  /** INFO (DTMF relay) and MESSAGE: forwarded to the other leg, its final status returned. */
  private relay(leg: LegId, req: SipRequest, tx: ServerTransaction): void {
    const other = this.dialogOf(OTHER[leg]);
    if (!other) { tx.send(tx.response(481)); return; }
    const out = other.request(req.method);
    for (const name of ['content-type', 'event', 'info-package', 'recv-info']) {
      const v = req.get(name);
      if (v !== undefined) out.set(name, v);
    }
    out.body = req.body;
    void this.sendInDialog(OTHER[leg], out).then((res) => tx.send(tx.response(res.status, res.reason)));
  }

  // ------------------------------------------------------------ media events

  private onMediaEvent(e: MediaEvent): void {
    if (this.ended) return;
    if (e.type === 'leg-silent') {
      if (this.state !== 'confirmed' && this.state !== 'answered') return;
      this.log.info({ leg: e.leg, silentForMs: e.silentForMs }, 'no RTP');
      void this.end('no-rtp-timeout');
    } else if (e.type === 'failed') {
      this.log.error({ reason: e.reason }, 'media failed');
      void this.end('media-failed', [500, 'Server Internal Error (media)']);
    } else this.log.info({ event: e.type, leg: e.leg, detail: e.detail }, 'media event');
  }

  // ------------------------------------------------------------ teardown

  /**
   * The one way a call ends: leg A answered with `statusA` if still unanswered (else BYE), leg B
   * CANCELled if still unanswered (else BYE), timers stopped, media closed, callEnded emitted once.
   */
  end(reason: string, statusA?: [number, string]): Promise<void> {
    if (this.endedPromise) return this.endedPromise;
    this.endedPromise = this.teardown(reason, statusA);
    return this.endedPromise;
  }

  private async teardown(reason: string, statusA?: [number, string]): Promise<void> {
    const reached = this.incoming !== undefined;
    this.state = 'ended';
    this.endReason = reason;
    for (const t of this.timers.splice(0)) t.cancel();
    this.sessionTimers.a?.stop();
    this.sessionTimers.b?.stop();
    if (!this.txA.final) {
      const [status, phrase] = statusA ?? [500, 'Server Internal Error'];
      this.txA.send(this.txA.response(status, phrase, this.tagA));
    } else if (this.dialogA && !this.byeFrom.a) {
      this.ctx.stack.request(this.dialogA.request('BYE'), this.dialogA.destination(), () => undefined, this.dialogA.flow);
    }
    if (this.txB && !this.dialogB) this.txB.cancel();
    else if (this.dialogB && !this.byeFrom.b) {
      this.ctx.stack.request(this.dialogB.request('BYE'), this.dialogB.destination(), () => undefined);
    }
    const report = await this.closeMedia();
    this.ctx.unregister(this);
    const durationMs = this.answeredAt ? Date.now() - this.answeredAt : 0;
    this.log.info({ reason, durationMs, totalMs: Date.now() - this.startedAt, media: report }, 'call ended');
    if (reached) {
      try {
        this.ctx.hooks.callEnded.call({ call: this.incoming!, reason, durationMs, ...(report ? { mediaReport: report } : {}) });
      } catch (e) {
        this.log.error({ err: (e as Error)?.stack ?? String(e) }, 'callEnded hook threw');
      }
    }
    this.ctx.ended(this);
  }

  private async closeMedia(): Promise<Record<string, unknown> | undefined> {
    if (!this.bridge) return undefined;
    try {
      const stats = await this.bridge.session.close();
      return { a: stats.a, b: stats.b };
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'media session close failed');
      return undefined;
    }
  }

  get reason(): string | undefined { return this.endReason; }
}
