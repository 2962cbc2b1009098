/**
 * SIP requests and responses by method, status and transport, counted from the messages the stack receives and sends
 * (retransmissions included): the parsed message when the stack has one, else its bytes (a malformed message). Label values come from fixed vocabularies: a method outside it is "other", a status
 * outside the listed codes is its class ("4xx").
 */
import { SipResponse, type SipMessage, type SipRequest } from '../sip/message.js';

export const METRIC_METHODS = [
  'INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'SUBSCRIBE', 'NOTIFY', 'PUBLISH', 'INFO', 'REFER', 'MESSAGE', 'UPDATE', 'PRACK',
] as const;
export const METRIC_STATUS_CODES = [
  100, 180, 181, 182, 183, 200, 202, 301, 302, 400, 401, 403, 404, 405, 407, 408, 415, 420, 422, 480, 481, 482, 483, 484, 486, 487, 488, 489, 491, 500, 501, 502, 503, 504, 600, 603, 604, 606,
] as const;
const METHODS: ReadonlySet<string> = new Set(METRIC_METHODS);
const CODES: ReadonlySet<number> = new Set(METRIC_STATUS_CODES);

export type SipWireMessage =
  | { readonly kind: 'request'; readonly method: string }
  | { readonly kind: 'response'; readonly code: string; readonly method: string };

export function methodLabel(method: string): string {
  return METHODS.has(method) ? method : 'other';
}

export function statusLabel(status: number): string {
  if (CODES.has(status)) return String(status);
  return status >= 100 && status <= 699 ? `${Math.floor(status / 100)}xx` : 'other';
}

/** The labels of a message the stack parsed or built (the same as classifySipBytes of its bytes). */
export function classifySipMessage(message: SipMessage): SipWireMessage {
  if (message instanceof SipResponse) return { kind: 'response', code: statusLabel(message.status), method: methodLabel(message.cseq.method) };
  return { kind: 'request', method: methodLabel((message as SipRequest).method) };
}

const HEAD_LIMIT = 8192;

/** The labels of one message's bytes; undefined for keep-alives and what is not SIP. */
export function classifySipBytes(data: Buffer): SipWireMessage | undefined {
  const head = data.subarray(0, HEAD_LIMIT).toString('latin1');
  const firstEnd = head.indexOf('\r\n');
  const first = (firstEnd < 0 ? head : head.slice(0, firstEnd)).trim();
  if (first === '') return undefined;
  const status = /^SIP\/2\.0\s+(\d{3})\b/i.exec(first);
  if (status) {
    const cseq = /\r\n\s*cseq\s*:\s*\d+\s+([A-Za-z-]+)/i.exec(head);
    return { kind: 'response', code: statusLabel(Number(status[1])), method: methodLabel(cseq?.[1] ?? '') };
  }
  const request = /^([A-Za-z-]+)\s+\S+\s+SIP\/2\.0$/i.exec(first);
  return request ? { kind: 'request', method: methodLabel(request[1]!) } : undefined;
}
