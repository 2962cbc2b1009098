/** The final response a coded error ends a SIP transaction with. */
import { B2buaError } from '../errors/index.js';
import { reasonPhrase } from '../sip/message.js';

/** A B2buaError with a SIP status → `[status, 'Reason Phrase (reason)']` (the reason without its code); anything else → undefined. */
export function errorResponse(e: unknown): [number, string] | undefined {
  return e instanceof B2buaError && e.status !== undefined ? [e.status, `${reasonPhrase(e.status)} (${e.reason})`] : undefined;
}
