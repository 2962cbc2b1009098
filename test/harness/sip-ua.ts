/**
 * A minimal SIP user agent over UDP for e2e tests (UAC and UAS on one socket): INVITE / re-INVITE /
 * ACK / BYE with retransmissions (RFC 3261 timers A/E/G, capped), written independently of core/sip so
 * that it checks the server instead of agreeing with it. One instance may carry many dialogs (load tests).
 */
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';

export interface SipMessage {
  readonly firstLine: string;
  readonly method?: string | undefined;
  readonly status?: number | undefined;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: string;
}

const COMPACT: Record<string, string> = { v: 'via', f: 'from', t: 'to', i: 'call-id', m: 'contact', l: 'content-length', c: 'content-type' };

export function parseSip(buf: Buffer): SipMessage | undefined {
  const text = buf.toString('utf8');
  const split = text.indexOf('\r\n\r\n');
  if (split < 0) return undefined;
  const lines = text.slice(0, split).split('\r\n');
  const firstLine = lines[0]!;
  const headers: [string, string][] = [];
  for (const line of lines.slice(1)) {
    if (/^[ \t]/.test(line) && headers.length > 0) {
      headers[headers.length - 1]![1] += ` ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    headers.push([COMPACT[name] ?? name, line.slice(colon + 1).trim()]);
  }
  const status = /^SIP\/2\.0 (\d{3})/.exec(firstLine);
  const method = status ? undefined : firstLine.split(' ')[0];
  return { firstLine, method, status: status ? Number(status[1]) : undefined, headers, body: text.slice(split + 4) };
}

export function header(m: SipMessage, name: string): string | undefined {
  return m.headers.find(([n]) => n === name.toLowerCase())?.[1];
}

export function headersNamed(m: SipMessage, name: string): string[] {
  return m.headers.filter(([n]) => n === name.toLowerCase()).map(([, v]) => v);
}

const tagOf = (nameAddr: string): string | undefined => /;\s*tag=([^;>\s]+)/i.exec(nameAddr)?.[1];
const uriOf = (nameAddr: string): string => /<([^>]+)>/.exec(nameAddr)?.[1] ?? nameAddr.split(';')[0]!.trim();
const branchOf = (via: string): string => /;\s*branch=([^;\s]+)/i.exec(via)?.[1] ?? '';
const cseqOf = (m: SipMessage): { num: number; method: string } => {
  const [num, method] = (header(m, 'cseq') ?? '0 X').split(/\s+/);
  return { num: Number(num), method: method ?? '' };
};

function hostPortOf(uri: string): { host: string; port: number } {
  const m = /^sips?:(?:[^@]+@)?([^:;>]+)(?::(\d+))?/.exec(uri);
  if (!m) throw new Error(`sip-ua: cannot route to "${uri}"`);
  return { host: m[1]!, port: m[2] ? Number(m[2]) : 5060 };
}

const token = (): string => randomBytes(6).toString('hex');

function serialize(firstLine: string, headers: readonly (readonly [string, string])[], body = ''): Buffer {
  const all = [...headers.filter(([n]) => n.toLowerCase() !== 'content-length'), ['Content-Length', String(Buffer.byteLength(body))] as const];
  return Buffer.from(`${firstLine}\r\n${all.map(([n, v]) => `${n}: ${v}`).join('\r\n')}\r\n\r\n${body}`);
}

export class SipError extends Error {
  constructor(readonly status: number, readonly response: SipMessage) {
    super(`SIP ${response.firstLine}`);
  }
}

export interface InviteHandlerResult {
  readonly status: number;
  readonly sdp?: string | undefined;
}

/** What the UAS side answers to an initial INVITE or a re-INVITE. */
export type InviteHandler = (request: SipMessage, dialog: Dialog) => InviteHandlerResult | Promise<InviteHandlerResult>;

interface ClientTx {
  readonly branch: string;
  readonly method: string;
  resolve(final: SipMessage): void;
  reject(e: Error): void;
  onProvisional?: ((m: SipMessage) => void) | undefined;
  timer?: NodeJS.Timeout | undefined;
  deadline?: NodeJS.Timeout | undefined;
}

interface ServerInviteTx {
  response: Buffer;
  to: { host: string; port: number };
  timer?: NodeJS.Timeout | undefined;
  acked: boolean;
}

export class Dialog {
  localCseq = 1;
  remoteTarget: string;
  remoteTag: string | undefined;
  /** Remote SDP from the last offer or answer received. */
  remoteSdp = '';
  /** Set when the peer sent BYE or we did. */
  ended = false;
  endedBy: 'local' | 'remote' | undefined;
  private readonly endWaiters: (() => void)[] = [];
  /** Called for every re-INVITE received in this dialog (default: answer 200 with `localSdp`). */
  onReinvite: InviteHandler | undefined;
  localSdp = '';
  /** The ACK of our last 2xx-answered INVITE, re-sent when the 2xx is retransmitted. */
  lastAck: { cseq: number; buf: Buffer } | undefined;

  constructor(
    readonly ua: SipUa,
    readonly callId: string,
    readonly localTag: string,
    readonly localUri: string,
    readonly remoteUri: string,
    remoteTarget: string,
    readonly isCaller: boolean,
  ) {
    this.remoteTarget = remoteTarget;
  }

  get from(): string {
    return `<${this.localUri}>;tag=${this.localTag}`;
  }

  get to(): string {
    return `<${this.remoteUri}>${this.remoteTag ? `;tag=${this.remoteTag}` : ''}`;
  }

  markEnded(by: 'local' | 'remote'): void {
    if (this.ended) return;
    this.ended = true;
    this.endedBy = by;
    this.ua.forget(this);
    for (const w of this.endWaiters.splice(0)) w();
  }

  private readonly ackWaiters: (() => void)[] = [];
  private acked = false;

  /** Run `cb` once the ACK of our 2xx to the initial INVITE arrived (callee side), i.e. the call is confirmed. */
  onAck(cb: () => void): void {
    if (this.acked) cb();
    else this.ackWaiters.push(cb);
  }

  markAcked(): void {
    if (this.acked) return;
    this.acked = true;
    for (const w of this.ackWaiters.splice(0)) w();
  }

  /** Run `cb` when the dialog ends (BYE either way). */
  onEnd(cb: () => void): void {
    if (this.ended) cb();
    else this.endWaiters.push(cb);
  }

  /** Resolves when the dialog ends (BYE either way); rejects after `timeoutMs`. */
  waitEnded(timeoutMs: number): Promise<void> {
    if (this.ended) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`sip-ua: dialog ${this.callId} not ended within ${timeoutMs} ms`)), timeoutMs);
      this.endWaiters.push(() => (clearTimeout(t), resolve()));
    });
  }

  /** Send a re-INVITE with `sdp`; resolves with the 2xx (ACK sent). */
  async reinvite(sdp: string): Promise<SipMessage> {
    this.localSdp = sdp;
    const res = await this.ua.request(this, 'INVITE', sdp);
    this.remoteSdp = res.body;
    return res;
  }

  async bye(): Promise<SipMessage> {
    const res = await this.ua.request(this, 'BYE');
    this.markEnded('local');
    return res;
  }
}

export interface SipUaOptions {
  readonly port?: number;
  readonly user?: string;
  /** How long an unanswered request is retransmitted before failing (default 16 s). */
  readonly transactionTimeoutMs?: number;
}

export class SipUa {
  readonly user: string;
  private readonly clientTxs = new Map<string, ClientTx>();
  private readonly serverInvites = new Map<string, ServerInviteTx>();
  private readonly dialogs = new Map<string, Dialog>();
  private readonly incoming: Dialog[] = [];
  private readonly incomingWaiters: ((d: Dialog) => void)[] = [];
  onInvite: InviteHandler = () => ({ status: 480 });
  /** Every message received, newest last (bounded), for assertions and failure reports. */
  readonly received: SipMessage[] = [];
  private closed = false;

  private constructor(private readonly socket: dgram.Socket, readonly port: number, readonly o: SipUaOptions) {
    this.user = o.user ?? 'ua';
    socket.on('message', (buf, rinfo) => {
      const m = parseSip(buf);
      if (!m) return;
      if (this.received.length < 2000) this.received.push(m);
      void this.dispatch(m, { host: rinfo.address, port: rinfo.port }).catch(() => undefined);
    });
  }

  static async open(o: SipUaOptions = {}): Promise<SipUa> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(o.port ?? 0, '127.0.0.1', () => resolve());
    });
    socket.on('error', () => undefined);
    return new SipUa(socket, socket.address().port, o);
  }

  get uri(): string {
    return `sip:${this.user}@127.0.0.1:${this.port}`;
  }

  private send(buf: Buffer, to: { host: string; port: number }): void {
    if (!this.closed) this.socket.send(buf, to.port, to.host);
  }

  forget(d: Dialog): void {
    this.dialogs.delete(d.callId);
  }

  /** The next dialog created by an incoming INVITE we answered 2xx. */
  nextIncoming(timeoutMs: number): Promise<Dialog> {
    const d = this.incoming.shift();
    if (d) return Promise.resolve(d);
    return new Promise((resolve, reject) => {
      const waiter = (x: Dialog): void => (clearTimeout(t), resolve(x));
      const t = setTimeout(() => {
        this.incomingWaiters.splice(this.incomingWaiters.indexOf(waiter), 1);
        reject(new Error(`sip-ua ${this.user}: no incoming call within ${timeoutMs} ms`));
      }, timeoutMs);
      this.incomingWaiters.push(waiter);
    });
  }

  private via(branch: string): string {
    return `SIP/2.0/UDP 127.0.0.1:${this.port};branch=${branch};rport`;
  }

  /** New dialog as caller: INVITE `requestUri`, resolves once 2xx arrived and ACK was sent; rejects with SipError on >= 300. */
  async invite(requestUri: string, sdp: string, o: { toUri?: string; onProvisional?: (m: SipMessage) => void } = {}): Promise<Dialog> {
    const d = new Dialog(this, `${token()}@127.0.0.1`, token(), this.uri, o.toUri ?? requestUri, requestUri, true);
    d.localSdp = sdp;
    this.dialogs.set(d.callId, d);
    try {
      const res = await this.request(d, 'INVITE', sdp, o.onProvisional);
      d.remoteSdp = res.body;
      return d;
    } catch (e) {
      this.dialogs.delete(d.callId);
      throw e;
    }
  }

  /** Send a request in (or creating) dialog `d`; INVITE 2xx is ACKed here, non-2xx finals reject with SipError. */
  request(d: Dialog, method: 'INVITE' | 'BYE', body = '', onProvisional?: (m: SipMessage) => void): Promise<SipMessage> {
    const branch = `z9hG4bK${token()}`;
    const cseq = d.localCseq++;
    const headers: [string, string][] = [
      ['Via', this.via(branch)],
      ['Max-Forwards', '70'],
      ['From', d.from],
      ['To', d.to],
      ['Call-ID', d.callId],
      ['CSeq', `${cseq} ${method}`],
      ['Contact', `<${this.uri}>`],
      ['User-Agent', 'b2bua-e2e-sip-ua'],
    ];
    if (body) headers.push(['Content-Type', 'application/sdp']);
    const buf = serialize(`${method} ${d.remoteTarget} SIP/2.0`, headers, body);
    const to = hostPortOf(d.remoteTarget);
    return new Promise<SipMessage>((resolve, reject) => {
      const tx: ClientTx = {
        branch, method, onProvisional,
        resolve: (final) => {
          this.finishClientTx(tx);
          const status = final.status!;
          if (method === 'INVITE') this.ackFor(d, final, cseq, branch, to);
          if (status >= 300) reject(new SipError(status, final));
          else resolve(final);
        },
        reject: (e) => (this.finishClientTx(tx), reject(e)),
      };
      this.clientTxs.set(branch, tx);
      let interval = 500;
      const retransmit = (): void => {
        this.send(buf, to);
        tx.timer = setTimeout(retransmit, (interval = Math.min(interval * 2, 4000)));
      };
      retransmit();
      tx.deadline = setTimeout(() => tx.reject(new Error(`sip-ua: ${method} to ${d.remoteTarget}: no final answer within the transaction timeout`)),
        this.o.transactionTimeoutMs ?? 16000);
    });
  }

  private finishClientTx(tx: ClientTx): void {
    clearTimeout(tx.timer);
    clearTimeout(tx.deadline);
    this.clientTxs.delete(tx.branch);
  }

  private ackFor(d: Dialog, final: SipMessage, cseq: number, inviteBranch: string, to: { host: string; port: number }): void {
    const status = final.status!;
    const toHeader = header(final, 'to') ?? d.to;
    if (status < 300) {
      d.remoteTag = tagOf(toHeader) ?? d.remoteTag;
      const contact = header(final, 'contact');
      if (contact) d.remoteTarget = uriOf(contact);
    }
    // 2xx: ACK is a new transaction to the remote target; non-2xx: same branch, same Request-URI.
    const ackTarget = status < 300 ? d.remoteTarget : undefined;
    const headers: [string, string][] = [
      ['Via', this.via(status < 300 ? `z9hG4bK${token()}` : inviteBranch)],
      ['Max-Forwards', '70'],
      ['From', d.from],
      ['To', status < 300 ? d.to : toHeader],
      ['Call-ID', d.callId],
      ['CSeq', `${cseq} ACK`],
    ];
    const ack = serialize(`ACK ${ackTarget ?? d.remoteTarget} SIP/2.0`, headers);
    d.lastAck = { cseq, buf: ack };
    this.send(ack, ackTarget ? hostPortOf(ackTarget) : to);
  }

  private respond(req: SipMessage, status: number, reason: string, to: { host: string; port: number }, extra: [string, string][] = [], body = '', toTag?: string): Buffer {
    const headers: [string, string][] = [];
    for (const v of headersNamed(req, 'via')) headers.push(['Via', v]);
    const reqTo = header(req, 'to') ?? '';
    headers.push(['From', header(req, 'from') ?? '']);
    headers.push(['To', toTag && !tagOf(reqTo) ? `${reqTo};tag=${toTag}` : reqTo]);
    headers.push(['Call-ID', header(req, 'call-id') ?? '']);
    headers.push(['CSeq', header(req, 'cseq') ?? '']);
    headers.push(...extra);
    if (body) headers.push(['Content-Type', 'application/sdp']);
    const buf = serialize(`SIP/2.0 ${status} ${reason}`, headers, body);
    this.send(buf, to);
    return buf;
  }

  private async dispatch(m: SipMessage, from: { host: string; port: number }): Promise<void> {
    if (m.status !== undefined) {
      const tx = this.clientTxs.get(branchOf(header(m, 'via') ?? ''));
      if (!tx) {
        // a retransmitted 2xx to an INVITE we already ACKed: ACK again
        const d = this.dialogs.get(header(m, 'call-id') ?? '');
        const { num, method } = cseqOf(m);
        if (d?.lastAck && method === 'INVITE' && d.lastAck.cseq === num && m.status < 300) this.send(d.lastAck.buf, hostPortOf(d.remoteTarget));
        return;
      }
      if (m.status < 200) {
        clearTimeout(tx.timer); // a provisional stops INVITE retransmissions
        tx.onProvisional?.(m);
        return;
      }
      tx.resolve(m);
      return;
    }
    const callId = header(m, 'call-id') ?? '';
    const key = `${callId};${cseqOf(m).num};${branchOf(header(m, 'via') ?? '')}`;
    if (m.method === 'ACK') {
      this.dialogs.get(callId)?.markAcked();
      for (const [k, stx] of this.serverInvites) {
        if (k.startsWith(`${callId};${cseqOf(m).num};`)) {
          stx.acked = true;
          clearTimeout(stx.timer);
          this.serverInvites.delete(k);
        }
      }
      return;
    }
    if (m.method === 'INVITE') {
      const known = this.serverInvites.get(key);
      if (known) return this.send(known.response, known.to);
      let d = this.dialogs.get(callId);
      const isNew = !d;
      if (!d) {
        const fromH = header(m, 'from') ?? '';
        d = new Dialog(this, callId, token(), uriOf(header(m, 'to') ?? this.uri), uriOf(fromH), uriOf(header(m, 'contact') ?? fromH), false);
        d.remoteTag = tagOf(fromH);
        this.dialogs.set(callId, d);
      } else {
        const contact = header(m, 'contact');
        if (contact) d.remoteTarget = uriOf(contact);
      }
      const dialog = d;
      const stx: ServerInviteTx = { response: Buffer.alloc(0), to: from, acked: false };
      this.serverInvites.set(key, stx);
      if (isNew) this.respond(m, 100, 'Trying', from);
      let answer: InviteHandlerResult;
      try {
        const handler = isNew ? this.onInvite : dialog.onReinvite ?? ((): InviteHandlerResult => ({ status: 200, sdp: dialog.localSdp }));
        answer = await handler(m, dialog);
      } catch {
        answer = { status: 500 };
      }
      if (answer.status >= 200 && answer.status < 300) {
        dialog.remoteSdp = m.body || dialog.remoteSdp;
        if (answer.sdp) dialog.localSdp = answer.sdp;
      } else if (isNew) this.dialogs.delete(callId);
      stx.response = this.respond(m, answer.status, answer.status < 300 ? 'OK' : 'Refused', from,
        [['Contact', `<${this.uri}>`]], answer.sdp ?? '', dialog.localTag);
      // 2xx retransmitted until ACK (timer G, capped); a non-2xx is retransmitted the same way until its ACK
      let interval = 500;
      const again = (): void => {
        if (stx.acked) return;
        this.send(stx.response, stx.to);
        stx.timer = setTimeout(again, (interval = Math.min(interval * 2, 4000)));
      };
      stx.timer = setTimeout(again, interval);
      setTimeout(() => (clearTimeout(stx.timer), this.serverInvites.delete(key)), 32000).unref();
      if (isNew && answer.status < 300) {
        const waiter = this.incomingWaiters.shift();
        if (waiter) waiter(dialog);
        else this.incoming.push(dialog);
      }
      return;
    }
    if (m.method === 'BYE') {
      this.respond(m, 200, 'OK', from);
      this.dialogs.get(callId)?.markEnded('remote');
      return;
    }
    if (m.method === 'CANCEL') {
      this.respond(m, 200, 'OK', from);
      return;
    }
    // OPTIONS, UPDATE, INFO...: accept without a body
    this.respond(m, m.method === 'OPTIONS' || m.method === 'INFO' ? 200 : 501, m.method === 'OPTIONS' || m.method === 'INFO' ? 'OK' : 'Not Implemented', from);
  }

  private readonly closers: (() => void)[] = [];

  /** Run `cb` when this UA closes (e.g. to close the media of its calls). */
  onClose(cb: () => void): void {
    this.closers.push(cb);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const cb of this.closers.splice(0)) cb();
    for (const tx of [...this.clientTxs.values()]) tx.reject(new Error('sip-ua closed'));
    for (const stx of this.serverInvites.values()) clearTimeout(stx.timer);
    this.serverInvites.clear();
    this.socket.close();
  }
}

