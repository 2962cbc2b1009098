/** `[b2bua-server] transport` → what to bind, and the URI we report once bound. */
import { readFile } from 'node:fs/promises';
import type { B2buaServerConfig } from '../config/server-config.js';
import { b2buaError } from '../errors/index.js';
import { defaultPort, formatHost, parseUri, uriTransport, type TransportProtocol } from '../sip/uri.js';
import type { TlsFiles } from './types.js';

export interface ListenSpec {
  readonly protocol: TransportProtocol;
  readonly scheme: 'sip' | 'sips';
  readonly host: string;
  readonly port: number;
  /** `sip:` without `;transport=`: like Flexisip (sofia-sip), listen on UDP and TCP on the same port. */
  readonly alsoTcp: boolean;
}

export function parseListenUri(transport: string): ListenSpec {
  const u = parseUri(transport);
  if (!u) {
    const problem = `[b2bua-server] transport: "${transport}" is not a SIP URI (expected e.g. sip:127.0.0.1:6067;transport=tcp)`;
    throw b2buaError('B2BUA_CONFIG_INVALID', { problem });
  }
  const protocol = uriTransport(u);
  if (!protocol) {
    const problem = `[b2bua-server] transport: unknown transport "${u.params['transport']}" in "${transport}" (use udp, tcp or tls)`;
    throw b2buaError('B2BUA_CONFIG_INVALID', { problem });
  }
  const alsoTcp = u.scheme === 'sip' && u.params['transport'] === undefined;
  return { protocol, scheme: u.scheme, host: u.host, port: u.port ?? defaultPort(protocol), alsoTcp };
}

/** `transport`: one listening URI or several separated by whitespace; the first is the main one (its Contact by default). */
export function parseListenUris(transport: string): ListenSpec[] {
  const uris = transport.split(/\s+/).filter((u) => u !== '');
  return (uris.length > 0 ? uris : [transport]).map(parseListenUri);
}

export function boundUri(spec: ListenSpec, port: number, protocol: TransportProtocol = spec.protocol): string {
  const tp = spec.scheme === 'sips' ? '' : `;transport=${protocol}`;
  return `${spec.scheme}:${formatHost(spec.host)}:${port}${tp}`;
}

export async function loadTls(
  tls: TlsFiles | undefined, config: Pick<B2buaServerConfig, 'tlsCertificate' | 'tlsPrivateKey'>,
): Promise<{ cert: Buffer; key: Buffer }> {
  const certificateFile = tls?.certificateFile ?? config.tlsCertificate;
  const privateKeyFile = tls?.privateKeyFile ?? config.tlsPrivateKey;
  if (!certificateFile || !privateKeyFile) {
    const problem = '[b2bua-server] transport is TLS but no certificate is set (add tls-certificate= and tls-private-key= to [b2bua-server])';
    throw b2buaError('B2BUA_CONFIG_INVALID', { problem });
  }
  try {
    return { cert: await readFile(certificateFile), key: await readFile(privateKeyFile) };
  } catch (e) {
    throw b2buaError('B2BUA_CONFIG_UNREADABLE', { problem: `cannot read the TLS certificate or key (${(e as Error).message})` }, { cause: e });
  }
}
