/** Leg A as plugins see it (IncomingCall) and leg B's default target, as Flexisip does it. */
import type { CallRecordValue, IncomingCall, LegBTarget, OfferedMedia } from '../plugin-api/index.js';
import type { NameAddr } from '../vocabulary/index.js';
import { formatNameAddr, parseNameAddr } from '../sip/headers.js';
import type { SipRequest } from '../sip/message.js';
import type { HostPort } from '../sip/transport.js';
import type { TransportProtocol } from '../sip/uri.js';

function withoutTag(na: NameAddr): NameAddr {
  const { tag: _tag, ...params } = na.params;
  return { displayName: na.displayName, uri: na.uri, params };
}

export function buildIncomingCall(
  id: string, invite: SipRequest, transport: TransportProtocol, source: HostPort, offeredMedia: OfferedMedia,
  annotate: (key: string, value: CallRecordValue) => void,
): IncomingCall {
  return Object.freeze({
    id,
    legA: Object.freeze({
      callId: invite.callId,
      requestUri: invite.uri,
      from: Object.freeze(invite.from),
      to: Object.freeze(invite.to),
      header: (name: string) => invite.get(name),
      transport,
      source: Object.freeze({ ...source }),
    }),
    offeredMedia: Object.freeze(offeredMedia),
    data: new Map<string, unknown>(),
    annotate,
  });
}

/** Flexisip: Request-URI and To = leg A To URI, From = leg A From (display name kept), outbound-proxy. */
export function defaultLegBTarget(call: IncomingCall, outboundProxy: string): LegBTarget {
  return {
    requestUri: call.legA.to.uri,
    to: call.legA.to.uri,
    from: formatNameAddr(withoutTag(call.legA.from)),
    outboundProxy: outboundProxy || undefined,
    headers: {},
  };
}

/** A plugin may give `from` / `to` as a bare URI or a name-addr; we always send a name-addr without tag. */
export function asNameAddr(value: string): string | undefined {
  const v = value.trim();
  const na = parseNameAddr(v.includes('<') ? v : `<${v}>`);
  return na ? formatNameAddr(withoutTag(na)) : undefined;
}
