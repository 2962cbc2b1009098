/**
 * The two narrow faces around a call: `CallContext`, what a call uses of the server (stack, hooks,
 * media engine, config, the registry of legs), and `CallInDialog`, what the call's in-dialog helpers
 * (offer exchange, transfer) use of the call. Nothing here imports call.ts, so the call and its
 * helpers do not import each other.
 */
import type { B2buaServerConfig } from '../config/server-config.js';
import type { MediaEngine } from '../media/types.js';
import type { B2buaHooks, IncomingCall, LegBTarget } from '../plugin-api/index.js';
import type { Dialog } from '../sip/dialog.js';
import type { SipRequest, SipResponse } from '../sip/message.js';
import type { SipStack } from '../sip/stack.js';
import type { TimerHandle } from '../sip/timers.js';
import type { LegId, Logger } from '../vocabulary/index.js';
import type { MediaBridge } from './media-bridge.js';
import type { SessionTimer } from './session-timer.js';

export type CallState = 'routing' | 'calling' | 'early' | 'answered' | 'confirmed' | 'ended';

/** The part of a call that re-INVITE / UPDATE handling and transfers use. */
export interface CallInDialog {
  readonly log: Logger;
  readonly state: CallState;
  readonly ended: boolean;
  readonly bridge: MediaBridge | undefined;
  readonly sessionTimers: Partial<Record<LegId, SessionTimer>>;
  /** What the hooks saw of leg A, and leg B's target (for the transferTarget hook). */
  readonly incoming: IncomingCall | undefined;
  readonly target: LegBTarget | undefined;
  dialogOf(leg: LegId): Dialog | undefined;
  /** Send a request in a leg's dialog; resolves with the final response. */
  sendInDialog(leg: LegId, req: SipRequest): Promise<SipResponse>;
  end(reason: string): Promise<void>;
  /** A timer cancelled at teardown. */
  addTimer(t: TimerHandle): void;
}

/** What a call uses of the server; `C` is the server's call type (the registry hands calls back). */
export interface CallContext<C extends Pick<CallInDialog, 'dialogOf'> = CallInDialog> {
  readonly stack: SipStack;
  readonly hooks: B2buaHooks;
  readonly media: MediaEngine;
  readonly config: B2buaServerConfig;
  readonly log: Logger;
  contact(): string;
  capabilities(res: { set(name: string, value: string): unknown }): void;
  register(call: C, leg: LegId, callId: string, localTag: string): void;
  unregister(call: C): void;
  /** The call whose leg A dialog is (callId, our tag, their tag) — for Replaces. */
  findByDialog(callId: string, tagA: string, tagB: string): { call: C; leg: LegId } | undefined;
  ended(call: C): void;
}
