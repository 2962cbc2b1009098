import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { GENERATE_COMMAND, SERVER_CONFIG_FILE, renderServerConfig, tsType } from '../../../core/config/generate-server-config.js';
import { b2buaServerSchema, camelCase, parseConfigText } from '../../../core/config/load.js';
import type { B2buaServerConfig } from '../../../core/config/server-config.js';

// No index signature: a key missing from the schema is a compile error, not an `unknown` to cast.
const noIndexSignature: string extends keyof B2buaServerConfig ? 'has one' : 'none' = 'none';

describe('B2buaServerConfig (core/config/server-config.ts, generated from the schema)', () => {
  it(`is what schemas/b2bua-server.schema.json generates (run \`${GENERATE_COMMAND}\` after changing the schema)`, () => {
    assert.equal(readFileSync(SERVER_CONFIG_FILE, 'utf8'), renderServerConfig(), `core/config/server-config.ts is stale: run ${GENERATE_COMMAND}`);
    assert.equal(noIndexSignature, 'none');
  });

  it('types each key as the loader hands it out (defaults of an empty file)', () => {
    const { config, problems } = parseConfigText('', '/etc/flexisip/flexisip.conf');
    assert.deepEqual(problems, []);
    const server = config.server as unknown as Record<string, unknown>;
    assert.deepEqual(Object.keys(server).sort(), Object.keys(b2buaServerSchema.properties!).map(camelCase).sort());
    for (const [key, property] of Object.entries(b2buaServerSchema.properties!)) {
      const value = server[camelCase(key)];
      const type = tsType(property);
      const where = `${key} = ${JSON.stringify(value)} declared ${type}`;
      if (type === 'PortRange') assert.deepEqual(value, { min: 0, max: 0 }, where);
      else if (type.startsWith('readonly ')) assert.ok(Array.isArray(value), where);
      else if (type.includes("'")) assert.ok(type.split(' | ').includes(`'${String(value)}'`), where);
      else assert.equal(typeof value, type, where);
    }
  });

  it('parses port-range keys into PortRange', () => {
    const { config } = parseConfigText('[b2bua-server]\naudio-port=10000-10100\nvideo-port=12000\n', 'f.conf');
    assert.deepEqual(config.server.audioPort, { min: 10000, max: 10100 });
    assert.deepEqual(config.server.videoPort, { min: 12000, max: 12000 });
  });

  it('refuses a schema type it cannot express', () => {
    assert.throws(() => tsType({ type: 'object' }), /no TypeScript type for schema type "object"/);
    assert.equal(tsType({ type: 'array', items: { type: 'string', enum: ['a', 'b'] } }), "readonly ('a' | 'b')[]");
  });
});
