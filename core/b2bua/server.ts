/**
 * The back-to-back server: owns the SIP stack, answers out-of-dialog requests (OPTIONS),
 * creates a Call per incoming INVITE and routes in-dialog requests to their call.
 */
import { isolateTaps } from '../cdr/isolated-taps.js';
import { b2buaError } from '../errors/index.js';
import type { PluginSipApi } from '../plugin-api/index.js';
import type { Logger, LegId } from '../vocabulary/index.js';
import { Dialog } from '../sip/dialog.js';
import { randomToken, type SipRequest, type SipResponse } from '../sip/message.js';
import { SipStack, type Flow, type ServerTransaction } from '../sip/stack.js';
import type { Transport } from '../sip/transport.js';
import { Admission } from './admission.js';
import { Call } from './call.js';
import { callResult, type CallEnded } from './call-results.js';
import type { CallContext } from './call-context.js';
import { errorHeaders, errorResponse } from './error-response.js';
import { boundUri, loadTls, parseListenUris } from './listen.js';
import { loopVerdict } from './loop.js';
import { ALLOW, methodRefusal } from './method-refusal.js';
import { createPluginSipApi } from './sip-api.js';
import { Subscriptions } from './subscriptions.js';
import type { B2buaServer, B2buaServerOptions, ServerCounters } from './types.js';

export { ALLOW, methodRefusal };
export const ACCEPT = 'application/sdp, application/dtmf-relay, application/dtmf, message/sipfrag';
export const SUPPORTED = 'timer, replaces';

export function userAgentOf(template: string, version: string): string {
  return (template || 'Flexisip-B2BUA/{version}').replace(/\{version\}/g, version);
}

export class B2buaServerImpl implements B2buaServer {
  readonly stack: SipStack;
  readonly sip: PluginSipApi;
  readonly log: Logger;
  readonly userAgent: string;
  private transport: Transport | undefined;
  private accepting = true;
  private callsTotal = 0;
  private readonly callEndedListeners: ((ended: CallEnded) => void)[] = [];
  /** Our own leg B INVITEs that came back from the proxy, answered 482 (core/b2bua/loop.ts). */
  private loopsDetected = 0;
  /** 2xx to INVITE matching no transaction nor leg of ours (onStray2xx). */
  private strayResponsesDropped = 0;
  private readonly live = new Set<Call>();
  /** `${Call-ID}|${our tag}` → call and leg, for in-dialog requests. */
  private readonly legs = new Map<string, { call: Call; leg: LegId }>();
  private readonly callContext: CallContext<Call>;
  /** Bridged subscriptions (SUBSCRIBE / NOTIFY, core/b2bua/subscriptions.ts) and the plugins' own. */
  private readonly subscriptions: Subscriptions;
  private idle: (() => void) | undefined;
  private readonly admission: Admission;

  constructor(readonly options: B2buaServerOptions) {
    this.log = options.log;
    this.userAgent = userAgentOf(options.config.userAgent, options.version);
    isolateTaps(options.hooks.callRecord, this.log, 'callRecord');
    this.stack = new SipStack(this.log.child({ component: 'sip' }), this.userAgent);
    const { mediaMaxPendingSetups, mediaMaxSetupLatency, mediaMaxSessionsPerWorker } = options.config;
    this.admission = new Admission(options.media, {
      maxPendingSetups: mediaMaxPendingSetups, maxSetupLatencyMs: mediaMaxSetupLatency, maxSessionsPerWorker: mediaMaxSessionsPerWorker,
    }, this.log);
    this.stack.keepalive = options.config.enableKeepalive !== false;
    this.stack.streamLimits = {
      maxConnections: options.config.maxConnections, maxConnectionsPerAddress: options.config.maxConnectionsPerAddress,
      headerTimeoutMs: (options.config.sipHeaderTimeout ?? 0) * 1000, idleTimeoutMs: options.config.sipIdleTimeout * 1000,
    };
    this.subscriptions = new Subscriptions({
      stack: this.stack, hooks: options.hooks, log: this.log, contact: () => this.contact(), accepting: () => this.accepting,
    });
    this.sip = createPluginSipApi(this.stack, () => this.contact(), (o) => this.subscriptions.subscribe(o));
    this.callContext = {
      stack: this.stack,
      hooks: options.hooks,
      media: options.media,
      config: options.config,
      log: this.log,
      contact: () => this.contact(),
      capabilities: (res) => this.withCapabilities(res),
      register: (call, leg, callId, tag) => { this.legs.set(`${callId}|${tag}`, { call, leg }); },
      unregister: (call) => {
        for (const [k, v] of this.legs) if (v.call === call) this.legs.delete(k);
      },
      findByDialog: (callId, localTag, remoteTag) => {
        const found = this.legs.get(`${callId}|${localTag}`);
        const d = found?.call.dialogOf(found.leg);
        return found && d && d.remoteTag === remoteTag ? found : undefined;
      },
      ended: (call) => {
        // Once per call: a call that ended during start() (refused by a hook) is also seen by onNewInvite's finally.
        if (!this.live.delete(call)) return;
        const ended: CallEnded = { result: callResult(call.endReason, call.answeredAt > 0), setupMs: call.answeredAt ? call.answeredAt - call.startedAt : undefined };
        for (const listener of this.callEndedListeners) listener(ended);
        if (this.live.size === 0) this.idle?.();
      },
    };
  }

  contact(): string {
    if (!this.transport) throw b2buaError('B2BUA_INTERNAL', { bug: 'the SIP transport is not open yet (call start() first)' });
    return this.stack.contactFor(this.transport).replace(/^<|>$/g, '');
  }

  async start(): Promise<{ readonly transports: readonly string[] }> {
    const specs = parseListenUris(this.options.config.transport);
    if (specs.some((spec) => spec.protocol === 'tls')) {
      this.stack.tlsFiles = await loadTls(this.options.tls, this.options.config);
    }
    const uris: string[] = [];
    try {
      for (const spec of specs) {
        // Port 0 with UDP + TCP: the kernel's UDP port may be taken on TCP; try a few.
        for (let attempt = 1; ; attempt++) {
          const t = await this.stack.listen(spec.protocol, spec.host, spec.port);
          this.transport ??= t;
          if (!spec.alsoTcp) { uris.push(boundUri(spec, t.local.port)); break; }
          try {
            await this.stack.listen('tcp', spec.host, t.local.port);
            uris.push(boundUri(spec, t.local.port), boundUri(spec, t.local.port, 'tcp'));
            break;
          } catch (e) {
            await this.stack.unlisten(t);
            if (this.transport === t) this.transport = undefined;
            if (spec.port !== 0 || attempt >= 10) throw e;
          }
        }
      }
    } catch (e) {
      await this.stack.close();
      const { transport } = this.options.config;
      throw b2buaError('B2BUA_TRANSPORT_FAILED',
        { what: 'listen', address: transport, why: (e as Error).message, setting: '[b2bua-server] transport (port 0 = any free port)' }, { cause: e });
    }
    this.stack.onRequest = (req, tx) => this.onRequest(req, tx);
    this.stack.onAck = (ack) => this.legs.get(`${ack.callId}|${ack.toTag ?? ''}`)?.call.onAck(this.legs.get(`${ack.callId}|${ack.toTag ?? ''}`)!.leg, ack);
    this.stack.onStrayInvite2xx = (res, flow) => this.onStray2xx(res, flow);
    this.log.info({ transports: uris, userAgent: this.userAgent }, 'SIP transports listening');
    return { transports: uris };
  }

  private onRequest(req: SipRequest, tx: ServerTransaction): void {
    switch (req.method) {
      case 'OPTIONS':
        tx.send(this.withCapabilities(tx.response(200, 'OK', req.toTag ? undefined : randomToken(8))));
        return;
      case 'INVITE':
        if (!req.toTag) { this.onNewInvite(req, tx); return; }
        break;
      case 'CANCEL':
        return;
      case 'SUBSCRIBE':
        if (!req.toTag) { this.subscriptions.onSubscribe(req, tx); return; }
        break;
      default:
        if (!req.toTag) {
          // A NOTIFY outside any subscription of ours (RFC 6665 §4.1.3): 481.
          tx.send(this.withCapabilities(tx.response(req.method === 'BYE' || req.method === 'NOTIFY' ? 481 : methodRefusal(req.method))));
          return;
        }
    }
    const found = this.legs.get(`${req.callId}|${req.toTag}`);
    if (!found && this.subscriptions.inDialog(req, tx)) return;
    if (!found) { tx.send(tx.response(481)); return; }
    found.call.onRequest(found.leg, req, tx);
  }

  private onNewInvite(req: SipRequest, tx: ServerTransaction): void {
    if (!this.accepting) { tx.send(tx.response(503, 'Service Unavailable (shutting down)')); return; }
    if (this.refusedAsLoop(req, tx)) return;
    const unsupported = req.getAll('require').filter((t) => !SUPPORTED.split(', ').includes(t.toLowerCase()));
    if (unsupported.length > 0) {
      const res = tx.response(420, 'Bad Extension', randomToken(8));
      res.set('unsupported', unsupported.join(', '));
      tx.send(res);
      return;
    }
    if (req.get('max-forwards')?.trim() === '0') { tx.send(tx.response(483, 'Too Many Hops', randomToken(8))); return; }
    const max = this.options.config.maxCalls;
    if (max > 0 && this.live.size >= max) {
      this.log.warn({ maxCalls: max, callIdA: req.callId }, 'max-calls reached: 486');
      tx.send(tx.response(486, 'Busy Here (max-calls reached)', randomToken(8)));
      return;
    }
    const overloaded = this.admission.check();
    if (overloaded) {
      const [status, phrase] = errorResponse(overloaded)!;
      const res = tx.response(status, phrase, randomToken(8));
      for (const [name, value] of errorHeaders(overloaded, this.contact())) res.set(name, value);
      tx.send(res);
      return;
    }
    this.callsTotal++;
    const call = new Call(this.callContext, req, tx, this.callsTotal);
    this.live.add(call);
    call.log.info({ from: req.from.uri, to: req.to.uri, source: tx.source }, 'incoming call');
    void call.start().finally(() => { if (call.ended && !this.legs.has(`${req.callId}|${call.tagA}`)) this.callContext.ended(call); });
  }

  /** Our own leg B come back from the proxy (Call-ID and From tag of a live leg B) → 482; see core/b2bua/loop.ts. */
  private refusedAsLoop(req: SipRequest, tx: ServerTransaction): boolean {
    const verdict = loopVerdict(req, (callId, fromTag) => {
      const found = this.legs.get(`${callId}|${fromTag}`);
      return found?.leg === 'b' ? found.call.id : undefined;
    }, this.userAgent);
    if (!verdict.loop) {
      if (verdict.marker) {
        this.log.info({ callIdA: req.callId, ourUserAgent: verdict.ourUserAgent, userAgent: req.get('user-agent') },
          'INVITE carries X-Flexisip-B2BUA but is none of our leg B INVITEs: a new call');
      }
      return false;
    }
    this.loopsDetected++;
    const e = b2buaError('B2BUA_SIP_LOOP', { call: verdict.call, userAgent: this.userAgent });
    const [status, phrase] = errorResponse(e)!;
    this.log.warn({ code: e.code, call: verdict.call, callIdB: req.callId, source: tx.source, userAgent: req.get('user-agent'), status }, e.reason);
    tx.send(tx.response(status, phrase, randomToken(8)));
    return true;
  }

  /**
   * A 2xx whose INVITE transaction is gone: re-ACK our dialog; a late fork of one of our leg B INVITEs
   * (our Call-ID and From tag, another To tag) gets ACK + BYE once, back to where it came from; anything
   * else is dropped and counted: an unsolicited 2xx must not make us send to (or resolve) its Contact.
   */
  private onStray2xx(res: SipResponse, flow: Flow): void {
    const found = this.legs.get(`${res.callId}|${res.fromTag ?? ''}`);
    const d = found?.call.dialogOf(found.leg);
    if (d && d.remoteTag === (res.toTag ?? '')) {
      void this.stack.sendAck(d.ack(res.cseq.seq), d.destination());
      return;
    }
    if (found?.leg !== 'b' || !res.toTag) {
      this.strayResponsesDropped++;
      this.log.info({ source: flow.remote, callId: res.callId }, 'unsolicited 2xx to INVITE (no call of ours) dropped');
      return;
    }
    const dialog = Dialog.fromStray2xx(res, `<${this.contact()}>`);
    this.stack.sendOnce(dialog.ack(res.cseq.seq), flow);
    this.stack.sendOnce(dialog.request('BYE'), flow);
  }

  withCapabilities<T extends { set(name: string, value: string): unknown }>(res: T): T {
    res.set('allow', ALLOW);
    res.set('accept', ACCEPT);
    res.set('supported', SUPPORTED);
    return res;
  }

  stopAccepting(): void {
    this.accepting = false;
  }

  async drain(timeoutMs: number): Promise<void> {
    // Bridged subscriptions too, while the plugins' account transports are still open (bounded like the calls).
    const subscriptions = this.subscriptions.endBridged();
    if (this.live.size === 0) {
      await withinMs(subscriptions, Math.min(timeoutMs, 2000));
      return;
    }
    const allGone = new Promise<void>((resolve) => { this.idle = resolve; });
    for (const call of [...this.live]) void call.end('shutdown', [503, 'Service Unavailable (shutting down)']);
    await withinMs(allGone, timeoutMs);
    // Let the BYE / CANCEL transactions get their answers (bounded by the same budget).
    const deadline = Date.now() + Math.min(timeoutMs, 2000);
    while (this.stack.counters().transactions > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await withinMs(subscriptions, Math.max(0, deadline - Date.now()));
  }

  /** Ends the call of this id (ours, or leg A's / leg B's Call-ID) as shutdown does: BYE or CANCEL on both legs. False: no such call. */
  hangUp(id: string): boolean {
    const call = [...this.live].find((c) => c.id === id || c.inviteA.callId === id || c.callIdB === id);
    if (!call) return false;
    call.log.info({}, 'hung up by the operator (b2bua-cli hangup)');
    void call.end('operator-hangup', [480, 'Temporarily Unavailable (hung up by the operator)']);
    return true;
  }

  async close(): Promise<void> {
    this.accepting = false;
    const ends: Promise<unknown>[] = [...this.live].map((call) => call.end('shutdown', [503, 'Service Unavailable (shutting down)']));
    ends.push(this.subscriptions.close());
    await withinMs(Promise.allSettled(ends), 1000);
    await this.stack.close();
  }

  counters(): ServerCounters {
    const sip = this.stack.counters();
    const media = this.options.media.counters();
    return {
      calls: this.live.size,
      dialogs: [...this.live].reduce((n, c) => n + (c.dialogA ? 1 : 0) + (c.dialogB ? 1 : 0), 0),
      transactions: sip.transactions,
      timers: sip.timers,
      mediaSessions: media.sessions,
      mediaPorts: media.portsInUse,
      callsTotal: this.callsTotal,
      loopsDetected: this.loopsDetected,
      mediaOverloadRefused: this.admission.refused,
      strayResponsesDropped: this.strayResponsesDropped,
      dtlsFailures: media.dtlsFailures ?? 0,
      zrtpFailures: media.zrtpFailures ?? 0,
      ...this.subscriptions.counters(),
      sipConnections: this.stack.streamStats(),
    };
  }

  onCallEnded(listener: (ended: CallEnded) => void): void {
    this.callEndedListeners.push(listener);
  }

  calls(): readonly Record<string, unknown>[] {
    return [...this.live].map((c) => c.summary());
  }

  callsWithMedia(): Promise<readonly Record<string, unknown>[]> {
    return Promise.all([...this.live].map((c) => c.details()));
  }
}

/** Waits for `p` at most `ms`. */
async function withinMs(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise((r) => { timer = setTimeout(r, ms); })]);
  clearTimeout(timer);
}
