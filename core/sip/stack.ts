/**
 * Our SIP stack: transports + transaction layer (core/sip/transactions.ts).
 * Everything that arrives is parsed with parseMessage (never throws); a malformed request that
 * can be answered gets 400, anything else is dropped and logged. Handlers run inside try/catch:
 * a throwing handler gets its request answered 500, never a crash.
 */
import net from 'node:net';
import { b2buaError, errorReason } from '../errors/index.js';
import type { Logger } from '../vocabulary/index.js';
import { formatVia } from './headers.js';
import { makeResponse, newBranch, parseMessage, reasonPhrase, type SipMessage, type SipRequest, SipResponse } from './message.js';
import { resolveTarget, type Target } from './resolve.js';
import { Timers } from './timers.js';
import { ClientTransaction, ServerTransaction, type ResponseHandler, type TransactionHost } from './transactions.js';
import { LISTENER_UDP_BUFFER_BYTES, noStreamStats, openTransport, type HostPort, type StreamLimits, type StreamStats, type Transport } from './transport.js';
import { KEEPALIVE_PERIOD_MS, KeepAlives } from './keepalive.js';
import { SipTrace } from './trace.js';
import { formatHost, type TransportProtocol } from './uri.js';

export { ClientTransaction, ServerTransaction, type ResponseHandler };

export type RequestHandler = (req: SipRequest, tx: ServerTransaction) => void;

/** The connection a peer reached us on. */
export interface Flow {
  readonly transport: Transport;
  readonly remote: HostPort;
}

export interface StackCounters {
  readonly transactions: number;
  readonly timers: number;
  readonly connections: number;
}

export class SipStack implements TransactionHost {
  readonly timers = new Timers();
  private readonly transports: Transport[] = [];
  /** Extra sockets (one per external account, UDP or TCP/TLS): never picked by transportFor, only through a Flow naming them. */
  private readonly accountTransports = new Set<Transport>();
  private readonly opening = new Map<TransportProtocol, Promise<Transport>>();
  private readonly servers = new Map<string, ServerTransaction>();
  private readonly clients = new Map<string, ClientTransaction>();
  /** INVITE server transactions whose 2xx awaits an ACK, by Call-ID + CSeq number. */
  private readonly awaitingAck = new Map<string, ServerTransaction>();
  onRequest: RequestHandler = (req, tx) => { if (req.method !== 'ACK') tx.send(tx.response(501)); };
  /** ACK for a 2xx (no transaction of its own). */
  onAck: (ack: SipRequest, source: HostPort) => void = () => undefined;
  /**
   * A 2xx to an INVITE whose transaction is gone (retransmission, late fork), with the flow it came on:
   * the TU re-ACKs or BYEs its own legs, and drops anything else (never a packet to a Contact it names).
   */
  onStrayInvite2xx: (res: SipResponse, flow: Flow) => void = () => undefined;
  private closed = false;
  /** Every SIP message received and sent, as bytes and, when the stack has it, parsed (for /metrics); set before listen(). */
  onWire: ((direction: 'in' | 'out', protocol: TransportProtocol, data: Buffer, message?: SipMessage) => void) | undefined;
  readonly retransmissions = { in: 0, out: 0 };

  /** Certificate and key for TLS listeners (set before listen()). */
  tlsFiles: { cert: Buffer; key: Buffer } | undefined;
  /** `enable-keepalive`: CRLF keep-alives to the peers we send requests to, TCP keep-alive probes on stream connections. */
  keepalive = true;
  /** `max-connections`, `max-connections-per-address`, `sip-header-timeout` of stream listeners. */
  streamLimits: Partial<StreamLimits> = {};
  /** Period of the CRLF keep-alives (liblinphone's default); a test seam. */
  keepalivePeriodMs = KEEPALIVE_PERIOD_MS;
  private keepAlives: KeepAlives | undefined;

  /** Every message in and out (core/sip/trace.ts): log at debug level, file on demand. */
  readonly trace: SipTrace;

  constructor(readonly log: Logger, private readonly userAgent: string) {
    this.trace = new SipTrace(log);
  }

  async listen(protocol: TransportProtocol, address: string, port: number): Promise<Transport> {
    const t = await this.open(protocol, address, port, LISTENER_UDP_BUFFER_BYTES);
    this.transports.push(t);
    return t;
  }

  /**
   * A socket of its own on an ephemeral port of the first transport's address, e.g. one per external account so the
   * provider sees each on its own port (Flexisip's accounts_channel_isolation). UDP: one socket. TCP / TLS: a listener
   * of its own (its port is the Contact's and the Via's) whose connections are its own: a request through it opens its
   * own connection to the peer (a source port of its own) or reuses the one it opened before, never the listeners'. TLS
   * needs the server's certificate (tlsFiles), as any TLS listener. Received messages are handled as on the listeners;
   * requests use it when the Flow they are given names it.
   */
  async openAccountTransport(protocol: TransportProtocol): Promise<Transport> {
    const base = this.transports[0];
    if (!base) throw b2buaError('B2BUA_INTERNAL', { bug: 'no SIP transport open' });
    const t = await this.open(protocol, base.local.address, 0);
    this.accountTransports.add(t);
    return t;
  }

  async closeAccountTransport(t: Transport): Promise<void> {
    if (!this.accountTransports.delete(t)) return;
    await t.close();
  }

  /** A Flow sending through an account transport (the remote is resolved per request). */
  static accountFlow(t: Transport): Flow {
    return { transport: t, remote: { address: '', port: 0 } };
  }

  private pinned(flow: Flow | undefined, protocol: TransportProtocol): Transport | undefined {
    return flow && this.accountTransports.has(flow.transport) && flow.transport.protocol === protocol ? flow.transport : undefined;
  }

  private async open(protocol: TransportProtocol, address: string, port: number, udpBufferBytes?: number): Promise<Transport> {
    const options = {
      protocol, address, port, log: this.log, keepalive: this.keepalive, limits: this.streamLimits,
      ...(this.tlsFiles ? { tls: this.tlsFiles } : {}), ...(udpBufferBytes ? { udpBufferBytes } : {}),
    };
    const t = await openTransport(options, (data, source, transport) => {
      this.trace.record('in', { protocol, ...source }, data);
      this.receive(data, source, transport);
    });
    const send = t.send.bind(t);
    t.send = (to, data, message) => {
      this.onWire?.('out', t.protocol, data, message);
      this.trace.record('out', { protocol, ...to }, data);
      return send(to, data);
    };
    return t;
  }

  get listening(): readonly Transport[] { return this.transports; }

  async unlisten(t: Transport): Promise<void> {
    const i = this.transports.indexOf(t);
    if (i >= 0) this.transports.splice(i, 1);
    await t.close();
  }

  counters(): StackCounters {
    return {
      transactions: this.servers.size + this.clients.size,
      timers: this.timers.count,
      connections: this.allTransports().reduce((n, t) => n + t.connections(), 0),
    };
  }

  /** The listeners, then the account transports. */
  private allTransports(): Transport[] {
    return [...this.transports, ...this.accountTransports];
  }

  /** TCP/TLS connection stats summed over the listeners and account transports (maxFromOneAddress: the largest). */
  streamStats(): StreamStats {
    const sum = noStreamStats();
    for (const t of this.allTransports()) {
      for (const [k, v] of Object.entries(t.stats()) as [keyof StreamStats, number][]) sum[k] = k === 'maxFromOneAddress' ? Math.max(sum[k], v) : sum[k] + v;
    }
    return sum;
  }

  /** A transport for a protocol: the listening one, else one opened on demand (same address, any port). */
  async transportFor(protocol: TransportProtocol, toAddress?: string): Promise<Transport> {
    // A listener of the destination's IP family first (IPv4 and IPv6 listeners side by side).
    const family = toAddress === undefined ? 0 : net.isIP(toAddress);
    const existing = this.transports.find((t) => t.protocol === protocol && net.isIP(t.local.address) === family)
      ?? this.transports.find((t) => t.protocol === protocol);
    if (existing) return existing;
    const base = this.transports.find((t) => net.isIP(t.local.address) === family) ?? this.transports[0];
    if (!base) throw b2buaError('B2BUA_INTERNAL', { bug: 'no SIP transport open' });
    let opening = this.opening.get(protocol);
    if (!opening) {
      // Same port as the configured transport when free (what peers expect), else any.
      opening = this.listen(protocol, base.local.address, base.local.port).catch(() => this.listen(protocol, base.local.address, 0));
      this.opening.set(protocol, opening);
      opening.finally(() => this.opening.delete(protocol)).catch(() => undefined);
    }
    return opening;
  }

  /** Via, Max-Forwards, User-Agent for a request we originate or forward. */
  private prepareRequest(req: SipRequest, transport: Transport, branch: string): void {
    this.localizeContact(req, transport);
    const via = formatVia({ protocol: transport.protocol.toUpperCase(), host: transport.local.address, port: transport.local.port, params: { branch, rport: null } });
    if (req.method === 'CANCEL' || req.method === 'ACK') {
      if (!req.has('via')) req.prepend('via', via);
    } else {
      req.remove('via');
      req.prepend('via', via);
    }
    if (!req.has('max-forwards')) req.set('max-forwards', '70');
    if (!req.has('user-agent')) req.set('user-agent', this.userAgent);
  }

  decorateResponse(res: SipResponse, transport?: Transport): void {
    if (!res.has('server') && !res.has('user-agent')) res.set('user-agent', this.userAgent);
    if (transport) this.localizeContact(res, transport);
  }

  /**
   * With listeners in both IP families, a Contact naming one of ours is rewritten to the listener the message leaves
   * on (an IPv6 peer gets our IPv6 address); the TU writes the main listener's Contact without knowing the route.
   */
  private localizeContact(msg: SipRequest | SipResponse, transport: Transport): void {
    if (this.transports.length < 2) return;
    const contact = msg.get('contact');
    if (!contact) return;
    const ours = formatHost(transport.local.address) + ':' + transport.local.port;
    for (const t of this.transports) {
      if (t === transport || net.isIP(t.local.address) === net.isIP(transport.local.address)) continue;
      const theirs = formatHost(t.local.address) + ':' + t.local.port;
      if (contact.includes('@' + theirs)) { msg.set('contact', contact.replace('@' + theirs, '@' + ours)); return; }
    }
  }

  /** Our Contact for a transport. */
  contactFor(transport: Transport, user = 'b2bua'): string {
    const scheme = transport.protocol === 'tls' ? 'sips' : 'sip';
    const tp = transport.protocol === 'udp' || transport.protocol === 'tls' ? '' : `;transport=${transport.protocol}`;
    return `<${scheme}:${user}@${formatHost(transport.local.address)}:${transport.local.port}${tp}>`;
  }

  /**
   * Send a request in a new client transaction to `destination` (a SIP URI: Route, outbound proxy or
   * the Request-URI). Resolution or transport failures come back as a synthesised 503.
   */
  request(req: SipRequest, destination: string, onResponse: ResponseHandler, flow?: Flow): ClientTransaction {
    if (flow && flow.transport.connected(flow.remote)) {
      // Reuse the connection the peer opened (it may not accept connections: NAT, TLS clients).
      return this.sendOnTransaction(req, flow.transport, { protocol: flow.transport.protocol, ...flow.remote }, onResponse);
    }
    const branch = newBranch();
    const key = `${branch}|${req.method}`;
    const tx = new ClientTransaction(this, req, onResponse, key);
    this.clients.set(key, tx);
    // Provisional Via so the transaction matches; replaced with the transport's address once resolved.
    req.remove('via');
    req.prepend('via', `SIP/2.0/UDP 0.0.0.0;branch=${branch}`);
    void (async () => {
      try {
        const target = await resolveTarget(destination);
        const transport = this.pinned(flow, target.protocol) ?? await this.transportFor(target.protocol, target.address);
        this.prepareRequest(req, transport, branch);
        tx.start(transport, target);
        this.noteKeepAlive(transport, target);
      } catch (e) {
        tx.fail(503, `Service Unavailable (${errorReason(e)})`);
      }
    })();
    return tx;
  }

  /** Send a request on an already resolved target (CANCEL of a transaction). */
  sendOnTransaction(req: SipRequest, transport: Transport, target: Target, onResponse: ResponseHandler): ClientTransaction {
    const branch = req.branch || newBranch();
    const key = `${branch}|${req.method}`;
    const tx = new ClientTransaction(this, req, onResponse, key);
    this.clients.set(key, tx);
    this.prepareRequest(req, transport, branch);
    tx.start(transport, target);
    this.noteKeepAlive(transport, target);
    return tx;
  }

  private noteKeepAlive(transport: Transport, to: HostPort): void {
    if (!this.keepalive || this.closed) return;
    this.keepAlives ??= new KeepAlives(this.keepalivePeriodMs);
    this.keepAlives.noteRequest(transport, to);
  }

  /** CRLF keep-alives sent so far (counters, tests). */
  get keepAlivesSent(): number { return this.keepAlives?.pingsSent ?? 0; }

  /** ACK for a 2xx: no transaction, fresh branch. */
  async sendAck(ack: SipRequest, destination: string, flow?: Flow): Promise<void> {
    try {
      const viaFlow = flow && flow.transport.connected(flow.remote);
      const target = viaFlow ? { protocol: flow.transport.protocol, ...flow.remote } : await resolveTarget(destination);
      const transport = viaFlow ? flow.transport : this.pinned(flow, target.protocol) ?? await this.transportFor(target.protocol, target.address);
      ack.remove('via');
      this.prepareRequest(ack, transport, newBranch());
      await transport.send(target, ack.toBuffer(), ack);
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'ACK not sent');
    }
  }

  awaitAck(tx: ServerTransaction): void {
    this.awaitingAck.set(`${tx.request.callId}|${tx.request.cseq.seq}`, tx);
  }

  forgetServer(key: string, tx: ServerTransaction): void {
    if (this.servers.get(key) === tx) this.servers.delete(key);
    const ackKey = `${tx.request.callId}|${tx.request.cseq.seq}`;
    if (this.awaitingAck.get(ackKey) === tx) this.awaitingAck.delete(ackKey);
  }

  retransmitted(): void {
    this.retransmissions.out++;
  }

  forgetClient(key: string, tx: ClientTransaction): void {
    if (this.clients.get(key) === tx) this.clients.delete(key);
  }

  private receive(data: Buffer, source: HostPort, transport: Transport): void {
    if (this.closed) return;
    const parsed = parseMessage(data);
    this.onWire?.('in', transport.protocol, data, parsed.ok ? parsed.message : undefined);
    if (!parsed.ok) {
      this.log.warn({ source, protocol: transport.protocol, error: parsed.error }, 'malformed SIP message');
      if (parsed.request) {
        const status = parsed.status ?? 400;
        const res = makeResponse(parsed.request, status, `${reasonPhrase(status)} (${parsed.error.slice(0, 100).replace(/[\r\n]/g, ' ')})`);
        this.decorateResponse(res);
        void transport.send(source, res.toBuffer(), res).catch(() => undefined);
      }
      return;
    }
    const msg = parsed.message;
    try {
      if (msg instanceof SipResponse) this.receiveResponse(msg, { transport, remote: source });
      else this.receiveRequest(msg, source, transport);
    } catch (e) {
      this.log.error({ err: (e as Error).stack }, 'error while handling a SIP message');
    }
  }

  private receiveResponse(res: SipResponse, flow: Flow): void {
    const key = `${res.branch}|${res.cseq.method}`;
    const tx = this.clients.get(key);
    if (tx) tx.receive(res);
    else if (res.cseq.method === 'INVITE' && res.status >= 200 && res.status < 300) this.onStrayInvite2xx(res, flow);
    else this.log.debug({ source: flow.remote, status: res.status, callId: res.callId }, 'response matching no transaction dropped');
  }

  /** One request sent once on a flow, no transaction, no resolution (ACK + BYE of a late fork's 2xx). */
  sendOnce(req: SipRequest, flow: Flow): void {
    req.remove('via');
    this.prepareRequest(req, flow.transport, newBranch());
    void flow.transport.send(flow.remote, req.toBuffer(), req).catch(() => undefined);
  }

  private receiveRequest(req: SipRequest, source: HostPort, transport: Transport): void {
    const via = req.vias[0]!;
    const sentBy = `${via.host}:${via.port ?? ''}`;
    if (req.method === 'ACK') {
      const inviteTx = this.servers.get(`${req.branch}|${sentBy}|INVITE`);
      if (inviteTx) { inviteTx.ackReceived(); return; }
      const accepted = this.awaitingAck.get(`${req.callId}|${req.cseq.seq}`);
      accepted?.ackReceived();
      this.safely(() => this.onAck(req, source), req);
      return;
    }
    const key = `${req.branch}|${sentBy}|${req.method}`;
    const existing = this.servers.get(key);
    if (existing) { this.retransmissions.in++; existing.retransmission(); return; }
    const tx = new ServerTransaction(this, req, source, transport, key);
    this.servers.set(key, tx);
    if (req.method === 'CANCEL') {
      const inviteTx = this.servers.get(`${req.branch}|${sentBy}|INVITE`);
      if (!inviteTx) { tx.send(tx.response(481)); return; }
      tx.send(tx.response(200));
      if (!inviteTx.final && !inviteTx.cancelled) {
        inviteTx.cancelled = true;
        this.safely(() => inviteTx.onCancel?.(), req);
      }
      return;
    }
    if (req.method === 'INVITE') tx.send(tx.response(100));
    this.safely(() => this.onRequest(req, tx), req, tx);
  }

  private safely(fn: () => void, req: SipRequest, tx?: ServerTransaction): void {
    try {
      fn();
    } catch (e) {
      this.log.error({ err: (e as Error).stack, method: req.method, callId: req.callId }, 'request handler threw');
      if (tx && !tx.final) tx.send(tx.response(500));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.keepAlives?.stop();
    for (const tx of [...this.clients.values()]) tx.terminate();
    for (const tx of [...this.servers.values()]) tx.terminate();
    this.timers.cancelAll();
    const all = [...this.transports.splice(0), ...this.accountTransports];
    this.accountTransports.clear();
    await Promise.all(all.map((t) => t.close()));
  }
}
