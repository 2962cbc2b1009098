/** Where media sockets bind and which address the SDP announces, per address family; shared by every media engine. */
import net from 'node:net';
import os from 'node:os';
import type { B2buaServerConfig } from '../config/server-config.js';

export type IpFamily = 4 | 6;

export interface MediaAddresses {
  readonly bind: string;
  readonly advertised: string;
}

/** The address of each family a leg's media may use (a family with no address of its own gets the default one). */
export interface FamilyAddresses {
  /** The family of `media-address` (or of what replaces it): legs whose family is unknown use it. */
  readonly defaultFamily: IpFamily;
  readonly forFamily: (family: IpFamily | undefined) => MediaAddresses;
}

const WILDCARDS = new Set(['0.0.0.0', '::']);

export function familyOf(address: string): IpFamily {
  return net.isIPv6(address) ? 6 : 4;
}

/** The hosts of `transport` (one SIP URI, or several separated by whitespace) that are IP addresses, in order. */
export function transportHosts(transport: string): string[] {
  return transport.split(/\s+/).filter((t) => t !== '')
    .map((t) => /^sips?:(?:[^@;]*@)?(\[[^\]]+\]|[^:;]+)/.exec(t)?.[1]?.replace(/^\[|\]$/g, '') ?? '')
    .filter((h) => net.isIP(h) !== 0);
}

/**
 * `media-address` if set; else the first host of `transport` when it is an IP address; else all
 * interfaces, announced as the first `nat-addresses` entry, else the first non-internal IPv4.
 */
export function mediaAddresses(config: Pick<B2buaServerConfig, 'mediaAddress' | 'transport' | 'natAddresses'>): MediaAddresses {
  const explicit = config.mediaAddress || undefined;
  const transportHost = transportHosts(config.transport)[0];
  const bind = explicit ?? transportHost ?? '0.0.0.0';
  if (!WILDCARDS.has(bind)) return { bind, advertised: bind };
  const external = Object.values(os.networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
  return { bind, advertised: config.natAddresses[0] ?? external ?? '127.0.0.1' };
}

/**
 * The default family's addresses are mediaAddresses(); the other family's are the first `transport` host of that
 * family (the SIP listener its legs reach us on: Flexisip has no media address key, liblinphone takes the local
 * address of the peer's family). No such host: that family's legs use the default addresses, as with one family.
 */
export function familyAddresses(config: Pick<B2buaServerConfig, 'mediaAddress' | 'transport' | 'natAddresses'>): FamilyAddresses {
  const primary = mediaAddresses(config);
  const defaultFamily = familyOf(primary.bind);
  const other = transportHosts(config.transport).find((h) => familyOf(h) !== defaultFamily && !WILDCARDS.has(h));
  const secondary = other ? { bind: other, advertised: other } : undefined;
  return {
    defaultFamily,
    forFamily: (family) => (family === undefined || family === defaultFamily || !secondary ? primary : secondary),
  };
}
