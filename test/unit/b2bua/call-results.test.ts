import assert from 'node:assert/strict';
import { callResult } from '../../../core/b2bua/call-results.js';

describe('callResult: the bounded vocabulary of /metrics calls_ended_total', () => {
  it('an answered call is answered whatever ended it', () => {
    assert.equal(callResult('caller-bye', true), 'answered');
    assert.equal(callResult('no-rtp-timeout', true), 'answered');
  });
  it('refusals by class, CANCEL, timeouts, media failures, shutdown; anything else is other', () => {
    const cases: [string, string][] = [
      ['rejected 486', 'rejected_4xx'], ['rejected 302', 'rejected_3xx'], ['rejected 503', 'rejected_5xx'], ['rejected 603', 'rejected_6xx'],
      ['cancelled', 'cancelled'], ['ringing-timeout', 'timeout'], ['no-ack', 'timeout'], ['media-failed', 'media_failure'],
      ['bad-answer', 'media_failure'], ['shutdown', 'shutdown'], ['rejected 4861', 'other'], ['something new', 'other'],
    ];
    for (const [reason, result] of cases) assert.equal(callResult(reason, false), result, reason);
  });
});
