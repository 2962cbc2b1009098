/**
 * The IP family of each leg's peer, for its media address (liblinphone takes the local address of the family the
 * peer's signalling uses): leg A's from the address its INVITE came from, leg B's from where its INVITE goes.
 */
import net from 'node:net';
import { resolveTarget } from '../sip/resolve.js';

export type LegFamily = 4 | 6 | undefined;

function familyOfAddress(address: string): LegFamily {
  if (/^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(address)) return 4;
  const f = net.isIP(address);
  return f === 4 || f === 6 ? f : undefined;
}

/** `destination`: leg B's outbound proxy or Request-URI; a name that does not resolve leaves leg B's family to the default (its INVITE then fails on its own). */
export async function legFamilies(sourceA: string, destinationB: string): Promise<{ a: LegFamily; b: LegFamily }> {
  const b = await resolveTarget(destinationB).then((t) => familyOfAddress(t.address), () => undefined);
  return { a: familyOfAddress(sourceA), b };
}
