/** Where to send a request: a SIP URI (Request-URI, Route or outbound proxy) → protocol, address, port. */
import dns from 'node:dns/promises';
import net from 'node:net';
import { b2buaError } from '../errors/index.js';
import { defaultPort, parseUri, uriTransport, type TransportProtocol } from './uri.js';

export interface Target {
  readonly protocol: TransportProtocol;
  readonly address: string;
  readonly port: number;
}

/** A/AAAA lookup only (no NAPTR/SRV). Rejects with a message naming the URI. */
export async function resolveTarget(uri: string): Promise<Target> {
  const u = parseUri(uri);
  if (!u) throw b2buaError('B2BUA_SIP_UNROUTABLE', { uri, why: 'not a sip:/sips: URI' });
  const protocol = uriTransport(u);
  if (!protocol) throw b2buaError('B2BUA_SIP_UNROUTABLE', { uri, why: `unsupported transport "${u.params['transport']}"` });
  const maddr = u.params['maddr'];
  const host = maddr ?? u.host;
  const address = net.isIP(host) ? host : (await dns.lookup(host)).address;
  return { protocol, address, port: u.port ?? defaultPort(protocol) };
}
