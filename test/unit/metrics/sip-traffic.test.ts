import assert from 'node:assert/strict';
import { classifySipBytes, classifySipMessage, methodLabel, statusLabel } from '../../../core/metrics/sip-traffic.js';
import { parseMessage } from '../../../core/sip/message.js';

const bytes = (s: string): Buffer => Buffer.from(s.replace(/\n/g, '\r\n'), 'latin1');

describe('/metrics SIP label vocabularies', () => {
  it('a method outside the fixed vocabulary is "other" (methods are case-sensitive)', () => {
    assert.equal(methodLabel('INVITE'), 'INVITE');
    assert.equal(methodLabel('PRACK'), 'PRACK');
    assert.equal(methodLabel('X-FOO'), 'other');
    assert.equal(methodLabel('invite'), 'other');
    assert.equal(methodLabel(''), 'other');
  });

  it('a status outside the listed codes is its class; out of range is "other"', () => {
    assert.equal(statusLabel(486), '486');
    assert.equal(statusLabel(200), '200');
    assert.equal(statusLabel(299), '2xx');
    assert.equal(statusLabel(499), '4xx');
    assert.equal(statusLabel(99), 'other');
    assert.equal(statusLabel(700), 'other');
  });

  it('classifies a request by its request line and a response by its status and CSeq method', () => {
    assert.deepEqual(classifySipBytes(bytes('INVITE sip:bob@example.org SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nCSeq: 1 INVITE\n\n')), { kind: 'request', method: 'INVITE' });
    assert.deepEqual(classifySipBytes(bytes('X-FOO sip:bob@example.org SIP/2.0\nCSeq: 1 X-FOO\n\n')), { kind: 'request', method: 'other' });
    assert.deepEqual(classifySipBytes(bytes('SIP/2.0 486 Busy Here\nVia: SIP/2.0/UDP h\ncseq:  7   INVITE\n\n')), { kind: 'response', code: '486', method: 'INVITE' });
    assert.deepEqual(classifySipBytes(bytes('SIP/2.0 299 Odd\nCSeq: 2 BYE\n\n')), { kind: 'response', code: '2xx', method: 'BYE' });
    assert.deepEqual(classifySipBytes(bytes('SIP/2.0 200 OK\n\n')), { kind: 'response', code: '200', method: 'other' }, 'no CSeq');
  });

  it('keep-alives and what is not SIP count nothing', () => {
    assert.equal(classifySipBytes(Buffer.from('\r\n\r\n')), undefined);
    assert.equal(classifySipBytes(Buffer.from('')), undefined);
    assert.equal(classifySipBytes(Buffer.from('GET / HTTP/1.1\r\n\r\n')), undefined);
  });

  it('labels a parsed message (what the stack counts) as its bytes would be labelled', () => {
    const wire = [
      'INVITE sip:bob@example.org SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=1\nTo: <sip:bob@example.org>\nCall-ID: c1\nCSeq: 1 INVITE\nMax-Forwards: 70\nContent-Length: 0\n\n',
      'X-FOO sip:bob@example.org SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK2\nFrom: <sip:a@h>;tag=1\nTo: <sip:bob@example.org>\nCall-ID: c2\nCSeq: 1 X-FOO\nContent-Length: 0\n\n',
      'SIP/2.0 486 Busy Here\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>;tag=2\nCall-ID: c1\ncseq:  7   INVITE\nContent-Length: 0\n\n',
      'SIP/2.0 299 Odd\nVia: SIP/2.0/UDP h;branch=z9hG4bK3\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>;tag=2\nCall-ID: c3\nCSeq: 2 BYE\nContent-Length: 0\n\n',
    ];
    for (const w of wire) {
      const parsed = parseMessage(bytes(w));
      assert.ok(parsed.ok, w);
      assert.deepEqual(classifySipMessage(parsed.message), classifySipBytes(bytes(w)), w);
    }
  });
});
