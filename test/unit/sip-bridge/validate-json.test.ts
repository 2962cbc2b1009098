import { strict as assert } from 'node:assert';
import { validateJson } from '../../../core/plugin-api/index.js';

describe('plugin API validateJson (what sip-bridge validates its providers file with)', () => {
  const schema = {
    $schema: 'http://json-schema.org/draft-07/schema#', type: 'object', additionalProperties: false, required: ['name'],
    properties: { name: { type: 'string' }, mode: { enum: ['sdes', 'dtls'] }, list: { type: 'array', items: { type: 'integer' } } },
  };

  it('gives our messages with JSON paths, prefixed by the file label', () => {
    assert.deepEqual(validateJson(schema, { name: 'x' }), []);
    assert.deepEqual(validateJson(schema, { mode: 'sdess', nmae: 1, list: [1, 'a'] }, { fileLabel: 'f.json' }), [
      'f.json: name: missing (required)',
      'f.json: nmae: unknown property (did you mean "name"?)',
      'f.json: mode: "sdess" is not allowed (did you mean "sdes"?)',
      'f.json: list[1]: must be integer, not the string "a"',
    ]);
  });

  it('reads draft 2020-12 schemas too', () => {
    const s2020 = { $schema: 'https://json-schema.org/draft/2020-12/schema', prefixItems: [{ const: 1 }] };
    assert.deepEqual(validateJson(s2020, [2]), ['[0]: must be 1, not 2']);
  });
});
