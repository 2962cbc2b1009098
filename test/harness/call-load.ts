/**
 * A load generator of concurrent calls through the b2bua with our own endpoints (srtp-call.ts): N calls set up
 * together, each streaming a fixed number of packets both ways at 50 packets/s, then hung up once every stream
 * has finished and drained. Per call, what one end sent is matched (by SSRC) with what the other end received
 * and authenticated. Used by the e2e load test and bench/b2bua-calls.ts.
 */
import type { SipUa } from './sip-ua.js';
import { placeCall, type Answerer, type CallSide, type Encryption, type PlacedCall } from './srtp-call.js';
import { sleep, waitUntil } from './wait.js';

export interface CallDelivery {
  readonly callerSent: number;
  readonly calleeReceived: number;
  readonly calleeSent: number;
  readonly callerReceived: number;
  readonly authFailures: number;
}

export interface LoadResult {
  readonly calls: number;
  readonly established: number;
  /** Why each failed call failed. */
  readonly failures: string[];
  /** Setup times (INVITE to 200 OK) of the established calls, ms, sorted. */
  readonly setupMs: number[];
  readonly perCall: CallDelivery[];
  readonly sent: number;
  readonly delivered: number;
  readonly authFailures: number;
  /** Calls whose callee side could not be matched by SSRC. */
  readonly unmatched: number;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export async function runConcurrentCalls(o: {
  readonly caller: SipUa;
  readonly answerer: Answerer;
  readonly target: string;
  readonly calls: number;
  readonly legA: Encryption;
  /** Packets each way per call (50 = 1 s). */
  readonly packets: number;
  /** INVITEs are spread over this many ms (default 1000). */
  readonly spreadMs?: number;
  readonly callerFrequency?: number;
  /** Called once every call is established and streaming (e.g. to sample CPU). */
  readonly whileStreaming?: () => Promise<void>;
}): Promise<LoadResult> {
  const spread = o.spreadMs ?? 1000;
  const failures: string[] = [];
  const placed = await Promise.all(Array.from({ length: o.calls }, async (_, i): Promise<PlacedCall | undefined> => {
    await sleep((spread * i) / o.calls);
    try {
      return await placeCall(o.caller, o.target, o.legA, { frequency: o.callerFrequency ?? 440, keepAudio: false, maxPackets: o.packets });
    } catch (e) {
      failures.push(`call ${i}: ${(e as Error).message}`);
      return undefined;
    }
  }));
  const up = placed.filter((c): c is PlacedCall => c !== undefined);
  const whileStreaming = o.whileStreaming?.();
  const streamMs = (o.packets * 20) + spread + 5000;
  const calleeCalls = (): CallSide[] => [...o.answerer.calls.values()];
  const finished = (c: CallSide): boolean => c.media.totalSent() >= o.packets;
  await waitUntil('every stream sent its packets', () => (up.every(finished) && calleeCalls().every(finished) ? true : undefined), streamMs, 50)
    .catch(() => undefined); // accounted below as undelivered
  await whileStreaming;
  await sleep(500); // in flight through the b2bua
  for (const c of [...up, ...calleeCalls()]) c.media.stop();
  await Promise.all(up.map((c) => c.dialog.bye().catch((e: Error) => failures.push(`BYE ${c.dialog.callId}: ${e.message}`))));

  const perCall: CallDelivery[] = [];
  let unmatched = 0;
  for (const a of up) {
    const b = calleeCalls().find((x) => x.media.received.has(a.media.ssrc));
    if (!b) unmatched++;
    perCall.push({
      callerSent: a.media.totalSent(),
      calleeReceived: b?.media.received.get(a.media.ssrc)?.count ?? 0,
      calleeSent: b?.media.totalSent() ?? o.packets,
      callerReceived: b ? a.media.received.get(b.media.ssrc)?.count ?? 0 : 0,
      authFailures: a.media.authFailures + (b?.media.authFailures ?? 0),
    });
  }
  const failedCalls = o.calls - up.length;
  const sent = perCall.reduce((n, c) => n + c.callerSent + c.calleeSent, 0) + failedCalls * 2 * o.packets;
  const delivered = perCall.reduce((n, c) => n + c.calleeReceived + c.callerReceived, 0);
  for (const c of up) c.media.close();
  return {
    calls: o.calls,
    established: up.length,
    failures,
    setupMs: up.map((c) => c.setupMs).sort((x, y) => x - y),
    perCall,
    sent,
    delivered,
    authFailures: perCall.reduce((n, c) => n + c.authFailures, 0),
    unmatched,
  };
}
