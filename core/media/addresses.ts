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

/**
 * The IP family of an address, for every family decision (a leg's peer, a bind address, a transport host): an
 * IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, what a dual-stack socket reports for an IPv4 peer) is IPv4;
 * undefined for what is not an IP address.
 */
export function ipFamily(address: string): IpFamily | undefined {
  if (/^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(address)) return 4;
  const f = net.isIP(address);
  return f === 4 || f === 6 ? f : undefined;
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
  const bind = bindAddress(config);
  if (!WILDCARDS.has(bind)) return { bind, advertised: bind };
  const external = Object.values(os.networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
  return { bind, advertised: config.natAddresses[0] ?? external ?? '127.0.0.1' };
}

/** Where media sockets bind: `media-address`, else the first IP host of `transport`, else all IPv4 interfaces. */
function bindAddress(config: Pick<B2buaServerConfig, 'mediaAddress' | 'transport'>): string {
  return config.mediaAddress || transportHosts(config.transport)[0] || '0.0.0.0';
}

/**
 * The default family's addresses are mediaAddresses(); the other family's are the first `transport` host of that
 * family (the SIP listener its legs reach us on: Flexisip has no media address key, liblinphone takes the local
 * address of the peer's family). No such host: that family's legs use the default addresses, as with one family.
 */
export function familyAddresses(config: Pick<B2buaServerConfig, 'mediaAddress' | 'transport' | 'natAddresses'>): FamilyAddresses {
  const primary = mediaAddresses(config);
  const { defaultFamily, other } = familyHosts(config);
  const secondary = other ? { bind: other, advertised: other } : undefined;
  return {
    defaultFamily,
    forFamily: (family) => (family === undefined || family === defaultFamily || !secondary ? primary : secondary),
  };
}

/**
 * The default family (of the media bind address; never a name, the schema takes IP addresses) and the transport host
 * of the other family, if any: without one every leg gets the default addresses, whatever its peer's family.
 */
function familyHosts(config: Pick<B2buaServerConfig, 'mediaAddress' | 'transport'>): { defaultFamily: IpFamily; other: string | undefined } {
  const defaultFamily = ipFamily(bindAddress(config)) ?? 4;
  return { defaultFamily, other: transportHosts(config.transport).find((h) => ipFamily(h) !== defaultFamily && !WILDCARDS.has(h)) };
}

/** Media addresses in both families (familyAddresses() has a second one) without looking at the interfaces: a leg's family matters only then. */
export function mediaDualStack(config: Pick<B2buaServerConfig, 'mediaAddress' | 'transport'>): boolean {
  return familyHosts(config).other !== undefined;
}
