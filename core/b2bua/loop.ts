/**
 * Proxy loop avoidance, as with Flexisip 2.5.
 *
 * Flexisip's B2BUA marks leg B's INVITE with `X-Flexisip-B2BUA: ignore` (src/b2bua/b2bua-server.cc:157-158,
 * name in b2bua-server.hh:53), and the proxy's module::B2bua routes every INVITE and CANCEL to the B2BUA unless its
 * User-Agent is exactly `[b2bua-server] user-agent` with `{version}` expanded to the *proxy's* version
 * (src/module-b2bua.cc:109-112, 118-131); the proxy does not read the marker header. When the two
 * User-Agents differ (e.g. `{version}` on a proxy of another version, or a Kamailio rule with another string), the
 * proxy sends our own leg B back to us: without a check we would take it for a new call, make another leg B, and so on
 * until Max-Forwards runs out.
 *
 * Our rule: a new INVITE (no To tag) is our own leg B when its Call-ID **and** From tag are those of a leg B we are
 * calling or in a call with. Proxies keep both; both are random tokens we made (128 and 64 random bits), so nobody can
 * hit a live leg B without having seen it, and whoever has seen it only gets their own INVITE refused. Such an INVITE
 * is answered 482 Loop Detected (B2BUA_SIP_LOOP): leg B then fails with 482 and so does leg A, after exactly one
 * extra INVITE. The marker header and the User-Agent alone decide nothing: anyone can copy them, and a Flexisip
 * B2BUA of another domain (the same default User-Agent) legitimately sends INVITEs carrying both; such an INVITE is
 * served as a new call (and logged).
 */
import type { SipRequest } from '../sip/message.js';

/** Flexisip's marker on leg B's INVITE (b2bua-server.hh:53, b2bua-server.cc:158). */
export const MARKER_HEADER = 'X-Flexisip-B2BUA';
export const MARKER_VALUE = 'ignore';

export type LoopVerdict =
  /** Our own leg B of call `call` came back. */
  | { readonly loop: true; readonly call: string }
  /** A new call; `marker`: it carries X-Flexisip-B2BUA (copied, or another B2BUA's), `ourUserAgent`: with our User-Agent. */
  | { readonly loop: false; readonly marker: boolean; readonly ourUserAgent: boolean };

/**
 * Is this new INVITE our own leg B come back? `legBOf(callId, fromTag)` names the live call whose leg B has this
 * Call-ID and our tag, if any.
 */
export function loopVerdict(req: SipRequest, legBOf: (callId: string, fromTag: string) => string | undefined, userAgent: string): LoopVerdict {
  const fromTag = req.fromTag;
  const call = fromTag ? legBOf(req.callId, fromTag) : undefined;
  if (call !== undefined) return { loop: true, call };
  return {
    loop: false,
    marker: req.has(MARKER_HEADER.toLowerCase()),
    ourUserAgent: (req.get('user-agent') ?? '').trim() === userAgent,
  };
}
