/** The final response a failure ends leg A's INVITE with: coded errors, hooks' rejections, leg B's refusals. */
import { B2buaError, entryOf, isB2buaError } from '../errors/index.js';
import { CallRejection } from '../plugin-api/index.js';
import { reasonPhrase, type SipResponse } from '../sip/message.js';
import { OVERLOAD_RETRY_AFTER_S } from './admission.js';

/**
 * A B2buaError with a SIP status → `[status, 'Reason Phrase (reason)']` (the reason without its code), or only
 * `'Reason Phrase'` when the catalog marks the message `generic` (it shows our configuration); anything else → undefined.
 */
export function errorResponse(e: unknown): [number, string] | undefined {
  if (!(e instanceof B2buaError) || e.status === undefined) return undefined;
  return [e.status, entryOf(e.code).generic ? reasonPhrase(e.status) : `${reasonPhrase(e.status)} (${e.reason})`];
}

/** Seconds a caller is asked to wait (Retry-After) when our media ports are all in use: calls end within seconds to minutes. */
export const PORTS_EXHAUSTED_RETRY_AFTER_S = 5;

/** The host[:port] of our Contact URI: the warn-agent of a Warning header (RFC 3261 section 20.43). */
function warnAgent(contact: string): string {
  return /^sips?:(?:[^@]*@)?([^;>?]+)/.exec(contact)?.[1] ?? 'b2bua-server';
}

/**
 * The headers a failure's final response carries besides status and reason: `Warning: 399` (a quoted-string: `"` written `'`) naming what is wrong
 * with an SDP (488 / 400), `Retry-After` when the media ports are exhausted (503).
 */
export function errorHeaders(e: unknown, contact: string): [string, string][] {
  if (isB2buaError(e, 'B2BUA_SDP_INVALID') || isB2buaError(e, 'B2BUA_SDP_UNPARSABLE')) {
    const text = e.reason.replace(/\\/g, '').replace(/"/g, "'").replace(/[\r\n]+/g, ' ').slice(0, 200);
    return [['warning', `399 ${warnAgent(contact)} "${text}"`]];
  }
  if (isB2buaError(e, 'B2BUA_MEDIA_PORTS_EXHAUSTED')) return [['retry-after', String(PORTS_EXHAUSTED_RETRY_AFTER_S)]];
  if (isB2buaError(e, 'B2BUA_MEDIA_OVERLOADED')) return [['retry-after', String(OVERLOAD_RETRY_AFTER_S)]];
  return [];
}

/** A hook's CallRejection, also when thrown by a plugin that resolved its own copy of the plugin API module. */
export function isCallRejection(e: unknown): e is CallRejection {
  return e instanceof CallRejection || (e instanceof Error && e.name === 'CallRejection' && typeof (e as CallRejection).status === 'number');
}

/** Leg B final statuses forwarded with their own code and reason; others become 480. */
export function mapFinalStatus(res: SipResponse): [number, string] {
  if (res.status >= 400) return [res.status, res.reason || reasonPhrase(res.status)];
  return [480, 'Temporarily Unavailable'];
}
