import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfigText } from '../../../core/config/load.js';
import { isB2buaError } from '../../../core/errors/index.js';
import { silentLogger } from '../../../core/log/index.js';
import { createHooks, type CallRejection, type IncomingCall, type PluginSipApi } from '../../../core/plugin-api/index.js';
import { HOST_API_VERSION } from '../../../core/plugin-api/index.js';
import { parseIni } from '../../../core/config/ini.js';
import { applyPlugin, configFileView, findPlugin, listPlugins, PluginAdminCommands, readApplication } from '../../../core/plugin-host/index.js';

const FIXTURE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/third-party-plugin');

function pluginSource(name: string, extra = '', hostApi = '^1.0.0'): string {
  return `export default {
  name: ${JSON.stringify(name)}, hostApi: ${JSON.stringify(hostApi)},
  configSchema: { type: 'object', additionalProperties: false, properties: { level: { type: 'integer', default: 1, minimum: 0 } } },
  ${extra}
  apply(host) { host.hooks.ready.tap(${JSON.stringify(name)}, () => { globalThis.__applied = ${JSON.stringify(name)}; }); },
};\n`;
}

function writePlugin(dir: string, name: string, extra = '', hostApi = '^1.0.0'): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'index.js'), pluginSource(name, extra, hostApi));
}

function writePackage(dir: string, pkgName: string, name: string, main = 'lib/main.js'): void {
  mkdirSync(path.join(dir, path.dirname(main)), { recursive: true });
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: pkgName, version: '1.0.0', type: 'module', main }));
  writeFileSync(path.join(dir, main), pluginSource(name));
}

describe('plugin discovery and loading', () => {
  let tmp: string;
  let builtinDir: string;
  let serverRoot: string;
  let configDir: string;

  beforeEach(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'b2bua-plugins-'));
    builtinDir = path.join(tmp, 'server', 'plugins');
    serverRoot = path.join(tmp, 'server');
    configDir = path.join(tmp, 'etc');
    mkdirSync(configDir, { recursive: true });
    writePlugin(path.join(builtinDir, 'alpha'), 'alpha');
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  const discovery = (pluginDirectories: string[] = []) => ({ configDir, pluginDirectories, builtinDir, serverRoot });

  it('finds built-in, npm (plain and scoped, from the config folder and the server folder) and plugin-directories plugins', () => {
    writePackage(path.join(configDir, 'node_modules', 'b2bua-plugin-beta'), 'b2bua-plugin-beta', 'beta');
    writePackage(path.join(serverRoot, 'node_modules', '@acme', 'b2bua-plugin-gamma'), '@acme/b2bua-plugin-gamma', 'gamma', 'dist/index.js');
    writePlugin(path.join(tmp, 'extra', 'delta'), 'delta');
    writeFileSync(path.join(tmp, 'extra', 'epsilon.mjs'), pluginSource('epsilon'));
    const d = discovery([path.join(tmp, 'extra')]);
    assert.deepEqual(findPlugin('alpha', d), { name: 'alpha', source: 'built-in', entry: path.join(builtinDir, 'alpha', 'index.js') });
    assert.deepEqual(findPlugin('beta', d), { name: 'beta', source: 'npm', packageName: 'b2bua-plugin-beta',
      entry: path.join(configDir, 'node_modules', 'b2bua-plugin-beta', 'lib', 'main.js') });
    assert.equal(findPlugin('gamma', d)?.packageName, '@acme/b2bua-plugin-gamma');
    assert.equal(findPlugin('delta', d)?.source, 'plugin-directories');
    assert.equal(findPlugin('epsilon', d)?.entry, path.join(tmp, 'extra', 'epsilon.mjs'));
    assert.equal(findPlugin('nothing', d), undefined);
    assert.equal(findPlugin('../alpha', d), undefined, 'names are not paths');
    assert.deepEqual(listPlugins(d).map((p) => `${p.name}:${p.source}`),
      ['alpha:built-in', 'beta:npm', 'delta:plugin-directories', 'epsilon:plugin-directories', 'gamma:npm']);
  });

  it('built-in wins over npm, npm over plugin-directories', () => {
    writePackage(path.join(configDir, 'node_modules', 'b2bua-plugin-alpha'), 'b2bua-plugin-alpha', 'alpha');
    writePlugin(path.join(tmp, 'extra', 'alpha'), 'alpha');
    writePlugin(path.join(tmp, 'extra', 'beta'), 'beta');
    writePackage(path.join(configDir, 'node_modules', 'b2bua-plugin-beta'), 'b2bua-plugin-beta', 'beta');
    const d = discovery([path.join(tmp, 'extra')]);
    assert.equal(findPlugin('alpha', d)?.source, 'built-in');
    assert.equal(findPlugin('beta', d)?.source, 'npm');
  });

  it('unknown application: the error lists what was found and suggests the closest', async () => {
    writePackage(path.join(configDir, 'node_modules', 'b2bua-plugin-beta'), 'b2bua-plugin-beta', 'beta');
    const { config } = parseConfigText('[b2bua-server]\napplication=alpah\n', path.join(configDir, 'flexisip.conf'));
    const r = await readApplication(config, { builtinDir, serverRoot });
    assert.equal(r.application, undefined);
    assert.equal(r.code, 'B2BUA_PLUGIN_NOT_FOUND');
    assert.match(r.problems[0]!, /\[b2bua-server\] application: unknown application "alpah" \(did you mean "alpha"\?\); applications found: alpha \(built-in\), beta \(npm package b2bua-plugin-beta at .*\)/);
  });

  it('validates the plugin section with its schema and the plugin validate(), and reports misspelt plugin sections', async () => {
    writePlugin(path.join(builtinDir, 'checked'), 'checked', 'validate(o) { return o.level > 5 ? ["level: too high (at most 5)"] : []; },');
    const file = path.join(configDir, 'flexisip.conf');
    let r = await readApplication(parseConfigText('[b2bua-server]\napplication=checked\n[b2bua-server::checked]\nlevel=7\n', file).config, { builtinDir, serverRoot });
    assert.deepEqual(r.problems, [`${file} [b2bua-server::checked] level: too high (at most 5)`]);
    r = await readApplication(parseConfigText('[b2bua-server]\napplication=checked\n[b2bua-server::checked]\nlevle=2\n[b2bua-server::chekced]\n', file).config, { builtinDir, serverRoot });
    assert.deepEqual(r.problems, [
      `${file} [b2bua-server::chekced]: no application "chekced" exists (did you mean "[b2bua-server::checked]"?)`,
      `${file} [b2bua-server::checked] levle: unknown key (did you mean "level"?)`,
    ]);
    r = await readApplication(parseConfigText('[b2bua-server]\napplication=checked\n[b2bua-server::checked]\nlevel=3\n', file).config, { builtinDir, serverRoot });
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.application?.options, { level: 3 });
    assert.ok(Object.isFrozen(r.application?.options));
  });

  describe('validate() results: problems only (host API 1.0) or { problems, warnings } (1.2.0)', () => {
    const read = async (name: string, validate: string, section = 'level=7\n') => {
      writePlugin(path.join(builtinDir, name), name, `validate(o) { ${validate} },`);
      const file = path.join(configDir, 'flexisip.conf');
      return { file, r: await readApplication(parseConfigText(`[b2bua-server]\napplication=${name}\n[b2bua-server::${name}]\n${section}`, file).config, { builtinDir, serverRoot }) };
    };

    it('{ problems, warnings }: each located as `<file> [b2bua-server::<name>] …`; warnings are not problems', async () => {
      let { file, r } = await read('warner', 'return { problems: [], warnings: o.level > 5 ? ["level: above 5 is read as 5 (write at most 5)"] : [] };');
      assert.deepEqual(r.problems, []);
      assert.deepEqual(r.warnings, [`${file} [b2bua-server::warner] level: above 5 is read as 5 (write at most 5)`]);
      assert.ok(r.application, 'the application is usable');
      ({ file, r } = await read('both', 'return { problems: ["level: too high"], warnings: ["level: odd"] };'));
      assert.deepEqual(r.problems, [`${file} [b2bua-server::both] level: too high`]);
      assert.deepEqual(r.warnings, [`${file} [b2bua-server::both] level: odd`]);
      ({ r } = await read('nowarnings', 'return { problems: [] };'));
      assert.deepEqual([r.problems, r.warnings], [[], []], 'warnings are optional');
    });

    it('an old-style validate() returning string[] works as before: problems, no warnings', async () => {
      const { file, r } = await read('oldstyle', 'return o.level > 5 ? ["level: too high (at most 5)"] : [];');
      assert.deepEqual(r.problems, [`${file} [b2bua-server::oldstyle] level: too high (at most 5)`]);
      assert.deepEqual(r.warnings, []);
    });

    it('anything else (a JavaScript plugin can return anything) is a problem naming the plugin', async () => {
      for (const [name, body] of [['none', 'return undefined;'], ['numbers', 'return [1];'], ['badwarnings', 'return { problems: [], warnings: "x" };']] as const) {
        const { file, r } = await read(name, body);
        assert.equal(r.problems.length, 1, name);
        assert.ok(r.problems[0]!.startsWith(`${file} [b2bua-server::${name}]: the plugin's validate() returned `), r.problems[0]);
        assert.match(r.problems[0]!, /not a list of problems \(string\[\]\) or \{ problems: string\[\], warnings\?: string\[\] \}$/);
      }
    });
  });

  it('rejects a plugin whose hostApi excludes this host, and a module that is not a plugin', async () => {
    writePlugin(path.join(builtinDir, 'old'), 'old', '', '^0.1.0');
    mkdirSync(path.join(builtinDir, 'broken'));
    writeFileSync(path.join(builtinDir, 'broken', 'index.js'), 'export default { name: "broken" };\n');
    const file = path.join(configDir, 'flexisip.conf');
    let r = await readApplication(parseConfigText('[b2bua-server]\napplication=old\n', file).config, { builtinDir, serverRoot });
    assert.equal(r.code, 'B2BUA_PLUGIN_INCOMPATIBLE');
    assert.ok(r.problems[0]!.includes(`application "old" (built-in) needs host API ^0.1.0 but this server provides ${HOST_API_VERSION} `), r.problems[0]);
    r = await readApplication(parseConfigText('[b2bua-server]\napplication=broken\n', file).config, { builtinDir, serverRoot });
    assert.equal(r.code, 'B2BUA_PLUGIN_INVALID');
    assert.match(r.problems[0]!, /is not a valid plugin: hostApi .* is missing; configSchema .* is missing; apply\(host\) is missing/);
  });

  it('a plugin that throws in apply() becomes B2BUA_PLUGIN_FAILED', async () => {
    writePlugin(path.join(builtinDir, 'thrower'), 'thrower');
    writeFileSync(path.join(builtinDir, 'thrower', 'index.js'),
      'export default { name: "thrower", hostApi: "^1.0.0", configSchema: {}, apply() { throw new Error("boom"); } };\n');
    const file = path.join(configDir, 'flexisip.conf');
    const r = await readApplication(parseConfigText('[b2bua-server]\napplication=thrower\n', file).config, { builtinDir, serverRoot });
    await assert.rejects(applyPlugin(r.application!.plugin, hostFor(r.application!.options, configDir)),
      (e: unknown) => isB2buaError(e, 'B2BUA_PLUGIN_FAILED') && /application "thrower" failed in apply\(host\): boom/.test(e.message));
  });

  it('the example third-party plugin, installed in a node_modules outside the source tree, loads and its hooks run', async () => {
    const installed = path.join(configDir, 'node_modules', 'b2bua-plugin-hello');
    cpSync(FIXTURE, installed, { recursive: true });
    const marker = path.join(tmp, 'marker.jsonl');
    const file = path.join(configDir, 'flexisip.conf');
    const reading = parseConfigText(`[b2bua-server]\napplication=hello\nuser-agent=Test/1\n[b2bua-server::hello]\nmarker-file=${marker}\ngreeting=bonjour\n`, file);
    assert.deepEqual(reading.problems, []);
    const r = await readApplication(reading.config, { builtinDir, serverRoot });
    assert.deepEqual(r.problems, []);
    assert.equal(r.application?.location.source, 'npm');
    assert.ok(r.application.location.entry.startsWith(installed), 'loaded from the copy outside the tree');
    assert.ok(!r.application.location.entry.startsWith(path.resolve(FIXTURE)));

    const hooks = createHooks();
    await applyPlugin(r.application.plugin, { ...hostFor(r.application.options, configDir), hooks, server: reading.config.server });
    assert.equal(existsSync(marker), false, 'nothing written before the hook runs');
    await hooks.ready.promise({ version: '0.1.0', transports: ['sip:127.0.0.1:5999;transport=udp'] });
    await hooks.shutdown.promise();
    const lines = readFileSync(marker, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(lines.map((l) => l['event']), ['ready', 'shutdown']);
    assert.equal(lines[0]!['greeting'], 'bonjour');
    assert.equal(lines[0]!['userAgent'], 'Test/1');
    assert.deepEqual(lines[0]!['transports'], ['sip:127.0.0.1:5999;transport=udp']);
    assert.equal(lines[0]!['hostApiVersion'], HOST_API_VERSION, 'b2bua-server/plugin-api resolved to the running host');
  });

  it('the example plugin (hostApi ^1.0.0, validate() returning string[]) still reports its problems, and no warnings', async () => {
    cpSync(FIXTURE, path.join(configDir, 'node_modules', 'b2bua-plugin-hello'), { recursive: true });
    const file = path.join(configDir, 'flexisip.conf');
    const r = await readApplication(parseConfigText('[b2bua-server]\napplication=hello\n[b2bua-server::hello]\nreject-user=a@b\n', file).config, { builtinDir, serverRoot });
    assert.equal(r.application?.plugin.hostApi, '^1.0.0');
    assert.deepEqual(r.problems, [`${file} [b2bua-server::hello] reject-user: expected a bare user part such as "mallory"`]);
    assert.deepEqual(r.warnings, []);
  });

  it('the example plugin rejects a misspelt enum value with did-you-mean', async () => {
    cpSync(FIXTURE, path.join(configDir, 'node_modules', 'b2bua-plugin-hello'), { recursive: true });
    const file = path.join(configDir, 'flexisip.conf');
    const r = await readApplication(parseConfigText('[b2bua-server]\napplication=hello\n[b2bua-server::hello]\ngreeting=bonjur\n', file).config, { builtinDir, serverRoot });
    assert.deepEqual(r.problems, [`${file} [b2bua-server::hello] greeting: "bonjur" is not one of hello, bonjour, hola (did you mean "bonjour"?)`]);
  });

  // mocha loads these .ts files through tsx's CommonJS hook, the plugin gets the ESM instance of the plugin API:
  // identity (instanceof) is only meaningful in the real daemon, so this checks the shape.
  it('the example plugin refuses calls with rejectCall() from b2bua-server/plugin-api', async () => {
    cpSync(FIXTURE, path.join(configDir, 'node_modules', 'b2bua-plugin-hello'), { recursive: true });
    const file = path.join(configDir, 'flexisip.conf');
    const r = await readApplication(parseConfigText('[b2bua-server]\napplication=hello\n[b2bua-server::hello]\nreject-user=mallory\n', file).config, { builtinDir, serverRoot });
    assert.deepEqual(r.problems, []);
    const hooks = createHooks();
    await applyPlugin(r.application!.plugin, { ...hostFor(r.application!.options, configDir), hooks });
    const call = (to: string) => ({ id: '1', legA: { callId: 'c1', to: { uri: to, params: {} } }, data: new Map() }) as unknown as IncomingCall;
    await hooks.incomingCall.promise(call('sip:bob@127.0.0.1'));
    await assert.rejects(hooks.incomingCall.promise(call('sip:mallory@127.0.0.1')),
      (e: unknown) => e instanceof Error && e.name === 'CallRejection' && (e as CallRejection).status === 403 && (e as CallRejection).reason === 'Forbidden by hello');
  });
});

function hostFor(options: Readonly<Record<string, unknown>>, configDir: string) {
  const sip: PluginSipApi = {
    contact: 'sip:127.0.0.1:5999', request: () => Promise.reject(new Error('no SIP in this test')), subscribe: () => { throw new Error('no SIP in this test'); },
  };
  return { hooks: createHooks(), options, server: parseConfigText('', 'x.conf').config.server, configDir, log: silentLogger(), sip, media: { engine: 'relay', encryption: ['none'], srtpSuites: [], unavailable: {} },
    admin: new PluginAdminCommands({ name: 'test' }), configFile: configFileView(parseIni('')) } as const;
}
