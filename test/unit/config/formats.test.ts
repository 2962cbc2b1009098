import { strict as assert } from 'node:assert';
import { FORMATS, parseSipUri } from '../../../core/config/formats.js';

describe('config format sip-uri: the runtime parser plus the config rules', () => {
  it('keeps the config rules the runtime parser does not have', () => {
    assert.match(parseSipUri('SIP:127.0.0.1') as string, /is not a SIP URI/, 'lower-case scheme');
    assert.match(parseSipUri('sip:127.0.0.1;transport=tcp x') as string, /is not a SIP URI/, 'no blanks');
    assert.equal(parseSipUri('sip:my_host'), '"sip:my_host": "my_host" is not a valid host (expected an IP address or a host name)');
    assert.equal(parseSipUri('sip:[1::2::3]'), '"sip:[1::2::3]": "[1::2::3]" is not a valid host (expected an IP address or a host name)');
    assert.equal(parseSipUri('sip:ex*ample.org'), '"sip:ex*ample.org": "ex*ample.org" is not a valid host (expected an IP address or a host name)');
    assert.equal(parseSipUri('sip:host:70000'), '"sip:host:70000": port 70000 is out of range (0-65535)');
  });

  it('refuses what the runtime could not use (accepted by the old config-only parser)', () => {
    for (const s of ['sip:a"b@127.0.0.1', 'sip:a@b@c.org', 'sip:127.0.0.1;a/b=1', 'sip:127.0.0.1:000005']) assert.equal(typeof parseSipUri(s), 'string', s);
  });

  it('gives the parts, IPv6 without brackets and the user with its password', () => {
    assert.deepEqual(parseSipUri(' sips:u:pw@[::1]:5061;Transport=tls;lr?x=y '), { scheme: 'sips', user: 'u:pw', host: '::1', port: 5061, params: { transport: 'tls', lr: null } });
    assert.equal(FORMATS['sip-listen-uri']!('sip:u@127.0.0.1'), '"sip:u@127.0.0.1": a listening URI has no user part (expected e.g. sip:127.0.0.1:6067;transport=tcp)');
  });
});
