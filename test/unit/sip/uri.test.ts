import { strict as assert } from 'node:assert';
import { checkUri, parseUri } from '../../../core/sip/uri.js';

describe('SIP URI parser (the one parser of the runtime, the config formats and sip-bridge)', () => {
  it('says why a URI is refused: shape, host or port', () => {
    assert.deepEqual(checkUri('127.0.0.1:5060'), { problem: 'syntax' });
    assert.deepEqual(checkUri('sip:a"b@host'), { problem: 'syntax' });
    assert.deepEqual(checkUri('sip:host;a/b=1'), { problem: 'syntax' });
    assert.deepEqual(checkUri('sip:ex*ample.org'), { problem: 'host', host: 'ex*ample.org' });
    assert.deepEqual(checkUri('sip:[zz::1]:5060'), { problem: 'host', host: '[zz::1]' });
    assert.deepEqual(checkUri('sip:host:70000'), { problem: 'port', port: 70000 });
    assert.deepEqual(checkUri('sip:host:000005'), { problem: 'port', port: 5 });
  });

  it('parseUri refuses exactly what checkUri refuses', () => {
    for (const s of ['127.0.0.1:5060', 'sip:ex*ample.org', 'sip:host:70000', 'sip:host:', 'sip:[::1', 'sip:', 'sip:;x']) assert.equal(parseUri(s), undefined, s);
    assert.deepEqual(parseUri('SIP:my_host:0;Transport=TCP'), { scheme: 'sip', user: undefined, password: undefined, host: 'my_host', port: 0, params: { transport: 'TCP' }, headers: {} });
    assert.equal(parseUri('sip:a@b@c.org')?.user, 'a@b', 'the last @ ends the user info');
  });
});
