import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { b2buaServerSchema } from '../../../core/config/load.js';
import { README, referenceSections, regenerate } from '../../../core/config/readme-reference.js';

describe('README configuration reference', () => {
  const readme = readFileSync(README, 'utf8');

  it('is what the schemas generate (run `npx tsx core/config/readme-reference.ts --write` after changing a schema)', () => {
    assert.equal(readme, regenerate(readme));
  });

  it('documents every [b2bua-server] key with its default, and each built-in application section (plugins/<name>/schema.json)', () => {
    for (const [key, property] of Object.entries(b2buaServerSchema.properties!)) {
      assert.ok(property.description, `${key} has a description in the schema`);
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${key}\` |`));
      assert.ok(row, `README has a row for ${key}`);
      const def = Array.isArray(property.default) ? property.default.join(' ') : String(property.default);
      assert.ok(def === '' ? row.includes('(empty)') : row.includes(`\`${def}\``), `${key} default ${def} in ${row}`);
    }
    for (const { section } of referenceSections()) {
      assert.ok(readme.includes(`<!-- reference:${section}:begin -->`), `README has a reference block for [${section}]`);
    }
  });

  it('reads each built-in application\'s schema from its own folder, the one the plugin declares', async () => {
    for (const app of ['trenscrypter', 'sip-bridge']) {
      const { default: plugin } = (await import(`../../../plugins/${app}/index.js`)) as { default: { configSchema: object } };
      assert.deepEqual(referenceSections().find((s) => s.section === `b2bua-server::${app}`)?.schema, plugin.configSchema, app);
    }
  });

  it('keeps the "Two commands" section at the top', () => {
    assert.match(readme, /^# b2bua-server\n[\s\S]*?## Two commands[\s\S]*?npm start[\s\S]*?npm test[\s\S]*?## Layout/);
  });

  it('flexisip.conf.example shows every [b2bua-server] key', () => {
    const example = readFileSync(new URL('../../../flexisip.conf.example', import.meta.url), 'utf8');
    for (const key of Object.keys(b2buaServerSchema.properties!)) assert.match(example, new RegExp(`^${key}=`, 'm'), key);
  });
});
