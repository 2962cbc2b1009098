/**
 * How a request whose method we do not take is refused, in and out of dialog: 405 for a method RFC 3261 or its
 * extensions define, 501 for any other (RFC 3261 §8.2.1, §21.5.2), both with Allow listing what we handle (§21.4.6).
 */

/** The methods we handle, as sent in Allow. */
export const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY, MESSAGE, SUBSCRIBE';

const KNOWN_METHODS = new Set([...ALLOW.split(', '), 'REGISTER', 'PRACK', 'PUBLISH']);

export function methodRefusal(method: string): 405 | 501 {
  return KNOWN_METHODS.has(method) ? 405 : 501;
}
