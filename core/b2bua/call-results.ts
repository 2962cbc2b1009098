/**
 * How a call ended, in a small fixed vocabulary (bounded label values for /metrics), and who listens for it.
 */

export type CallResult =
  | 'answered' | 'cancelled' | 'timeout' | 'media_failure' | 'shutdown' | 'rejected_3xx' | 'rejected_4xx' | 'rejected_5xx' | 'rejected_6xx' | 'other';

export interface CallEnded {
  readonly result: CallResult;
  /** INVITE received → 200 OK sent on leg A; undefined when the call was never answered. */
  readonly setupMs: number | undefined;
}

/** The result of a call from its end reason (core/b2bua/call.ts end()) and whether it was answered. */
export function callResult(reason: string, answered: boolean): CallResult {
  if (answered) return 'answered';
  const rejected = /^rejected ([3-6])\d\d$/.exec(reason);
  if (rejected) return `rejected_${rejected[1] as '3' | '4' | '5' | '6'}xx`;
  switch (reason) {
    case 'cancelled': return 'cancelled';
    case 'ringing-timeout': case 'no-ack': return 'timeout';
    case 'media-failed': case 'no-rtp-timeout': case 'bad-answer': return 'media_failure';
    case 'shutdown': return 'shutdown';
    default: return 'other';
  }
}
