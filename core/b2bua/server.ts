/**
 * The back-to-back server: owns the SIP stack, answers out-of-dialog requests (OPTIONS),
 * creates a Call per incoming INVITE and routes in-dialog requests to their call.
 */
import { B2buaError } from '../errors/index.js';
import type { Logger, PluginSipApi } from '../plugin-api/index.js';
import type { SipRequest } from '../sip/message.js';
import { SipStack, type ServerTransaction } from '../sip/stack.js';
import type { Transport } from '../sip/transport.js';
import { boundUri, loadTls, parseListenUri } from './listen.js';
import { createPluginSipApi } from './sip-api.js';
import type { B2buaServer, B2buaServerOptions, ServerCounters } from './types.js';

export const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY, MESSAGE';
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

  constructor(readonly options: B2buaServerOptions) {
    this.log = options.log;
    this.userAgent = userAgentOf(options.config.userAgent, options.version);
    this.stack = new SipStack(this.log.child({ component: 'sip' }), this.userAgent);
    this.sip = createPluginSipApi(this.stack, () => this.contact());
  }

  contact(): string {
    if (!this.transport) throw new B2buaError('B2BUA_INTERNAL', 'the SIP transport is not open yet (call start() first)');
    return this.stack.contactFor(this.transport).replace(/^<|>$/g, '');
  }

  async start(): Promise<{ readonly transports: readonly string[] }> {
    const spec = parseListenUri(this.options.config.transport);
    if (spec.protocol === 'tls') {
      this.stack.tlsFiles = await loadTls(this.options.tls, this.options.config);
    }
    try {
      this.transport = await this.stack.listen(spec.protocol, spec.host, spec.port);
    } catch (e) {
      throw new B2buaError('B2BUA_TRANSPORT_FAILED',
        `cannot listen on ${this.options.config.transport} (${(e as Error).message}); change [b2bua-server] transport (port 0 = any free port)`, { cause: e });
    }
    this.stack.onRequest = (req, tx) => this.onRequest(req, tx);
    const uri = boundUri(spec, this.transport.local.port);
    this.log.info({ transport: uri, userAgent: this.userAgent }, 'SIP transport listening');
    return { transports: [uri] };
  }

  private onRequest(req: SipRequest, tx: ServerTransaction): void {
    switch (req.method) {
      case 'OPTIONS':
        tx.send(this.withCapabilities(tx.response(200, 'OK', req.toTag ? undefined : 'b2bua')));
        return;
      case 'INVITE':
        if (!this.accepting) { tx.send(tx.response(503, 'Service Unavailable (shutting down)')); return; }
        tx.send(tx.response(503, 'Service Unavailable'));
        return;
      default:
        tx.send(this.withCapabilities(tx.response(req.toTag ? 481 : 405)));
    }
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

  async drain(_timeoutMs: number): Promise<void> {
    // Calls are ended here once the call framework lands.
  }

  async close(): Promise<void> {
    await this.stack.close();
  }

  counters(): ServerCounters {
    const sip = this.stack.counters();
    const media = this.options.media.counters();
    return {
      calls: 0,
      dialogs: 0,
      transactions: sip.transactions,
      timers: sip.timers,
      mediaSessions: media.sessions,
      mediaPorts: media.portsInUse,
      callsTotal: this.callsTotal,
    };
  }

  calls(): readonly Record<string, unknown>[] {
    return [];
  }
}
