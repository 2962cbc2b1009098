/**
 * Call detail records: what a call was, built once at its end (core/b2bua/call.ts teardown) and emitted by
 * `hooks.callRecord`; core/cdr/sink.ts writes them to the log or to a file. The result class is the one the
 * calls-ended metric uses (core/b2bua/call-results.ts).
 */
import { callResult } from '../b2bua/call-results.js';
import type { CallDetailRecord, CallEndSide, CallRecordLeg, CallRecordValue } from '../plugin-api/index.js';

export interface CallRecordInput {
  readonly id: string;
  readonly legA: CallRecordLeg;
  readonly legB?: (CallRecordLeg & { readonly requestUri: string }) | undefined;
  /** Epoch milliseconds; answeredAt 0 = never answered. */
  readonly startedAt: number;
  readonly answeredAt: number;
  readonly endedAt: number;
  readonly reason: string;
  /** Leg B answered its INVITE with a final error: that `rejected <status>` is the callee's, not a hook's nor ours. */
  readonly refusedByCallee: boolean;
  readonly decision: ReadonlyMap<string, CallRecordValue>;
  readonly media?: Readonly<Record<string, unknown>> | undefined;
}

/** Who ended the call, from its end reason (core/b2bua/call.ts, in-dialog.ts). */
export function endSide(reason: string, refusedByCallee: boolean): CallEndSide {
  if (reason === 'caller-bye' || reason === 'cancelled') return 'caller';
  if (reason === 'callee-bye' || (refusedByCallee && reason.startsWith('rejected '))) return 'callee';
  return 'b2bua';
}

export function buildCallRecord(input: CallRecordInput): CallDetailRecord {
  const iso = (ms: number): string => new Date(ms).toISOString();
  const answered = input.answeredAt > 0;
  return {
    id: input.id,
    legA: input.legA,
    ...(input.legB ? { legB: input.legB } : {}),
    startedAt: iso(input.startedAt),
    ...(answered ? { answeredAt: iso(input.answeredAt) } : {}),
    endedAt: iso(input.endedAt),
    durationMs: answered ? Math.max(0, input.endedAt - input.answeredAt) : 0,
    reason: input.reason,
    result: callResult(input.reason, answered),
    endedBy: endSide(input.reason, input.refusedByCallee),
    decision: Object.fromEntries(input.decision),
    ...(input.media ? { media: input.media } : {}),
  };
}
