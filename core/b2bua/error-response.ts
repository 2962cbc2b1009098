/** The final response a failure ends leg A's INVITE with: coded errors, hooks' rejections, leg B's refusals. */
import { B2buaError } from '../errors/index.js';
import { CallRejection } from '../plugin-api/index.js';
import { reasonPhrase, type SipResponse } from '../sip/message.js';

/** A B2buaError with a SIP status → `[status, 'Reason Phrase (reason)']` (the reason without its code); anything else → undefined. */
export function errorResponse(e: unknown): [number, string] | undefined {
  return e instanceof B2buaError && e.status !== undefined ? [e.status, `${reasonPhrase(e.status)} (${e.reason})`] : undefined;
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
