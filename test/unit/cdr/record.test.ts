import assert from 'node:assert/strict';
import { buildCallRecord, endSide, type CallRecordInput } from '../../../core/cdr/record.js';

const T0 = Date.parse('2026-01-02T10:00:00.000Z');

function input(over: Partial<CallRecordInput>): CallRecordInput {
  return {
    id: 'c1-abcd',
    legA: { callId: 'a-1', from: 'sip:alice@example.org', to: 'sip:bob@example.org' },
    legB: { callId: 'b-1', from: 'sip:alice@example.org', to: 'sip:bob@example.org', requestUri: 'sip:bob@10.0.0.2' },
    startedAt: T0, answeredAt: 0, endedAt: T0 + 5000,
    reason: 'caller-bye', refusedByCallee: false, decision: new Map(),
    ...over,
  };
}

describe('call detail record: building', () => {
  it('answered call ended by the caller: answer time, duration from the answer, media report, decision', () => {
    const r = buildCallRecord(input({
      answeredAt: T0 + 1500, endedAt: T0 + 9000, reason: 'caller-bye',
      decision: new Map<string, string | number | boolean>([['provider', 'ITSP'], ['account', 'sip:line1@itsp']]), media: { a: [{ packets: 3 }], b: [] },
    }));
    assert.deepEqual(r, {
      id: 'c1-abcd',
      legA: { callId: 'a-1', from: 'sip:alice@example.org', to: 'sip:bob@example.org' },
      legB: { callId: 'b-1', from: 'sip:alice@example.org', to: 'sip:bob@example.org', requestUri: 'sip:bob@10.0.0.2' },
      startedAt: '2026-01-02T10:00:00.000Z', answeredAt: '2026-01-02T10:00:01.500Z', endedAt: '2026-01-02T10:00:09.000Z',
      durationMs: 7500, reason: 'caller-bye', result: 'answered', endedBy: 'caller',
      decision: { provider: 'ITSP', account: 'sip:line1@itsp' }, media: { a: [{ packets: 3 }], b: [] },
    });
    assert.deepEqual(JSON.parse(JSON.stringify(r)), r, 'JSON as it is');
  });

  it('486 from the callee: no answer time, duration 0, reason and result of the refusal, ended by the callee', () => {
    const r = buildCallRecord(input({ reason: 'rejected 486', refusedByCallee: true }));
    assert.equal(r.answeredAt, undefined);
    assert.equal('answeredAt' in r, false, 'absent, not undefined, in the JSON');
    assert.equal(r.durationMs, 0);
    assert.equal(r.reason, 'rejected 486');
    assert.equal(r.result, 'rejected_4xx');
    assert.equal(r.endedBy, 'callee');
  });

  it('the same status refused by a hook (sip-bridge 488, no route) is the server\'s doing, not the callee\'s', () => {
    const r = buildCallRecord(input({ reason: 'rejected 488', refusedByCallee: false, legB: undefined }));
    assert.equal(r.endedBy, 'b2bua');
    assert.equal('legB' in r, false, 'no leg B sent: no legB');
  });

  it('CANCEL by the caller while ringing', () => {
    const r = buildCallRecord(input({ reason: 'cancelled', endedAt: T0 + 800 }));
    assert.equal(r.endedBy, 'caller');
    assert.equal(r.result, 'cancelled');
    assert.equal(r.durationMs, 0);
    assert.equal(r.endedAt, '2026-01-02T10:00:00.800Z');
  });

  it('BYE from the callee vs from the caller; timers, media and shutdown are the server\'s', () => {
    assert.equal(endSide('callee-bye', false), 'callee');
    assert.equal(endSide('caller-bye', false), 'caller');
    for (const reason of ['shutdown', 'no-rtp-timeout', 'max-call-duration', 'session-expired', 'ringing-timeout', 'no-ack', 'media-failed', 'rejected 500']) {
      assert.equal(endSide(reason, false), 'b2bua', reason);
    }
    const callee = buildCallRecord(input({ reason: 'callee-bye', answeredAt: T0 + 100 }));
    assert.equal(callee.endedBy, 'callee');
    assert.equal(callee.durationMs, 4900);
  });
});
