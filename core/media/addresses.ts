/** Where media sockets bind and which address the SDP announces; shared by every media engine. */
import net from 'node:net';
import os from 'node:os';
import type { B2buaServerConfig } from '../config/server-config.js';

export interface MediaAddresses {
  readonly bind: string;
  readonly advertised: string;
}

/**
 * `media-address` if set; else the host of `transport` when it is an IP address; else all
 * interfaces, announced as the first `nat-addresses` entry, else the first non-internal IPv4.
 */
export function mediaAddresses(config: B2buaServerConfig): MediaAddresses {
  const explicit = config.mediaAddress || undefined;
  const transportHost = /^sips?:(?:[^@;]*@)?(\[[^\]]+\]|[^:;]+)/.exec(config.transport)?.[1]?.replace(/^\[|\]$/g, '');
  const bind = explicit ?? (transportHost && net.isIP(transportHost) ? transportHost : '0.0.0.0');
  if (bind !== '0.0.0.0' && bind !== '::') return { bind, advertised: bind };
  const external = Object.values(os.networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
  return { bind, advertised: config.natAddresses[0] ?? external ?? '127.0.0.1' };
}
