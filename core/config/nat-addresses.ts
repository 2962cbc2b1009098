/**
 * `nat-addresses` as Flexisip reads it (src/utils/configuration/transport.cc configureNatAddresses): each entry, an IP
 * address or a host name, becomes the first address getaddrinfo gives for it; at most one IPv4 and one IPv6 in all.
 * Done once at start-up (and by --check-config): a name that does not resolve refuses the start with the reason.
 */
import dns from 'node:dns';
import net from 'node:net';
import { deepFreeze } from './freeze.js';
import { B2BUA_SECTION, type LoadedConfig } from './load.js';

export type Lookup = (host: string) => Promise<{ address: string; family: number }>;

const systemLookup: Lookup = (host) => dns.promises.lookup(host);

/** The addresses to announce, or the problems (`[b2bua-server] nat-addresses: ...`). */
export async function resolveNatAddresses(entries: readonly string[], lookup: Lookup = systemLookup): Promise<{ addresses: string[]; problems: string[] }> {
  const addresses: string[] = [];
  const problems: string[] = [];
  const byFamily = new Map<number, string>();
  for (const entry of entries) {
    let address: string;
    if (net.isIP(entry)) {
      address = entry;
    } else {
      try {
        address = (await lookup(entry)).address;
      } catch (e) {
        problems.push(`nat-addresses: "${entry}" does not resolve (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); write the host's public IP address, or fix its DNS`);
        continue;
      }
    }
    const family = net.isIP(address);
    const known = byFamily.get(family);
    if (known !== undefined) {
      problems.push(`nat-addresses: "${entry}" gives a second IPv${family} address (${address}, after ${known}): at most one IPv4 and one IPv6, as Flexisip`);
      continue;
    }
    byFamily.set(family, address);
    addresses.push(address);
  }
  return { addresses, problems };
}

/** The configuration with `nat-addresses` resolved (unchanged when it names no host), or the problems, located in the file. */
export async function withNatAddressesResolved(config: LoadedConfig, lookup?: Lookup): Promise<{ config: LoadedConfig; problems: string[] }> {
  const entries = config.server.natAddresses;
  if (entries.every((e) => net.isIP(e) !== 0)) return { config, problems: [] };
  const { addresses, problems } = await resolveNatAddresses(entries, lookup);
  const located = problems.map((p) => `${config.file} [${B2BUA_SECTION}] ${p}`);
  return { config: { ...config, server: deepFreeze({ ...config.server, natAddresses: addresses }) }, problems: located };
}
