import assert from 'node:assert/strict';
import { parseIni } from '../../../core/config/ini.js';
import { configFileView } from '../../../core/plugin-host/index.js';
import { parseConfigText } from '../../../core/config/load.js';
import { readApplication } from '../../../core/plugin-host/index.js';
import type { B2buaPlugin, PluginValidationContext } from '../../../core/plugin-api/index.js';

describe('PluginHost.configFile (the file\'s other sections, read-only)', () => {
  const text = [
    '[b2bua-server]', 'application=x',
    '[module::Registrar]', 'redis-server-port = 6380', 'redis-auth-password=', '# a comment', 'Mixed.Case-key=a b \\', '  c',
    '[module::Registrar]', 'redis-server-domain=redis.example.org',
  ].join('\n');

  it('gives the raw values of a section as written, repeated sections merged, keys as written', () => {
    const view = configFileView(parseIni(text));
    const registrar = view.section('module::Registrar');
    assert.deepEqual(registrar && [...registrar], [
      ['redis-server-port', '6380'], ['redis-auth-password', ''], ['Mixed.Case-key', 'a b c'], ['redis-server-domain', 'redis.example.org'],
    ]);
    assert.equal(view.section('module::registrar'), undefined, 'section names are exact');
    assert.equal(view.section('nowhere'), undefined);
  });

  it('cannot be changed through the map it returns', () => {
    const view = configFileView(parseIni(text));
    const registrar = view.section('module::Registrar') as Map<string, string>;
    assert.throws(() => registrar.set('redis-server-port', '1'), /read-only/);
    assert.throws(() => registrar.delete('redis-server-port'), /read-only/);
    assert.throws(() => registrar.clear(), /read-only/);
    assert.equal(view.section('module::Registrar')!.get('redis-server-port'), '6380');
  });

  it('is what validate() gets in its context', async () => {
    let seen: PluginValidationContext | undefined;
    const plugin: B2buaPlugin = {
      name: 'x', hostApi: '^1.0.0', configSchema: { type: 'object', properties: {}, additionalProperties: false },
      validate: (_options, ctx) => {
        seen = ctx;
        return [];
      },
      apply: () => {},
    };
    const config = parseConfigText(text, '/etc/flexisip/flexisip.conf').config;
    // a built-in folder holding only this plugin
    const reading = await readApplication(config, { builtinDir: await writePlugin(plugin) });
    assert.deepEqual(reading.problems, []);
    assert.equal(seen?.configDir, '/etc/flexisip');
    assert.equal(seen?.configFile.section('module::Registrar')?.get('redis-server-domain'), 'redis.example.org');
  });
});

async function writePlugin(plugin: B2buaPlugin): Promise<string> {
  const { mkdtempSync, mkdirSync, writeFileSync } = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'b2bua-cfgview-'));
  mkdirSync(path.join(dir, plugin.name));
  const key = `__configFileTestPlugin${Date.now()}`;
  (globalThis as Record<string, unknown>)[key] = plugin;
  writeFileSync(path.join(dir, plugin.name, 'index.js'), `export default globalThis[${JSON.stringify(key)}];\n`);
  return dir;
}
