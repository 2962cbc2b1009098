/**
 * A scripted SIP user agent over UDP on loopback, for driving the server in-process with raw SIP.
 * Every wait is bounded; close() frees the socket.
 */
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { parseMessage, SipRequest, SipResponse, type SipMessage } from '../../../core/sip/message.js';
import { parseNameAddr } from '../../../core/sip/headers.js';

export type Msg = SipRequest | SipResponse;

export function tok(): string {
  return randomBytes(5).toString('hex');
}

export function offerSdp(port: number, o: { dir?: string; video?: number; extra?: string; proto?: string; version?: number } = {}): string {
  const lines = ['v=0', `o=ua ${port} ${o.version ?? 1} IN IP4 127.0.0.1`, 's=ua', 'c=IN IP4 127.0.0.1', 't=0 0',
    `m=audio ${port} ${o.proto ?? 'RTP/AVP'} 0 101`, 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-15', `a=${o.dir ?? 'sendrecv'}`];
  if (o.extra) lines.push(o.extra);
  if (o.video !== undefined) lines.push(`m=video ${o.video} RTP/AVP 96`, 'a=rtpmap:96 VP8/90000', `a=${o.dir ?? 'sendrecv'}`);
  return `${lines.join('\r\n')}\r\n`;
}

/** One dialog as the test UA sees it. */
export interface UaDialog {
  callId: string;
  localTag: string;
  remoteTag: string;
  local: string;
  remote: string;
  target: string;
  cseq: number;
}

export class Ua {
  private readonly inbox: Msg[] = [];
  private readonly waiters: (() => void)[] = [];
  /** Everything received, in order (also the consumed ones). */
  readonly log: Msg[] = [];

  private constructor(readonly name: string, private readonly socket: dgram.Socket, readonly port: number, private readonly serverPort: () => number, readonly host: string) {
    socket.on('message', (buf) => {
      const r = parseMessage(buf);
      if (!r.ok) return;
      this.inbox.push(r.message);
      this.log.push(r.message);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async open(name: string, serverPort: () => number, host = '127.0.0.1'): Promise<Ua> {
    const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((r) => socket.bind(0, host, () => r()));
    return new Ua(name, socket, socket.address().port, serverPort, host);
  }

  /** host:port as written in SIP (IPv6 in brackets). */
  get hostport(): string { return `${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`; }

  get uri(): string { return `sip:${this.name}@${this.hostport}`; }

  send(m: SipMessage, port = this.serverPort()): void {
    this.socket.send(m.toBuffer(), port, this.host);
  }

  sendRaw(data: Buffer, port = this.serverPort()): void {
    this.socket.send(data, port, this.host);
  }

  /** An out-of-dialog OPTIONS to `uri`. */
  options(uri: string): SipRequest {
    const req = new SipRequest('OPTIONS', uri);
    req.set('via', `SIP/2.0/UDP ${this.hostport};branch=z9hG4bK${tok()};rport`);
    req.set('max-forwards', '70');
    req.set('from', `<${this.uri}>;tag=${tok()}`);
    req.set('to', `<${uri}>`);
    req.set('call-id', `${tok()}@test`);
    req.set('cseq', '1 OPTIONS');
    return req;
  }

  /** The CANCEL of one of our INVITEs (same branch). */
  cancel(invite: SipRequest): SipRequest {
    const c = new SipRequest('CANCEL', invite.uri);
    for (const n of ['via', 'from', 'to', 'call-id']) c.set(n, invite.get(n));
    c.set('cseq', `${invite.cseq.seq} CANCEL`);
    return c;
  }

  /** Take the first received message matching `pred`, waiting at most `ms`. */
  wait<T extends Msg = Msg>(pred: (m: Msg) => boolean, what: string, ms = 4000): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const i = this.inbox.findIndex(pred);
        if (i < 0) return false;
        resolve(this.inbox.splice(i, 1)[0] as T);
        return true;
      };
      if (check()) return;
      const timer = setTimeout(() => {
        reject(new Error(`${this.name}: no ${what} within ${ms} ms; received: ${this.log.map(summary).join(' | ')}`));
      }, ms);
      const again = (): void => { if (check()) clearTimeout(timer); else this.waiters.push(again); };
      this.waiters.push(again);
    });
  }

  request(method: string, ms?: number): Promise<SipRequest> {
    return this.wait<SipRequest>((m) => m instanceof SipRequest && m.method === method, method, ms);
  }

  response(status: number, method = 'INVITE', ms?: number): Promise<SipResponse> {
    return this.wait<SipResponse>((m) => m instanceof SipResponse && m.status === status && m.cseq.method === method, `${status} to ${method}`, ms);
  }

  /** Resolves if nothing matching arrives within `ms`. */
  async none(pred: (m: Msg) => boolean, what: string, ms = 300): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
    const found = this.inbox.find(pred);
    if (found) throw new Error(`${this.name}: unexpected ${what}: ${summary(found)}`);
  }

  /** Drop buffered messages (e.g. retransmissions) matching pred. */
  drop(pred: (m: Msg) => boolean): void {
    for (let i = this.inbox.length - 1; i >= 0; i--) if (pred(this.inbox[i]!)) this.inbox.splice(i, 1);
  }

  invite(to: string, sdp: string | undefined, headers: Record<string, string> = {}): SipRequest {
    const req = new SipRequest('INVITE', to);
    req.set('via', `SIP/2.0/UDP ${this.hostport};branch=z9hG4bK${tok()};rport`);
    req.set('max-forwards', '70');
    req.set('from', `"${this.name}" <${this.uri}>;tag=${tok()}`);
    req.set('to', `<${to}>`);
    req.set('call-id', `${tok()}@test`);
    req.set('cseq', '1 INVITE');
    req.set('contact', `<${this.uri}>`);
    for (const [k, v] of Object.entries(headers)) req.set(k, v);
    if (sdp !== undefined) { req.set('content-type', 'application/sdp'); req.body = sdp; }
    return req;
  }

  /** A response to a received request, with our To tag and Contact. */
  answer(req: SipRequest, status: number, reason: string, o: { tag?: string; sdp?: string; headers?: Record<string, string> } = {}): SipResponse {
    const res = new SipResponse(status, reason);
    for (const h of req.headers) if (['via', 'from', 'call-id', 'cseq'].includes(h.name)) res.headers.push({ ...h });
    res.set('to', req.toTag ? req.get('to')! : `${req.get('to')};tag=${o.tag ?? tok()}`);
    if (status < 300 || status === 180 || status === 183) res.set('contact', `<${this.uri}>`);
    for (const [k, v] of Object.entries(o.headers ?? {})) res.set(k, v);
    if (o.sdp !== undefined) { res.set('content-type', 'application/sdp'); res.body = o.sdp; }
    return res;
  }

  /** Dialog from our INVITE and its 2xx (UAC side). */
  uacDialog(invite: SipRequest, res: SipResponse): UaDialog {
    return {
      callId: invite.callId, localTag: invite.fromTag!, remoteTag: res.toTag!, local: invite.get('from')!.replace(/;tag=.*/, ''),
      remote: res.get('to')!.replace(/;tag=.*/, ''), target: parseNameAddr(res.get('contact')!)!.uri, cseq: invite.cseq.seq,
    };
  }

  /** Dialog from a received INVITE and our 2xx (UAS side). */
  uasDialog(invite: SipRequest, res: SipResponse): UaDialog {
    return {
      callId: invite.callId, localTag: res.toTag!, remoteTag: invite.fromTag!, local: invite.get('to')!.replace(/;tag=.*/, ''),
      remote: invite.get('from')!.replace(/;tag=.*/, ''), target: parseNameAddr(invite.get('contact')!)!.uri, cseq: 100,
    };
  }

  inDialog(d: UaDialog, method: string, o: { sdp?: string; headers?: Record<string, string>; body?: string; contentType?: string; seq?: number } = {}): SipRequest {
    const seq = o.seq ?? (method === 'ACK' ? d.cseq : ++d.cseq);
    const req = new SipRequest(method, d.target);
    req.set('via', `SIP/2.0/UDP ${this.hostport};branch=z9hG4bK${tok()};rport`);
    req.set('max-forwards', '70');
    req.set('from', `${d.local};tag=${d.localTag}`);
    req.set('to', `${d.remote};tag=${d.remoteTag}`);
    req.set('call-id', d.callId);
    req.set('cseq', `${seq} ${method}`);
    req.set('contact', `<${this.uri}>`);
    for (const [k, v] of Object.entries(o.headers ?? {})) req.set(k, v);
    if (o.sdp !== undefined) { req.set('content-type', 'application/sdp'); req.body = o.sdp; }
    if (o.body !== undefined) { req.set('content-type', o.contentType ?? 'text/plain'); req.body = o.body; }
    return req;
  }

  close(): Promise<void> {
    return new Promise((r) => this.socket.close(() => r()));
  }
}

export function summary(m: Msg): string {
  return m instanceof SipRequest ? `${m.method} (${m.cseq.seq})` : `${m.status} ${m.cseq.method}`;
}
