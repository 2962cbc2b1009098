/**
 * `one-connection-per-account` ([b2bua-server]): each account gets a SIP socket of its own (host API 1.5.0
 * openAccountTransport), so the provider sees each account on its own port, as Flexisip's linphone core does with
 * accounts_channel_isolation (b2bua-server.cc). Its REGISTERs, its calls' leg B and the calls the provider sends to
 * its Contact use it. The socket's protocol is the outbound proxy's: UDP a socket, TCP / TLS (host API 1.6.0) a
 * listener of its own whose connection to the provider is the account's (the provider's requests on it arrive on it).
 * At most one socket a line; closed when the line is removed and at shutdown. A socket that cannot be opened (bind
 * error, TLS without the server's certificate, a host older than 1.6.0 for TCP / TLS) is logged and leaves the line
 * unavailable, never a crash.
 */
import type { AccountTransport, Logger, PluginSipApi } from '../../core/plugin-api/index.js';
import type { Line } from './accounts.js';
import type { PoolSpec } from './bridge-config.js';

/** The protocol of an account's outbound proxy URI: sips → tls, else its transport parameter, else udp. */
export function protocolOf(uri: string): 'udp' | 'tcp' | 'tls' {
  const inner = uri.replace(/^\s*<|>\s*$/g, '');
  if (/^sips:/i.test(inner)) return 'tls';
  const t = /;\s*transport\s*=\s*([a-z]+)/i.exec(inner)?.[1]?.toLowerCase();
  return t === 'tcp' || t === 'tls' ? t : 'udp';
}

/**
 * Start-up problems with one-connection-per-account=true: accounts (static, or an SQL pool's outbound proxy) whose
 * socket would be TLS while the server has no TLS transport (an account's TLS socket listens with the server's
 * certificate, loaded for a TLS `transport` only). UDP and TCP accounts always get their socket.
 */
export function accountTransportProblems(pools: Iterable<PoolSpec>, file: string, serverHasTls: boolean): string[] {
  if (serverHasTls) return [];
  const problems: string[] = [];
  const refuse = (where: string, proxy: string): void => {
    if (protocolOf(proxy) === 'tls') problems.push(`providers: ${file}: ${where}: outbound proxy ${proxy} is TLS, but with one-connection-per-account=true its socket needs the server's TLS certificate, loaded only when [b2bua-server] transport lists a TLS URI (add one with tls-certificate / tls-private-key, give the account a UDP or TCP outbound proxy, or set one-connection-per-account=false)`);
  };
  for (const pool of pools) {
    if (pool.sql && pool.outboundProxy) refuse(`accountPools.${pool.name}`, pool.outboundProxy);
    for (const account of pool.accounts) refuse(`accountPools.${pool.name}: account ${account.uri}`, account.outboundProxy);
  }
  return problems;
}

/** [b2bua-server] transport (whitespace-separated listening URIs) lists a TLS one (sips:, or ;transport=tls). */
export function listensOnTls(transport: string): boolean {
  return transport.split(/\s+/).some((uri) => /^<?sips:/i.test(uri) || /;\s*transport\s*=\s*tls\b/i.test(uri));
}

export class AccountTransports {
  private readonly open = new Map<Line, AccountTransport>();
  /** Opening now: a second openFor of the same line waits for it (never two sockets a line). */
  private readonly opening = new Map<Line, Promise<void>>();
  private stopped = false;

  constructor(private readonly sip: PluginSipApi, private readonly log: Logger) {}

  /** The line's socket, if it has one. */
  of(line: Line): AccountTransport | undefined {
    return this.open.get(line);
  }

  get size(): number { return this.open.size; }

  /** Opens a socket for each line that has none; lines whose socket fails get `transportError` (unavailable). */
  async openFor(lines: readonly Line[]): Promise<void> {
    await Promise.all(lines.map((line) => {
      if (this.stopped || this.open.has(line)) return Promise.resolve();
      let p = this.opening.get(line);
      if (!p) {
        p = this.openOne(line).finally(() => this.opening.delete(line));
        this.opening.set(line, p);
      }
      return p;
    }));
  }

  private async openOne(line: Line): Promise<void> {
    try {
      if (!this.sip.openAccountTransport) throw new Error('the host has no openAccountTransport (host API < 1.5.0)');
      const t = await this.sip.openAccountTransport(protocolOf(line.outboundProxy));
      if (this.stopped || line.removed) { await t.close(); return; }
      this.open.set(line, t);
      line.transportError = undefined;
      this.log.info({ account: line.uri, port: t.port }, 'account socket open (one-connection-per-account)');
    } catch (e) {
      line.transportError = (e as Error).message;
      this.log.error({ account: line.uri, outboundProxy: line.outboundProxy, err: line.transportError }, 'account socket not opened: the account is unavailable');
    }
  }

  async close(line: Line): Promise<void> {
    const t = this.open.get(line);
    if (!t) return;
    this.open.delete(line);
    await t.close();
  }

  async closeAll(): Promise<void> {
    this.stopped = true;
    const all = [...this.open.values()];
    this.open.clear();
    await Promise.allSettled(all.map((t) => t.close()));
  }
}
