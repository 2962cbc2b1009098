import assert from 'node:assert/strict';
import { computeHa1, digestAuthorization, parseChallenge } from '../../../core/sip/digest.js';

describe('digest authentication client', () => {
  it('RFC 2617 §3.5 example (MD5, qop=auth)', () => {
    const challenge = parseChallenge('Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"')!;
    const r = digestAuthorization({ challenge, credentials: { username: 'Mufasa', password: 'Circle Of Life' }, method: 'GET', uri: '/dir/index.html', cnonce: '0a4f113b', nc: 1 });
    assert.ok(r.ok);
    assert.equal(r.response, '6629fae49393a05397450978507c4ef1');
    assert.match(r.header, /qop=auth, nc=00000001, cnonce="0a4f113b"/);
    assert.match(r.header, /opaque="5ccc069c403ebaf9f0171e9517f40e41"/);
  });

  it('RFC 7616 §3.9.1 examples (SHA-256 and MD5)', () => {
    const base = 'realm="http-auth@example.org", qop="auth, auth-int", nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"';
    const input = { credentials: { username: 'Mufasa', password: 'Circle of Life' }, method: 'GET', uri: '/dir/index.html', cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ', nc: 1 };
    const sha = digestAuthorization({ ...input, challenge: parseChallenge(`Digest ${base}, algorithm=SHA-256`)! });
    assert.ok(sha.ok);
    assert.equal(sha.response, '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
    const md5 = digestAuthorization({ ...input, challenge: parseChallenge(`Digest ${base}, algorithm=MD5`)! });
    assert.ok(md5.ok);
    assert.equal(md5.response, '8ca523f5e9506fed4657c9700eebdbec');
  });

  it('accepts a precomputed HA1 instead of the password', () => {
    const challenge = parseChallenge('Digest realm="testrealm@host.com", qop="auth", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093"')!;
    const ha1 = computeHa1('MD5', 'Mufasa', 'testrealm@host.com', 'Circle Of Life');
    const r = digestAuthorization({ challenge, credentials: { username: 'Mufasa', ha1, algorithm: 'MD5' }, method: 'GET', uri: '/dir/index.html', cnonce: '0a4f113b', nc: 1 });
    assert.ok(r.ok);
    assert.equal(r.response, '6629fae49393a05397450978507c4ef1');
    const wrongAlg = digestAuthorization({ challenge: { ...challenge, algorithm: 'SHA-256' }, credentials: { username: 'Mufasa', ha1, algorithm: 'MD5' }, method: 'GET', uri: '/' });
    assert.ok(!wrongAlg.ok);
    assert.match(wrongAlg.error, /HA1 is MD5/);
  });

  it('answers a challenge without qop (RFC 2069 style)', () => {
    const challenge = parseChallenge('Digest realm="r", nonce="n"')!;
    const r = digestAuthorization({ challenge, credentials: { username: 'u', password: 'p' }, method: 'REGISTER', uri: 'sip:r' });
    assert.ok(r.ok);
    assert.doesNotMatch(r.header, /qop=/);
  });

  it('refuses unknown algorithms and bad challenges without throwing', () => {
    assert.equal(parseChallenge('Basic realm="x"'), undefined);
    assert.equal(parseChallenge('garbage'), undefined);
    const r = digestAuthorization({ challenge: parseChallenge('Digest realm="r", nonce="n", algorithm=SHA-512-256')!, credentials: { username: 'u', password: 'p' }, method: 'INVITE', uri: 'sip:x' });
    assert.ok(!r.ok);
  });
});
