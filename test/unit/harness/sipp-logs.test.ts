/** The sipp trace parsers and scenario templating used by the e2e assertions. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { received, renderScenario, shortLogEntries, sipMessages, sipSequence } from '../../harness/sipp.js';

const MESSAGE_LOG = [
  '----------------------------------------------- 2026-11-26 11:22:03.620600',
  'UDP message sent (100 bytes):',
  '',
  'INVITE sip:bob@127.0.0.1:5071 SIP/2.0\r',
  'CSeq: 1 INVITE\r',
  '',
  '----------------------------------------------- 2026-11-26 11:22:04.630361',
  'UDP message received [482] bytes :',
  '',
  'NOTIFY sip:alice@127.0.0.1:5070 SIP/2.0\r',
  'Content-Type: message/sipfrag\r',
  '\r',
  'SIP/2.0 200 OK\r',
  '',
].join('\n');

const SHORT_LOG =
  '2026-11-26\t11:22:03.620600\t1795692123.620600\tS\t1-1@127.0.0.1\tCSeq:1 INVITE\tINVITE sip:bob@127.0.0.1:5071 SIP/2.0\n' +
  '2026-11-26\t11:22:03.622017\t1795692123.622017\tR\t1-1@127.0.0.1\tCSeq:1 INVITE\tSIP/2.0 200 OK\n';

describe('harness sipp logs', () => {
  it('splits a -trace_msg log into sent and received messages', () => {
    const msgs = sipMessages(MESSAGE_LOG);
    assert.deepEqual(msgs.map((m) => m.direction), ['sent', 'received']);
    assert.match(msgs[1]!.text, /^NOTIFY [\s\S]*SIP\/2.0 200 OK/);
    assert.equal(received(MESSAGE_LOG, /^NOTIFY /).length, 1);
    assert.equal(received(MESSAGE_LOG, /^INVITE /).length, 0, 'a sent INVITE is not a received one');
  });

  it('reads the short message log with times', () => {
    assert.deepEqual(sipSequence(SHORT_LOG), ['S INVITE sip:bob@127.0.0.1:5071 SIP/2.0', 'R SIP/2.0 200 OK']);
    const e = shortLogEntries(SHORT_LOG);
    assert.equal(e.length, 2);
    assert.ok(Math.abs(e[1]!.time - e[0]!.time - 0.001417) < 1e-6);
  });

  it('renders @TOKEN@ templates and refuses a missing value', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sipp-render-'));
    const out = renderScenario('uas_error.xml', dir, 't', { CODE: 603, REASON: 'Decline' });
    assert.match(fs.readFileSync(out, 'utf8'), /SIP\/2.0 603 Decline/);
    assert.throws(() => renderScenario('uas_error.xml', dir, 'u', { CODE: 603 }), /@REASON@/);
    fs.rmSync(dir, { recursive: true });
  });
});
