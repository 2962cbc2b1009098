/** SIP message trace (core/sip/trace.ts): credentials masked in one function, Call-ID found, file trace bounded. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { callIdOf, maskCredentials, SipTrace, traceEntry } from '../../../core/sip/trace.js';
import { silentLogger } from '../../../core/log/index.js';

const INVITE = [
  'INVITE sip:bob@example.org SIP/2.0',
  'Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1',
  'Call-ID: abc123@host',
  'Authorization: Digest username="alice", realm="example.org", nonce="n0nce", uri="sip:bob@example.org", response="6629fae49393a05397450978507c4ef1", cnonce="0a4f113b", nc=00000001, qop=auth',
  'Proxy-Authorization: Digest username="alice",realm="x",nonce="n2",response=deadbeef,cnonce=c0ffee',
  'X-Account: sip:alice@example.org;password=hunter2;transport=udp',
  'Content-Type: application/sdp',
  'Content-Length: 13',
  '',
  'v=0 response=',
].join('\r\n');

describe('SIP trace: credentials masking', () => {
  it('masks digest response and cnonce in Authorization and Proxy-Authorization, keeps username, realm, nonce', () => {
    const masked = maskCredentials(INVITE);
    assert.doesNotMatch(masked, /6629fae49393a05397450978507c4ef1|0a4f113b|deadbeef|c0ffee/);
    assert.match(masked, /Authorization: Digest username="alice", realm="example.org", nonce="n0nce", uri="sip:bob@example.org", response="\*\*\*", cnonce="\*\*\*", nc=00000001/);
    assert.match(masked, /Proxy-Authorization: Digest username="alice",realm="x",nonce="n2",response=\*\*\*,cnonce=\*\*\*/);
  });

  it('masks password-like parameters in any header and a Basic credential; the body is kept as is', () => {
    const masked = maskCredentials(INVITE);
    assert.doesNotMatch(masked, /hunter2/);
    assert.match(masked, /password=\*\*\*;transport=udp/);
    assert.ok(masked.endsWith('\r\n\r\nv=0 response='), 'body unchanged');
    assert.equal(maskCredentials('OPTIONS sip:x SIP/2.0\r\nAuthorization: Basic YWxpY2U6c2VjcmV0\r\n\r\n'), 'OPTIONS sip:x SIP/2.0\r\nAuthorization: Basic ***\r\n\r\n');
    assert.equal(maskCredentials('BYE sip:x SIP/2.0\r\nX-Passwd: s3cr3t\r\n\r\n'), 'BYE sip:x SIP/2.0\r\nX-Passwd: ***\r\n\r\n');
  });

  it('leaves a message without credentials unchanged', () => {
    const msg = 'SIP/2.0 200 OK\r\nCall-ID: x\r\nWWW-Authenticate: Digest realm="r", nonce="n"\r\n\r\n';
    assert.equal(maskCredentials(msg), msg);
  });

  it('finds the Call-ID (full and compact form) in the headers only', () => {
    assert.equal(callIdOf(INVITE), 'abc123@host');
    assert.equal(callIdOf('BYE sip:x SIP/2.0\r\ni: compact@h \r\n\r\nCall-ID: body'), 'compact@h');
    assert.equal(callIdOf('BYE sip:x SIP/2.0\r\n\r\nCall-ID: body'), '');
  });

  it('a trace entry names direction, transport, peer and Call-ID, with the message masked', () => {
    const entry = traceEntry('in', { protocol: 'udp', address: '127.0.0.1', port: 5070 }, INVITE, new Date(0));
    assert.match(entry, /^=== 1970-01-01T00:00:00.000Z received from udp:127.0.0.1:5070 Call-ID: abc123@host \(\d+ bytes\)\nINVITE sip:bob@example.org SIP\/2.0\n/);
    assert.doesNotMatch(entry, /6629fae4/);
  });
});

describe('SIP trace: file', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(path.join(os.tmpdir(), 'b2bua-trace-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const peer = { protocol: 'tcp', address: '::1', port: 5060 };

  it('writes messages in and out between start and stop (owner-only file), nothing after stop', async () => {
    const trace = new SipTrace(silentLogger());
    const file = path.join(dir, 'trace.log');
    trace.record('in', peer, Buffer.from(INVITE)); // before start: not written
    await trace.start(file);
    trace.record('in', peer, Buffer.from(INVITE));
    trace.record('out', peer, Buffer.from('SIP/2.0 100 Trying\r\nCall-ID: abc123@host\r\n\r\n'));
    trace.record('out', peer, Buffer.from('\r\n\r\n')); // keep-alive: not a message
    assert.equal(trace.status().messages, 2);
    await trace.stop();
    trace.record('in', peer, Buffer.from(INVITE));
    const text = readFileSync(file, 'utf8');
    assert.equal(text.match(/^=== /gm)?.length, 2);
    assert.match(text, /sent to tcp:::1:5060 Call-ID: abc123@host/);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(trace.status().file, undefined);
  });

  it('stops by itself at its maximum size', async () => {
    const trace = new SipTrace(silentLogger());
    const file = path.join(dir, 'small.log');
    await trace.start(file, 1000);
    for (let i = 0; i < 10; i++) trace.record('in', peer, Buffer.from(INVITE));
    assert.equal(trace.status().file, undefined, 'stopped');
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(statSync(file).size <= 1000, `${statSync(file).size} bytes`);
    assert.ok(statSync(file).size > 0);
  });
});
