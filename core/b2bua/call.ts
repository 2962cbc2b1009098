/**
 * A call = leg A (the caller's INVITE we answer) + leg B (the INVITE we send, core/b2bua/leg-b-invite.ts).
 * The set-up (hooks in order, media plan), leg B's answers relayed to leg A, in-dialog requests routed
 * to their handler, and one teardown path (end()).
 * One module on purpose (~320 lines): these steps share the call's state (transactions, dialogs, timers, bridge) and
 * its order of events; leg B's INVITE, in-dialog requests, offers, transfers and media policy live in their own modules.
 */
import { b2buaError, errorReason, isB2buaError, type B2buaError } from '../errors/index.js';
import type { MediaEvent } from '../media/types.js';
import type { LegId, Logger } from '../vocabulary/index.js';
import type { CallRecordValue, IncomingCall, LegBMedia, LegBTarget } from '../plugin-api/index.js';
import { buildCallRecord } from '../cdr/record.js';
import { summarizeOffer } from '../sdp/parse.js';
import type { ParsedSdp } from '../sdp/model.js';
import { readPeerSdp, type PeerSdp } from '../sdp/validate.js';
import { Dialog } from '../sip/dialog.js';
import { randomToken, reasonPhrase, type SipRequest, type SipResponse } from '../sip/message.js';
import type { ServerTransaction, SipStack } from '../sip/stack.js';
import type { TimerHandle } from '../sip/timers.js';
import type { CallContext, CallInDialog, CallState } from './call-context.js';
import { errorHeaders, errorResponse, isCallRejection, mapFinalStatus } from './error-response.js';
import { InDialogRequests } from './in-dialog.js';
import { buildIncomingCall, defaultLegBTarget } from './incoming.js';
import { LegBInvite } from './leg-b-invite.js';
import { legFamilies } from './leg-families.js';
import { MediaBridge } from './media-bridge.js';
import { SessionTimer, sessionTimerAnswer } from './session-timer.js';

/**
 * What leg B is offered when leg A's INVITE has no SDP: audio in G.711 with telephone-event, the codecs every SIP
 * endpoint has (we relay, we do not transcode: leg A is then offered only what leg B chose). A placeholder address:
 * leg A's real address is in its ACK.
 */
const LATE_OFFER_TEMPLATE = 'v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n' +
  'm=audio 9 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\n';

export class Call implements CallInDialog {
  readonly id: string;
  readonly log: Logger;
  readonly startedAt = Date.now();
  answeredAt = 0;
  /** Why the call ended (set when it starts ending). */
  endReason = '';
  state: CallState = 'routing';
  incoming: IncomingCall | undefined;
  readonly tagA = randomToken(8);
  readonly tagB = randomToken(8);
  readonly callIdB = randomToken(16);
  dialogA: Dialog | undefined;
  private legB: LegBInvite | undefined;
  private offerA: ParsedSdp | undefined;
  /** Leg A's INVITE had no SDP: our 200 carries the offer, its ACK the answer. */
  private lateOffer = false;
  bridge: MediaBridge | undefined;
  target: LegBTarget | undefined;
  private readonly timers: TimerHandle[] = [];
  /** BYE, re-INVITE / UPDATE, REFER / NOTIFY, INFO / MESSAGE once a leg has a dialog. */
  private readonly inDialog: InDialogRequests;
  readonly sessionTimers: Partial<Record<LegId, SessionTimer>> = {};
  private endedPromise: Promise<void> | undefined;
  /** IncomingCall.annotate(): the application's decision, in the call detail record. */
  private readonly decision = new Map<string, CallRecordValue>();
  /** Leg B answered its INVITE with a final error: the call detail record says the callee ended the call. */
  private refusedByCallee = false;

  constructor(
    private readonly ctx: CallContext<Call>,
    readonly inviteA: SipRequest,
    readonly txA: ServerTransaction,
    seq: number,
  ) {
    this.id = `c${seq}-${randomToken(4)}`;
    this.log = ctx.log.child({ call: this.id, callIdA: inviteA.callId, callIdB: this.callIdB });
    this.inDialog = new InDialogRequests(this, ctx);
  }

  get dialogB(): Dialog | undefined { return this.legB?.dialog; }

  /** Our session refresh on a leg (session timers). */
  refresh(leg: LegId, useUpdate: boolean): Promise<void> {
    return this.inDialog.offers.refresh(leg, useUpdate);
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

  /** summary() with the live media report (admin /calls); a media session that does not answer is reported as such. */
  async details(): Promise<Record<string, unknown>> {
    const session = this.bridge?.session;
    if (!session) return this.summary();
    try {
      return { ...this.summary(), media: await session.stats() };
    } catch (e) {
      return { ...this.summary(), media: { error: errorReason(e) } };
    }
  }

  // ------------------------------------------------------------ call set-up

  /** Runs the hooks, sets up media and sends leg B's INVITE. Never throws. */
  async start(): Promise<void> {
    const { ctx } = this;
    this.txA.onCancel = () => this.onCancelA();
    this.ctx.register(this, 'a', this.inviteA.callId, this.tagA);
    this.lateOffer = this.inviteA.body.trim() === '';
    if (!this.lateOffer && this.inviteA.contentType !== 'application/sdp') {
      return this.rejectEarly(b2buaError('B2BUA_SDP_MISSING', {}), 'no-offer');
    }
    // Late offer (RFC 3261 13.2.1, an INVITE without SDP): leg B gets our offer, leg A gets it in the 200, answers in the ACK.
    const parsed = this.peerSdp(this.lateOffer ? LATE_OFFER_TEMPLATE : this.inviteA.body);
    if (!parsed.ok) return this.rejectEarly(parsed.error, 'bad-sdp');
    this.offerA = parsed.sdp;
    const source = this.txA.source;
    this.incoming = buildIncomingCall(this.id, this.inviteA, this.txA.transport.protocol, source, summarizeOffer(parsed.sdp), (k, v) => this.annotate(k, v));
    const ringing = ctx.config.ringingTimeout * 1000;
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
      const plan = MediaBridge.plan(this.incoming.offeredMedia, legBMedia, ctx.media);
      if (!plan.ok) throw plan.error;
      const session = await ctx.media.createSession({ callId: this.inviteA.callId, noRtpTimeoutMs: ctx.config.noRtpTimeout * 1000 });
      const ice = ctx.config.enableIce && ctx.media.capabilities.ice ? { natAddresses: ctx.config.natAddresses } : undefined;
      this.bridge = new MediaBridge(session, plan.legs.a, plan.legs.b, { audio: ctx.config.audioCodec, video: ctx.config.videoCodec }, ice);
      session.onEvent((e) => this.onMediaEvent(e));
      const families = await legFamilies(ctx.config, this.txA.source.address, target.outboundProxy ?? target.requestUri);
      this.bridge.legs.a.family = families.a;
      this.bridge.legs.b.family = families.b;
      if (this.ended) { await this.closeMedia(); return; }
      if (this.lateOffer) this.bridge.legs.a.awaitingRemote = true;
      const sdpB = await this.bridge.forwardOffer('a', this.offerA);
      if (this.ended) return;
      this.sendInviteB(target, sdpB);
    } catch (e) {
      await this.fail(e, 'rejected 500', 'call set-up failed (plugin hook or media)');
    }
  }

  /**
   * How a set-up failure ends the call: a hook's CallRejection answers its status and reason, a coded error with a SIP status
   * answers that status with its reason (a 5xx is logged with its stack), anything else is logged and answers 500.
   */
  private async fail(e: unknown, reason: string, what: string): Promise<void> {
    if (isCallRejection(e)) {
      this.log.info({ code: e.code, status: e.status, reason: e.reason }, 'call rejected by a hook');
      await this.end(`rejected ${e.status}`, [e.status, e.reason]);
      return;
    }
    const response = errorResponse(e);
    if (response) {
      if (isB2buaError(e, 'B2BUA_MEDIA_PORTS_EXHAUSTED')) this.log.warn({ code: e.code, problem: e.reason }, 'media ports exhausted: call refused 503');
      else if (response[0] >= 500) this.log.error({ err: (e as Error).stack }, what);
      await this.end(`rejected ${response[0]}`, response, errorHeaders(e, this.ctx.contact()));
    } else {
      this.log.error({ err: (e as Error)?.stack ?? String(e) }, what);
      await this.end(reason, [500, 'Server Internal Error']);
    }
  }

  /** Refused before the call reached the hooks: no callEnded. */
  private rejectEarly(e: B2buaError, why: string): void {
    const [status, phrase] = errorResponse(e) ?? [500, 'Server Internal Error'];
    this.log.info({ code: e.code, status, why, problem: e.reason }, 'INVITE refused');
    const res = this.txA.response(status, phrase, this.tagA);
    for (const [name, value] of errorHeaders(e, this.ctx.contact())) res.set(name, value);
    this.txA.send(res);
    this.state = 'ended';
    this.ctx.unregister(this);
  }

  /** A peer's SDP parsed and checked (core/sdp/validate.ts). */
  private peerSdp(text: string): PeerSdp {
    return readPeerSdp(text, { maxMediaLines: this.ctx.config.maxMediaLines });
  }

  private sendInviteB(target: LegBTarget, sdp: string): void {
    this.legB = new LegBInvite(this.ctx, target, { sdp, callId: this.callIdB, tag: this.tagB, inviteA: this.inviteA }, this.log, {
      ended: () => this.ended,
      provisional: (res) => this.onProvisionalB(res),
      answered: (res, ack) => this.onAnsweredB(res, ack),
      refused: (res) => this.onRefusedB(res),
      failed: (e) => this.fail(e, 'error', 'error while handling a leg B response'),
    });
    this.state = 'calling';
    this.ctx.register(this, 'b', this.callIdB, this.tagB);
    this.legB.send();
  }

  private async onProvisionalB(res: SipResponse): Promise<void> {
    if (this.ended || this.state === 'answered' || this.state === 'confirmed') return;
    this.state = 'early';
    const out = this.txA.response(res.status === 183 || res.body ? res.status : 180, res.reason || reasonPhrase(res.status), this.tagA);
    out.set('contact', `<${this.ctx.contact()}>`);
    if (res.contentType === 'application/sdp' && res.body.trim() !== '' && this.bridge) {
      const parsed = this.peerSdp(res.body);
      if (parsed.ok) {
        const sdpA = await this.bridge.forwardAnswer('b', parsed.sdp);
        if (this.ended || this.txA.final) return;
        out.set('content-type', 'application/sdp');
        out.body = sdpA;
      } else this.log.warn({ error: parsed.error.reason }, 'leg B early SDP ignored');
    }
    this.txA.send(out);
  }

  private async onRefusedB(res: SipResponse): Promise<void> {
    const [status, reason] = mapFinalStatus(res);
    this.log.info({ status: res.status, reason: res.reason }, 'leg B refused');
    this.refusedByCallee = true;
    await this.end(`rejected ${res.status}`, [status, reason]);
  }

  /** Leg B's dialog exists; leg B's media is configured before `ack`, as the callee may send RTP as soon as it has our ACK. */
  private async onAnsweredB(res: SipResponse, ack: () => void): Promise<void> {
    const parsed = res.contentType === 'application/sdp' ? this.peerSdp(res.body) : undefined;
    if (!parsed || !parsed.ok) {
      ack();
      const problem = parsed && !parsed.ok ? parsed.error.reason : 'no SDP in 2xx';
      this.log.warn({ error: problem }, 'leg B answered without a usable SDP');
      await this.end('bad-answer', [488, 'Not Acceptable Here (callee answered without usable SDP)'],
        errorHeaders(b2buaError('B2BUA_SDP_INVALID', { why: `callee's answer: ${problem}` }), this.ctx.contact()));
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
      await this.ctx.hooks.callAnswered.promise({ call: this.incoming!, legB: { callId: this.callIdB, requestUri: this.legB!.request.uri } });
    } catch (e) {
      this.log.error({ err: (e as Error)?.stack ?? String(e) }, 'callAnswered hook threw');
    }
  }

  private onCancelA(): void {
    this.log.info('leg A cancelled');
    void this.end('cancelled', [487, 'Request Terminated']);
  }

  // ------------------------------------------------------------ in-dialog requests

  onAck(leg: LegId, ack: SipRequest): void {
    if (leg === 'a' && this.state === 'answered') {
      this.state = 'confirmed';
      if (this.lateOffer) { void this.onLateAnswer(ack); return; }
    }
    this.inDialog.offers.onAck(leg, ack);
  }

  /** The ACK of a late-offer call carries leg A's answer to the offer in our 200; without one the call cannot have media. */
  private async onLateAnswer(ack: SipRequest): Promise<void> {
    this.lateOffer = false;
    const parsed = ack.contentType === 'application/sdp' && ack.body.trim() !== '' ? this.peerSdp(ack.body) : undefined;
    if (!parsed?.ok) {
      this.log.warn({ error: parsed && !parsed.ok ? parsed.error.reason : 'no SDP in the ACK' }, 'late offer: leg A\'s ACK carries no usable answer; hanging up');
      await this.end('bad-answer');
      return;
    }
    try {
      await this.bridge!.acceptAnswer('a', parsed.sdp);
      this.log.info('late offer: leg A answered in its ACK');
    } catch (e) {
      await this.fail(e, 'bad-answer', 'late offer: leg A\'s answer could not be applied');
    }
  }

  onRequest(leg: LegId, req: SipRequest, tx: ServerTransaction): void {
    this.inDialog.onRequest(leg, req, tx);
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
    } else if (e.type === 'dtmf') {
      this.inDialog.dtmf.onMediaDtmf(e.leg, e.digit, e.durationMs);
    } else this.log.info({ event: e.type, leg: e.leg, detail: e.detail }, 'media event');
  }

  // ------------------------------------------------------------ teardown

  /**
   * The one way a call ends: leg A answered with `statusA` if still unanswered (else BYE), leg B
   * CANCELled if still unanswered (else BYE), timers stopped, media closed, callEnded emitted once.
   */
  end(reason: string, statusA?: [number, string], headersA: readonly [string, string][] = []): Promise<void> {
    if (this.endedPromise) return this.endedPromise;
    this.endedPromise = this.teardown(reason, statusA, headersA);
    return this.endedPromise;
  }

  private async teardown(reason: string, statusA: [number, string] | undefined, headersA: readonly [string, string][]): Promise<void> {
    const reached = this.incoming !== undefined;
    this.endReason = reason;
    this.state = 'ended';
    for (const t of this.timers.splice(0)) t.cancel();
    this.sessionTimers.a?.stop();
    this.sessionTimers.b?.stop();
    if (!this.txA.final) {
      const [status, phrase] = statusA ?? [500, 'Server Internal Error'];
      const res = this.txA.response(status, phrase, this.tagA);
      for (const [name, value] of headersA) res.set(name, value);
      this.txA.send(res);
    } else if (this.dialogA && !this.inDialog.byeFrom.a) {
      this.ctx.stack.request(this.dialogA.request('BYE'), this.dialogA.destination(), () => undefined, this.dialogA.flow);
    }
    if (this.legB && !this.dialogB) this.legB.cancel();
    else if (this.dialogB && !this.inDialog.byeFrom.b) {
      this.ctx.stack.request(this.dialogB.request('BYE'), this.dialogB.destination(), () => undefined, this.dialogB.flow);
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
      this.emitRecord(reason, report);
    }
    this.ctx.ended(this);
  }

  private annotate(key: string, value: CallRecordValue): void {
    if (typeof key !== 'string' || !['string', 'number', 'boolean'].includes(typeof value)) {
      this.log.warn({ key, type: typeof value }, 'IncomingCall.annotate(): the key must be a string and the value a string, number or boolean; ignored');
      return;
    }
    this.decision.set(key, value);
  }

  /** hooks.callRecord, whose taps are isolated (core/cdr/isolated-taps.ts); the try is for a bug of ours. */
  private emitRecord(reason: string, media: Record<string, unknown> | undefined): void {
    const a = this.inviteA;
    const b = this.legB?.request;
    try {
      this.ctx.hooks.callRecord.call(buildCallRecord({
        id: this.id,
        legA: { callId: a.callId, from: a.from.uri, to: a.to.uri },
        legB: b ? { callId: this.callIdB, from: b.from.uri, to: b.to.uri, requestUri: b.uri } : undefined,
        startedAt: this.startedAt, answeredAt: this.answeredAt, endedAt: Date.now(),
        reason, refusedByCallee: this.refusedByCallee, decision: this.decision, media,
      }));
    } catch (e) {
      this.log.error({ err: (e as Error)?.stack ?? String(e) }, 'call detail record failed');
    }
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

}
