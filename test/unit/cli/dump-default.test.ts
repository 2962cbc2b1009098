import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkConfig } from '../../../core/cli/check-config.js';
import { dumpDefault } from '../../../core/cli/dump-default.js';
import { b2buaServerSchema } from '../../../core/config/load.js';
import { parseIni } from '../../../core/config/ini.js';

describe('--dump-default', () => {
  it('contains every [b2bua-server] key with its default and a comment, and the built-in application sections', async () => {
    const text = await dumpDefault();
    const doc = parseIni(text);
    assert.deepEqual(doc.problems, []);
    const section = doc.sections.get('b2bua-server')!;
    for (const [key, property] of Object.entries(b2buaServerSchema.properties!)) {
      const expected = Array.isArray(property.default) ? property.default.join(' ') : String(property.default);
      assert.equal(section.entries.get(key)?.value, expected, key);
      const before = text.split('\n')[section.entries.get(key)!.line - 2]!;
      assert.match(before, /^# type: /, `${key} is commented`);
    }
    assert.ok(doc.sections.has('b2bua-server::trenscrypter'));
  });

  it('the dumped configuration passes --check-config', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'b2bua-dump-'));
    try {
      const file = path.join(dir, 'flexisip.conf');
      writeFileSync(file, await dumpDefault());
      const r = await checkConfig(file);
      assert.equal(r.ok, true, r.lines.join('\n'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
