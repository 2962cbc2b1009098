/**
 * The IP family of each leg's peer, for its media address (liblinphone takes the local address of the family the
 * peer's signalling uses): leg A's from the address its INVITE came from, leg B's from where its INVITE goes.
 * Only with media addresses in both families (core/media/addresses.ts familyAddresses) does a family change a leg's
 * addresses: otherwise leg B's destination is not resolved here (the stack resolves it once, when it sends the INVITE).
 */
import type { B2buaServerConfig } from '../config/server-config.js';
import { ipFamily, mediaDualStack, type IpFamily } from '../media/addresses.js';
import { resolveTarget } from '../sip/resolve.js';

export type LegFamily = IpFamily | undefined;

type FamilyConfig = Pick<B2buaServerConfig, 'mediaAddress' | 'transport'>;

/** mediaDualStack() per configuration object (a call reads it; the configuration does not change under a server). */
const dualStackOf = new WeakMap<FamilyConfig, boolean>();

function dualStack(config: FamilyConfig): boolean {
  let d = dualStackOf.get(config);
  if (d === undefined) { d = mediaDualStack(config); dualStackOf.set(config, d); }
  return d;
}

/**
 * `destinationB`: leg B's outbound proxy or Request-URI; a name that does not resolve leaves leg B's family to the
 * default (its INVITE then fails on its own). One media family: leg B's is left undefined (the default addresses, which
 * it would get whatever its family), with no lookup.
 */
export async function legFamilies(config: FamilyConfig, sourceA: string, destinationB: string): Promise<{ a: LegFamily; b: LegFamily }> {
  const a = ipFamily(sourceA);
  if (!dualStack(config)) return { a, b: undefined };
  const b = await resolveTarget(destinationB).then((t) => ipFamily(t.address), () => undefined);
  return { a, b };
}
