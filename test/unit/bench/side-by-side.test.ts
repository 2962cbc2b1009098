import assert from 'node:assert/strict';
import { bdecode, bencode } from '../../../bench/side-by-side/ng.js';
import { callsAt } from '../../../bench/side-by-side/procs.js';

describe('bench side-by-side: ng bencode', () => {
  it('encodes dictionaries with sorted keys, lists, integers and UTF-8 strings (byte lengths)', () => {
    const b = bencode({ sdp: 'v=0\r\n', command: 'offer', 'rtcp-mux': ['accept'], n: -3, é: 'ü' });
    assert.equal(b.toString('utf8'), 'd7:command5:offer1:ni-3e8:rtcp-muxl6:accepte3:sdp5:v=0\r\n2:é2:üe');
  });

  it('decodes what it encodes, and an rtpengine reply', () => {
    const v = { result: 'ok', sdp: 'v=0\r\nm=audio 40000 RTP/SAVP 0\r\n', list: [1, 'a', { x: [] }] };
    assert.deepEqual(bdecode(bencode(v)), v);
    assert.deepEqual(bdecode(Buffer.from('d6:result5:error12:error-reason12:Unknown calle')), { result: 'error', 'error-reason': 'Unknown call' });
  });

  it('refuses truncated or trailing input', () => {
    assert.throws(() => bdecode(Buffer.from('d6:result2:ok')), /unterminated|unexpected/);
    assert.throws(() => bdecode(Buffer.from('i1ei2e')), /trailing/);
  });
});

describe('bench side-by-side: calls per core at a CPU target', () => {
  it('interpolates between the levels around the target', () => {
    assert.deepEqual(callsAt([{ n: 100, cpu: 40 }, { n: 200, cpu: 90 }], 80), { calls: 180, extrapolated: false });
  });

  it('interpolates from the origin when the first level is already above the target', () => {
    assert.deepEqual(callsAt([{ n: 100, cpu: 160 }], 80), { calls: 50, extrapolated: false });
  });

  it('extrapolates through the origin from the last level when none reached the target', () => {
    assert.deepEqual(callsAt([{ n: 10, cpu: 5 }, { n: 25, cpu: 20 }], 80), { calls: 100, extrapolated: true });
    assert.equal(callsAt([], 80), null);
  });
});
