/**
 * Why core/sip does not run on npm `sip` (named by the design card): these facts about the
 * installed version are what core/sip/README.md and the root README state. If a new version of
 * the package fixes them, this test fails and the decision deserves another look.
 * Each fact is checked against our own layer too, which must get it right.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { parseUri } from '../../../core/sip/uri.js';
import { parseMessage, newBranch } from '../../../core/sip/message.js';

const npmSip = createRequire(import.meta.url)('sip') as {
  parseUri(s: string): unknown;
  parse(s: string): { headers: { via: { host: string }[] } };
  generateBranch(): string;
  stringify(m: object): string;
};

describe('npm sip 0.0.6 gaps that core/sip fixes', () => {
  it('IPv6: npm sip cannot parse an IPv6 URI nor an IPv6 Via; ours can', () => {
    assert.equal(npmSip.parseUri('sip:alice@[2001:db8::1]:5060'), undefined);
    const viaHost = npmSip.parse('INVITE sip:a@[::1] SIP/2.0\r\nVia: SIP/2.0/UDP [::1]:5060;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n').headers.via[0]!.host;
    assert.equal(viaHost, '[', 'npm sip truncates an IPv6 Via host');
    const ours = parseUri('sip:alice@[2001:db8::1]:5060');
    assert.ok(ours, 'our parser accepts IPv6');
    assert.equal(ours.port, 5060);
  });

  it('branch ids: npm sip draws about 20 bits from Math.random; ours are long random tokens', () => {
    assert.match(npmSip.generateBranch(), /^z9hG4bK\d{1,7}$/);
    const branch = newBranch();
    assert.match(branch, /^z9hG4bK[A-Za-z0-9_-]{16,}$/);
  });

  it('Content-Length: npm sip counts UTF-16 code units; ours counts bytes', () => {
    const text = npmSip.stringify({ method: 'MESSAGE', uri: 'sip:a@b', version: '2.0', headers: {}, content: 'é' });
    assert.match(text, /Content-Length: 1\r\n/, 'npm sip says 1 for a 2-byte body');
    const parsed = parseMessage(Buffer.from('MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKx\r\nCall-ID: c\r\nCSeq: 1 MESSAGE\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nContent-Length: 2\r\n\r\né'));
    assert.ok(parsed.ok, 'our parser reads it');
    parsed.message.body = 'éé';
    assert.match(parsed.message.toBuffer().toString('latin1'), /Content-Length: 4\r\n/, 'recomputed in bytes for the new body');
  });
});
