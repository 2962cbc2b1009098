import { strict as assert } from 'node:assert';
import {
  DEFAULT_SDES_SUITES,
  compileWholeMatch,
  decideLegBMedia,
  parseEncryptionRules,
  parsePolicy,
  parseSrtpRules,
} from '../../../plugins/trenscrypter/policy.js';
import type { LegBMedia } from '../../../core/plugin-api/index.js';

const NONE: LegBMedia = { encryption: 'none', srtpSuites: [] };
const SDES_A: LegBMedia = { encryption: 'sdes', srtpSuites: ['AES_256_CM_HMAC_SHA1_80'] };

function policyOf(enc: string, srtp = '') {
  const split = (s: string) => s.split(/\s+/).filter(Boolean);
  const parsed = parsePolicy({ 'outgoing-enc-regex': split(enc), 'outgoing-srtp-regex': split(srtp) });
  assert.deepEqual(parsed.problems, []);
  return parsed.value;
}

describe('trenscrypter policy: parsing', () => {
  it('parses the Flexisip example into four ordered rules', () => {
    const p = policyOf('zrtp sip:.*zrtp.*@example.org sdes sip:.*sdes.*@example.org dtls-srtp sip:.*dtls.*@example.org none sip:.*@example.org');
    assert.deepEqual(p.encryption.map((r) => r.mode), ['zrtp', 'sdes', 'dtls-srtp', 'none']);
    assert.equal(p.encryption[2]!.source, 'sip:.*dtls.*@example.org');
  });

  it('accepts empty or missing lists', () => {
    assert.deepEqual(parsePolicy({}).problems, []);
    assert.deepEqual(parsePolicy({ 'outgoing-enc-regex': [], 'outgoing-srtp-regex': [] }).value, { encryption: [], srtp: [] });
  });

  it('reports an unknown mode with a did-you-mean hint', () => {
    assert.deepEqual(parseEncryptionRules(['dtsl-srtp', '.*']).problems, [
      'outgoing-enc-regex: unknown mode "dtsl-srtp" (did you mean "dtls-srtp"?)',
    ]);
  });

  it('lists the valid modes when nothing is close', () => {
    assert.deepEqual(parseEncryptionRules(['aes-encryption-please', '.*']).problems, [
      'outgoing-enc-regex: unknown mode "aes-encryption-please" (use one of none, sdes, dtls-srtp, zrtp)',
    ]);
  });

  it('modes are case-sensitive like Flexisip (ZRTP is unknown, hint says zrtp)', () => {
    assert.deepEqual(parseEncryptionRules(['ZRTP', '.*']).problems, ['outgoing-enc-regex: unknown mode "ZRTP" (did you mean "zrtp"?)']);
  });

  it('ignores a trailing unpaired item as Flexisip does, with a warning naming the key and the item', () => {
    const enc = parseEncryptionRules(['zrtp', '.*', 'sdes']);
    assert.deepEqual(enc.problems, []);
    assert.deepEqual(enc.value.map((r) => [r.mode, r.source]), [['zrtp', '.*']]);
    assert.deepEqual(enc.warnings, [
      'outgoing-enc-regex: last item "sdes" ignored, as Flexisip does: the list is pairs "mode regex" and it has no regex after it (3 items; add its regex or remove it)',
    ]);
    const srtp = parseSrtpRules(['AES_CM_128_HMAC_SHA1_80']);
    assert.deepEqual(srtp.problems, []);
    assert.deepEqual(srtp.value, []);
    assert.deepEqual(srtp.warnings, [
      'outgoing-srtp-regex: last item "AES_CM_128_HMAC_SHA1_80" ignored, as Flexisip does: the list is pairs "suites regex" and it has no regex after it (1 item; add its regex or remove it)',
    ]);
    // the ignored item is not checked: Flexisip never reads it
    assert.deepEqual(parseEncryptionRules(['none', '.*', 'not-a-mode']).problems, []);
    const both = parsePolicy({ 'outgoing-enc-regex': ['zrtp'], 'outgoing-srtp-regex': ['AEAD_AES_128_GCM', '.*', 'y'] });
    assert.deepEqual(both.problems, []);
    assert.deepEqual(both.warnings.map((w) => w.match(/^(\S+): last item "(.*?)" ignored/)?.slice(1)), [['outgoing-enc-regex', 'zrtp'], ['outgoing-srtp-regex', 'y']]);
    assert.deepEqual(parsePolicy({ 'outgoing-enc-regex': ['zrtp', '.*'] }).warnings, [], 'no warning for a list of pairs');
  });

  it('reports a bad regex with the reason from the RegExp engine', () => {
    assert.deepEqual(parseEncryptionRules(['zrtp', 'sip:(.*@example.org']).problems, [
      'outgoing-enc-regex: invalid regex "sip:(.*@example.org": Unterminated group (fix the regular expression)',
    ]);
    assert.deepEqual(parseSrtpRules(['AEAD_AES_128_GCM', '*.example.org']).problems, [
      'outgoing-srtp-regex: invalid regex "*.example.org": Nothing to repeat (fix the regular expression)',
    ]);
  });

  it('reports every problem of a list, not only the first', () => {
    const { problems, warnings } = parseEncryptionRules(['zrpt', '[', 'sdes', 'ok', 'none']);
    assert.equal(problems.length, 2);
    assert.match(problems[0]!, /unknown mode "zrpt" \(did you mean "zrtp"\?\)/);
    assert.match(problems[1]!, /invalid regex "\[": /);
    assert.deepEqual(warnings.map((w) => w.match(/last item "(.*?)" ignored/)?.[1]), ['none']);
  });

  it('reports an unknown SRTP suite with a hint, inside a ;-list', () => {
    assert.deepEqual(parseSrtpRules(['AES_CM_128_HMAC_SHA1_80;AES_CM_128_HMAC_SHA_32', '.*']).problems, [
      'outgoing-srtp-regex: unknown SRTP suite "AES_CM_128_HMAC_SHA_32" (did you mean "AES_CM_128_HMAC_SHA1_32"?)',
    ]);
    assert.deepEqual(parseSrtpRules(['rot13', '.*']).problems, [
      'outgoing-srtp-regex: unknown SRTP suite "rot13" (use one of AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32, AES_192_CM_HMAC_SHA1_80, AES_192_CM_HMAC_SHA1_32, AES_256_CM_HMAC_SHA1_80, AES_256_CM_HMAC_SHA1_32, AEAD_AES_128_GCM, AEAD_AES_256_GCM)',
    ]);
  });

  it('reports an empty suite list', () => {
    assert.deepEqual(parseSrtpRules([';', '.*']).problems, [
      'outgoing-srtp-regex: empty suite list ";" (give ;-separated suites, e.g. AES_CM_128_HMAC_SHA1_80)',
    ]);
  });

  it('keeps suites in the configured order', () => {
    const r = parseSrtpRules(['AEAD_AES_256_GCM;AES_CM_128_HMAC_SHA1_32;AES_256_CM_HMAC_SHA1_80', '.*']);
    assert.deepEqual(r.value[0]!.suites, ['AEAD_AES_256_GCM', 'AES_CM_128_HMAC_SHA1_32', 'AES_256_CM_HMAC_SHA1_80']);
  });
});

describe('trenscrypter policy: matching', () => {
  const flexisipExample = policyOf(
    'zrtp sip:.*zrtp.*@example.org sdes sip:.*sdes.*@example.org dtls-srtp sip:.*dtls.*@example.org none sip:.*@example.org',
  );

  it('first match wins, in configuration order', () => {
    assert.equal(decideLegBMedia(flexisipExample, 'sip:zrtp-and-sdes@example.org', NONE).encryption, 'zrtp');
    assert.equal(decideLegBMedia(flexisipExample, 'sip:bob-sdes@example.org', NONE).encryption, 'sdes');
    assert.equal(decideLegBMedia(flexisipExample, 'sip:dtls1@example.org', NONE).encryption, 'dtls-srtp');
    assert.equal(decideLegBMedia(flexisipExample, 'sip:carol@example.org', SDES_A).encryption, 'none');
    const reversed = policyOf('none sip:.*@example.org zrtp sip:.*zrtp.*@example.org');
    assert.equal(decideLegBMedia(reversed, 'sip:zrtp@example.org', SDES_A).encryption, 'none');
  });

  it('matches the whole URI only', () => {
    const p = policyOf('zrtp sip:alice@example.org');
    assert.equal(decideLegBMedia(p, 'sip:alice@example.org', NONE).encryption, 'zrtp');
    assert.equal(decideLegBMedia(p, 'sip:alice@example.org.evil.com', NONE).encryption, 'none');
    assert.equal(decideLegBMedia(p, 'xsip:alice@example.org', NONE).encryption, 'none');
    // alternation must not escape the anchors
    const alt = policyOf('zrtp sip:a@x|sip:b@y');
    assert.equal(decideLegBMedia(alt, 'sip:a@x', NONE).encryption, 'zrtp');
    assert.equal(decideLegBMedia(alt, 'sip:a@xyz', NONE).encryption, 'none');
    assert.equal(decideLegBMedia(alt, 'zzsip:b@y', NONE).encryption, 'none');
  });

  it('URI parameters are part of the matched string (GRUU does not match unless allowed)', () => {
    const strict = policyOf('zrtp sip:.*@secure.example.org');
    const gruu = 'sip:bob@secure.example.org;gr=urn:uuid:1234';
    assert.equal(decideLegBMedia(strict, gruu, NONE).encryption, 'none');
    const tolerant = policyOf('zrtp sip:.*@secure.example.org(;.*)?');
    assert.equal(decideLegBMedia(tolerant, gruu, NONE).encryption, 'zrtp');
    const byParam = policyOf('dtls-srtp .*;transport=tls.*');
    assert.equal(decideLegBMedia(byParam, 'sip:bob@example.org;transport=tls', NONE).encryption, 'dtls-srtp');
  });

  it('no match keeps leg A mode', () => {
    const p = policyOf('zrtp sip:.*@secure.example.org');
    for (const mode of ['none', 'sdes', 'dtls-srtp', 'zrtp'] as const) {
      const legA: LegBMedia = { encryption: mode, srtpSuites: mode === 'sdes' ? ['AES_CM_128_HMAC_SHA1_32'] : [] };
      const d = decideLegBMedia(p, 'sip:bob@elsewhere.org', legA);
      assert.equal(d.encryption, mode);
      assert.equal(d.encryptionRule, undefined);
    }
  });

  it('SDES suites: the first matching rule, else Flexisip\'s default (liblinphone\'s srtp_crypto_suites), never leg A\'s', () => {
    const p = policyOf('sdes sip:.*', 'AES_CM_128_HMAC_SHA1_32;AES_CM_128_HMAC_SHA1_80 sip:.*@short.example.org');
    assert.deepEqual(decideLegBMedia(p, 'sip:x@short.example.org', NONE).srtpSuites, ['AES_CM_128_HMAC_SHA1_32', 'AES_CM_128_HMAC_SHA1_80']);
    assert.deepEqual([...DEFAULT_SDES_SUITES], ['AEAD_AES_128_GCM', 'AES_CM_128_HMAC_SHA1_80', 'AEAD_AES_256_GCM', 'AES_256_CM_HMAC_SHA1_80']);
    for (const legA of [NONE, SDES_A, { encryption: 'zrtp', srtpSuites: [] } satisfies LegBMedia]) {
      const d = decideLegBMedia(p, 'sip:x@other.org', legA);
      assert.deepEqual(d.srtpSuites, ['AEAD_AES_128_GCM', 'AES_CM_128_HMAC_SHA1_80', 'AEAD_AES_256_GCM', 'AES_256_CM_HMAC_SHA1_80'], legA.encryption);
      assert.equal(d.srtpRule, undefined);
    }
    // leg A SDES without an encryption rule: leg B stays SDES, with the default suites too
    assert.deepEqual(decideLegBMedia(policyOf(''), 'sip:x@other.org', SDES_A), { ...SDES_A, srtpSuites: [...DEFAULT_SDES_SUITES], encryptionRule: undefined, srtpRule: undefined });
  });

  it('SRTP rules are consulted only when leg B is SDES', () => {
    const p = policyOf('zrtp sip:.*@z.org', 'AEAD_AES_256_GCM .*');
    const d = decideLegBMedia(p, 'sip:x@z.org', SDES_A);
    assert.equal(d.encryption, 'zrtp');
    assert.deepEqual(d.srtpSuites, []);
    assert.equal(d.srtpRule, undefined);
    // leg A sdes with no enc rule: leg B stays sdes and the srtp rule applies
    assert.deepEqual(decideLegBMedia(p, 'sip:x@other.org', SDES_A).srtpSuites, ['AEAD_AES_256_GCM']);
  });

  it('does not share state between calls (the returned suites are copies)', () => {
    const p = policyOf('sdes .*', 'AES_CM_128_HMAC_SHA1_80 .*');
    const first = decideLegBMedia(p, 'sip:a@b', NONE);
    first.srtpSuites.push('AEAD_AES_256_GCM');
    assert.deepEqual(decideLegBMedia(p, 'sip:a@b', NONE).srtpSuites, ['AES_CM_128_HMAC_SHA1_80']);
  });

  it('compileWholeMatch returns the engine error text', () => {
    const r = compileWholeMatch('a{2,1}');
    assert.ok(!(r instanceof RegExp));
    assert.match(r.error, /numbers out of order/);
  });
});
