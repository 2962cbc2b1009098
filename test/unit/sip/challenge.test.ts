import assert from 'node:assert/strict';
import { answerChallenge } from '../../../core/sip/challenge.js';
import { SipResponse } from '../../../core/sip/message.js';

function challenged(status: number, header: string, value: string): SipResponse {
  const res = new SipResponse(status, status === 401 ? 'Unauthorized' : 'Proxy Authentication Required');
  res.add(header, value);
  return res;
}

const credentials = { username: 'alice', password: 'secret' };
const request = { credentials, method: 'INVITE', uri: 'sip:bob@example.org' };

describe('answering a digest challenge (core/sip/challenge)', () => {
  it('401 WWW-Authenticate → Authorization', () => {
    const a = answerChallenge({ ...request, response: challenged(401, 'www-authenticate', 'Digest realm="example.org", nonce="n1", qop="auth"') });
    assert.ok(a.ok);
    assert.equal(a.header, 'authorization');
    assert.match(a.value, /^Digest username="alice", realm="example.org", nonce="n1", uri="sip:bob@example.org"/);
    assert.equal(a.challenge.realm, 'example.org');
  });

  it('407 Proxy-Authenticate → Proxy-Authorization, first parseable digest challenge', () => {
    const res = challenged(407, 'proxy-authenticate', 'Basic realm="x"');
    res.add('proxy-authenticate', 'Digest realm="proxy.example.org", nonce="n2", stale=true');
    const a = answerChallenge({ ...request, response: res });
    assert.ok(a.ok);
    assert.equal(a.header, 'proxy-authorization');
    assert.match(a.value, /realm="proxy.example.org", nonce="n2"/);
    assert.equal(a.challenge.stale, true);
  });

  it('a 401 answered with a 407 header (wrong header for the status) has no challenge', () => {
    const a = answerChallenge({ ...request, response: challenged(401, 'proxy-authenticate', 'Digest realm="r", nonce="n"') });
    assert.ok(!a.ok);
    assert.equal(a.challenge, undefined);
    assert.match(a.error, /no digest challenge in the 401/);
  });

  it('no challenge header, or not a 401/407 → no answer', () => {
    const none = answerChallenge({ ...request, response: new SipResponse(407, 'Proxy Authentication Required') });
    assert.ok(!none.ok);
    assert.equal(none.challenge, undefined);
    const notChallenge = answerChallenge({ ...request, response: challenged(403, 'www-authenticate', 'Digest realm="r", nonce="n"') });
    assert.ok(!notChallenge.ok);
  });

  it('a challenge the credentials cannot answer → the reason, with the challenge', () => {
    const a = answerChallenge({ ...request, credentials: { username: 'alice', realm: 'other.org', password: 'p' },
      response: challenged(401, 'www-authenticate', 'Digest realm="example.org", nonce="n"') });
    assert.ok(!a.ok);
    assert.equal(a.challenge?.realm, 'example.org');
    assert.match(a.error, /not the account's realm/);
  });
});
