import { strict as assert } from 'node:assert';
import { isSipUri, parseSipAddress } from '../../../plugins/sip-bridge/sip-uri.js';

describe('sip-bridge addresses read with the host parser', () => {
  it('a bare URI keeps its parameters; a name-addr drops its header parameters', () => {
    assert.equal(parseSipAddress('sip:a@h;user=phone').uriParameters, ';user=phone');
    assert.equal(parseSipAddress('<sip:a@h;user=phone>;tag=1').uri, 'sip:a@h;user=phone');
    assert.equal(parseSipAddress('sip:a@h;User=phone').uriParameters, ';user=phone', 'parameter names as the host reads them');
    assert.equal(parseSipAddress('Bob <sip:a@h>').displayName, 'Bob');
    assert.equal(parseSipAddress('"Bob" <sip:a@h>', 'Carol').displayName, 'Carol');
  });

  it('accepts bare URIs and name-addrs the host can parse, nothing else', () => {
    for (const s of ['sip:proxy.example.org;transport=tcp', '<sip:proxy>', 'SIPS:[::1]:5061', 'sip:line_1@trunk']) assert.ok(isSipUri(s), s);
    for (const s of ['alice@b.org', 'sip:host:abc', 'sip:h:70000', 'sip:a b@h', 'sip:h;transport=tcp x', 'tel:+33612', '<sip:x']) assert.ok(!isSipUri(s), s);
  });
});
