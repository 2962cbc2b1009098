import { strict as assert } from 'node:assert';
import { jsonPath } from '../../../core/plugin-api/index.js';
import { describeJsonParseError } from '../../../plugins/sip-bridge/json-problems.js';
import { parseSipAddress } from '../../../plugins/sip-bridge/sip-uri.js';
import { INVITE_ADDRESSES, accountValues, callValues, compileTemplate } from '../../../plugins/sip-bridge/template.js';
import type { Template } from '../../../plugins/sip-bridge/template.js';

function compiled(text: string): Template {
  const t = compileTemplate(text, INVITE_ADDRESSES);
  assert.ok(!('error' in t), JSON.stringify(t));
  return t;
}

const values = {
  ...callValues({
    to: parseSipAddress('sip:+33612@example.org;user=phone', 'Bob'),
    from: parseSipAddress('"Alice" <sip:alice@example.org:5080;transport=tcp>'),
    requestUri: parseSipAddress('sip:+33612@10.0.0.1:5060;user=phone;gr=x'),
  }),
  ...accountValues('sip:line1@trunk.example.net:5070', 'sip:alice@internal.example.org'),
};

describe('sip-bridge templates', () => {
  it('renders every address with every sub-field', () => {
    assert.equal(compiled('{incoming.to}').render(values), 'sip:+33612@example.org;user=phone');
    assert.equal(compiled('{incoming.to.user}|{incoming.to.hostport}|{incoming.to.uriParameters}|{incoming.to.displayName}').render(values),
      '+33612|example.org|;user=phone|"Bob"', 'a display name renders quoted, as Flexisip renders it');
    assert.equal(compiled('{incoming.from}|{incoming.from.displayName}|{incoming.from.hostport}').render(values),
      'sip:alice@example.org:5080;transport=tcp|"Alice"|example.org:5080');
    assert.equal(compiled('{incoming.requestUri.uriParameters}').render(values), ';user=phone;gr=x');
    assert.equal(compiled('{account.uri.hostport}/{account.uri.user}/{account.alias}/{account.alias.user}').render(values),
      'trunk.example.net:5070/line1/sip:alice@internal.example.org/alice');
    assert.equal(compiled('{account.uri.uriParameters}{account.uri.displayName}').render(values), '', 'empty parts render empty');
  });

  it('keeps literal text, including a lone }', () => {
    assert.equal(compiled('sip:{incoming.to.user}@gw}.example.org').render(values), 'sip:+33612@gw}.example.org');
    assert.equal(compiled('no fields at all').render(values), 'no fields at all');
    assert.equal(compiled('').render(values), '');
  });

  it('an absent alias renders empty', () => {
    const noAlias = { ...values, ...accountValues('sip:l@t', undefined) };
    assert.equal(compiled('<{account.alias}>').render(noAlias), '<>');
  });

  it('reports a missing } (also when another { opens first) and unknown fields', () => {
    assert.deepEqual(compileTemplate('sip:{incoming.to.user@x', INVITE_ADDRESSES), {
      error: 'missing "}" after "{incoming.to.user@x" in "sip:{incoming.to.user@x" (close the field)',
    });
    assert.deepEqual(compileTemplate('{incoming.to.user{account.uri}', INVITE_ADDRESSES), {
      error: 'missing "}" after "{incoming.to.user" in "{incoming.to.user{account.uri}" (close the field)',
    });
    assert.deepEqual(compileTemplate('{incoming.to.username}', INVITE_ADDRESSES), {
      error: 'unknown field "{incoming.to.username}" in "{incoming.to.username}" (did you mean "{incoming.to.user}"?)',
    });
    assert.deepEqual(compileTemplate('{incoming.to.}', INVITE_ADDRESSES), {
      error: 'unknown field "{incoming.to.}" in "{incoming.to.}" (did you mean "{incoming.to}"?)',
    });
    assert.match((compileTemplate('{}', INVITE_ADDRESSES) as { error: string }).error, /^unknown field "\{\}" in "\{\}" \(use one of \{incoming\.to\}, /);
  });
});

describe('sip-bridge JSON problem texts', () => {
  it('jsonPath writes JS-like paths', () => {
    assert.equal(jsonPath(''), '(root)');
    assert.equal(jsonPath('/providers/0/outgoingInvite'), 'providers[0].outgoingInvite');
    assert.equal(jsonPath('/accountPools/a~1b c', 'loader'), 'accountPools["a/b c"].loader');
    assert.equal(jsonPath('', 'schemaVersion'), 'schemaVersion');
    assert.equal(jsonPath('/3/accounts/0'), '[3].accounts[0]');
  });

  it('describeJsonParseError gives line and column', () => {
    const text = '{\n  "a": 1\n  "b": 2\n}';
    let error: unknown;
    try { JSON.parse(text); } catch (e) { error = e; }
    assert.equal(describeJsonParseError(text, error), "line 3, column 3: Expected ',' or '}' after property value");
  });
});
