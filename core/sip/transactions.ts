/**
 * Transactions (RFC 3261 §17, with RFC 6026's accepted state for INVITE 2xx): retransmissions
 * over UDP, timeouts, ACK of non-2xx, CANCEL. Timers go through the host's counted Timers.
 */
import { errorReason } from '../errors/index.js';
import { makeResponse, reasonPhrase, SipRequest, type SipResponse } from './message.js';
import type { Target } from './resolve.js';
import type { TimerHandle, Timers } from './timers.js';
import type { HostPort, Transport } from './transport.js';

const T1 = 500;
const T2 = 4000;
const TIMEOUT_64T1 = 64 * T1;
/** How long a completed transaction absorbs retransmissions (shorter than 64*T1 so counters settle fast). */
const LINGER_UDP_MS = 4000;

export type ResponseHandler = (res: SipResponse) => void;

/** What transactions need from the stack that owns them. */
export interface TransactionHost {
  readonly timers: Timers;
  readonly log: { error(obj: object, msg?: string): void };
  decorateResponse(res: SipResponse, transport?: Transport): void;
  awaitAck(tx: ServerTransaction): void;
  forgetServer(key: string, tx: ServerTransaction): void;
  forgetClient(key: string, tx: ClientTransaction): void;
  sendOnTransaction(req: SipRequest, transport: Transport, target: Target, onResponse: ResponseHandler): ClientTransaction;
  /** A request or response sent again (timer, or answer to a retransmitted request), for /metrics. */
  retransmitted(): void;
}

/** What server and client transactions share: the request, the two timers, and termination. */
abstract class Transaction {
  protected retransmit: TimerHandle | undefined;
  protected timeout: TimerHandle | undefined;
  protected done = false;

  constructor(protected readonly stack: TransactionHost, readonly request: SipRequest) {}

  get isInvite(): boolean { return this.request.method === 'INVITE'; }

  terminate(): void {
    if (this.done) return;
    this.done = true;
    this.retransmit?.cancel();
    this.timeout?.cancel();
    this.forget();
  }

  /** Remove the transaction from the stack's table. */
  protected abstract forget(): void;
}

export class ServerTransaction extends Transaction {
  private finalSent: SipResponse | undefined;
  private lastSent: SipResponse | undefined;
  /** Set by the TU for INVITE: CANCEL received (the stack already answered the CANCEL 200). */
  onCancel: (() => void) | undefined;
  /** INVITE 2xx never ACKed within 64*T1. */
  onAckTimeout: (() => void) | undefined;
  cancelled = false;

  constructor(
    stack: TransactionHost,
    request: SipRequest,
    readonly source: HostPort,
    readonly transport: Transport,
    private readonly key: string,
  ) {
    super(stack, request);
  }
  get final(): SipResponse | undefined { return this.finalSent; }
  get reliable(): boolean { return this.transport.protocol !== 'udp'; }

  /** Build a response to the request (To tag added when given). */
  response(status: number, reason = reasonPhrase(status), toTag?: string): SipResponse {
    const res = makeResponse(this.request, status, reason, toTag);
    // RFC 3261 §12.1.1: a response that creates a dialog carries the request's Record-Route.
    if (status > 100 && status < 300 && !this.request.toTag) for (const rr of this.request.getAll('record-route')) res.add('record-route', rr);
    return res;
  }

  send(res: SipResponse): void {
    if (this.finalSent || this.done) return;
    this.stack.decorateResponse(res, this.transport);
    this.lastSent = res;
    void this.transport.send(this.source, res.toBuffer(), res).catch(() => undefined);
    if (res.status < 200) return;
    this.finalSent = res;
    if (!this.isInvite) {
      this.linger(this.reliable ? 0 : LINGER_UDP_MS);
      return;
    }
    // INVITE final: retransmit until ACK (2xx: the stack matches the ACK by Call-ID + CSeq).
    if (res.status < 300 || !this.reliable) {
      let interval = T1;
      const again = (): void => {
        this.stack.retransmitted();
        void this.transport.send(this.source, res.toBuffer(), res).catch(() => undefined);
        interval = Math.min(interval * 2, T2);
        this.retransmit = this.stack.timers.after(interval, again);
      };
      if (!this.reliable) this.retransmit = this.stack.timers.after(interval, again);
    }
    this.timeout = this.stack.timers.after(TIMEOUT_64T1, () => {
      if (res.status < 300) this.onAckTimeout?.();
      this.terminate();
    });
    if (res.status < 300) this.stack.awaitAck(this);
  }

  /** Retransmitted request: resend our last response. */
  retransmission(): void {
    if (!this.lastSent) return;
    this.stack.retransmitted();
    void this.transport.send(this.source, this.lastSent.toBuffer(), this.lastSent).catch(() => undefined);
  }

  ackReceived(): void {
    this.retransmit?.cancel();
    this.retransmit = undefined;
    this.timeout?.cancel();
    this.timeout = undefined;
    if (this.finalSent && this.finalSent.status >= 300) this.linger(this.reliable ? 0 : LINGER_UDP_MS);
    else this.terminate();
  }

  private linger(ms: number): void {
    this.retransmit?.cancel();
    this.timeout?.cancel();
    if (ms === 0) this.terminate();
    else this.timeout = this.stack.timers.after(ms, () => this.terminate());
  }

  protected forget(): void {
    this.stack.forgetServer(this.key, this);
  }
}

export class ClientTransaction extends Transaction {
  private provisional = false;
  private final: SipResponse | undefined;
  private cancelWanted = false;
  private cancelSent = false;
  private ackFor: SipRequest | undefined;
  target: Target | undefined;
  transport: Transport | undefined;

  constructor(
    stack: TransactionHost,
    request: SipRequest,
    private readonly onResponse: ResponseHandler,
    readonly key: string,
  ) {
    super(stack, request);
  }
  get reliable(): boolean { return this.transport?.protocol !== 'udp'; }
  get branch(): string { return this.request.branch; }

  start(transport: Transport, target: Target): void {
    this.transport = transport;
    this.target = target;
    const bytes = this.request.toBuffer();
    const send = (): void => {
      transport.send(target, bytes, this.request).catch((e: unknown) => this.fail(503, `Service Unavailable (${errorReason(e)})`));
    };
    send();
    if (!this.reliable) {
      let interval = T1;
      const again = (): void => {
        if (this.done || (this.isInvite && this.provisional)) return;
        this.stack.retransmitted();
        send();
        interval = this.isInvite ? interval * 2 : Math.min(interval * 2, T2);
        this.retransmit = this.stack.timers.after(interval, again);
      };
      this.retransmit = this.stack.timers.after(interval, again);
    }
    this.timeout = this.stack.timers.after(TIMEOUT_64T1, () => this.fail(408, 'Request Timeout'));
  }

  /** Synthesise a final response locally (timeout, transport error). */
  fail(status: number, reason: string): void {
    if (this.done || this.final) return;
    const res = makeResponse(this.request, status, reason);
    this.final = res;
    this.terminate();
    this.safeDeliver(res);
  }

  receive(res: SipResponse): void {
    if (this.done && !(this.isInvite && res.status >= 200 && res.status < 300)) return;
    if (res.status < 200) {
      if (this.final) return;
      this.provisional = true;
      this.retransmit?.cancel();
      if (this.isInvite) {
        // Timer C-like bound is the TU's job (ringing timeout); Timer B no longer applies.
        this.timeout?.cancel();
        this.timeout = undefined;
      }
      if (this.cancelWanted && !this.cancelSent) this.sendCancel();
      this.safeDeliver(res);
      return;
    }
    if (!this.isInvite) {
      if (this.final) return;
      this.final = res;
      this.terminate();
      this.safeDeliver(res);
      return;
    }
    if (res.status >= 300) {
      this.sendNon2xxAck(res);
      if (this.final) return;
      this.final = res;
      this.retransmit?.cancel();
      this.timeout?.cancel();
      if (this.reliable) this.terminate();
      else this.timeout = this.stack.timers.after(LINGER_UDP_MS, () => this.terminate());
      this.safeDeliver(res);
      return;
    }
    // 2xx (possibly several, from forks): each goes to the TU, which ACKs it in its dialog.
    if (!this.final) {
      this.final = res;
      this.retransmit?.cancel();
      this.timeout?.cancel();
      this.timeout = this.stack.timers.after(LINGER_UDP_MS, () => this.terminate());
    }
    this.safeDeliver(res);
  }

  /** CANCEL this INVITE (sent once a provisional response arrived, RFC 3261 §9.1). */
  cancel(): void {
    if (!this.isInvite || this.final || this.cancelWanted) return;
    this.cancelWanted = true;
    if (this.provisional) this.sendCancel();
  }

  get hasFinal(): boolean { return this.final !== undefined; }

  private sendCancel(): void {
    if (this.cancelSent || !this.transport || !this.target) return;
    this.cancelSent = true;
    const c = new SipRequest('CANCEL', this.request.uri);
    for (const name of ['via', 'from', 'to', 'call-id', 'route', 'max-forwards']) {
      if (name === 'via') { c.add('via', this.request.getAll('via')[0]!); continue; }
      for (const v of this.request.getAll(name)) c.add(name, v);
    }
    c.set('cseq', `${this.request.cseq.seq} CANCEL`);
    this.stack.sendOnTransaction(c, this.transport, this.target, () => undefined);
  }

  private sendNon2xxAck(res: SipResponse): void {
    if (!this.transport || !this.target) return;
    if (!this.ackFor) {
      const ack = new SipRequest('ACK', this.request.uri);
      ack.add('via', this.request.getAll('via')[0]!);
      for (const name of ['route', 'from', 'call-id', 'max-forwards']) for (const v of this.request.getAll(name)) ack.add(name, v);
      ack.set('to', res.get('to') ?? '');
      ack.set('cseq', `${this.request.cseq.seq} ACK`);
      this.ackFor = ack;
    }
    void this.transport.send(this.target, this.ackFor.toBuffer(), this.ackFor).catch(() => undefined);
  }

  private safeDeliver(res: SipResponse): void {
    try {
      this.onResponse(res);
    } catch (e) {
      this.stack.log.error({ err: (e as Error).stack, method: this.request.method }, 'response handler threw');
    }
  }

  protected forget(): void {
    this.stack.forgetClient(this.key, this);
  }
}
