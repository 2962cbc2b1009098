import assert from 'node:assert/strict';
import { createAdminServer } from '../../../core/admin/index.js';
import { silentLogger } from '../../../core/log/index.js';
import { PluginAdminCommands } from '../../../core/plugin-host/index.js';

describe('plugin admin commands (host.admin.register)', () => {
  it('serves registered commands first, then the deprecated static adminCommands not registered', () => {
    const commands = new PluginAdminCommands({ name: 'p', adminCommands: { OLD: () => 'static', BOTH: () => 'static' } });
    commands.register('BOTH', () => 'registered');
    commands.register('NEW', () => 'registered');
    assert.equal(commands.get('BOTH')!(), 'registered');
    assert.equal(commands.get('NEW')!(), 'registered');
    assert.equal(commands.get('OLD')!(), 'static');
    assert.equal(commands.get('toString'), undefined);
    assert.deepEqual(commands.names(), ['BOTH', 'NEW', 'OLD']);
  });

  it('refuses a command registered twice, without a name, or that is not a function', () => {
    const commands = new PluginAdminCommands({ name: 'p' });
    commands.register('INFO', () => 1);
    assert.throws(() => commands.register('INFO', () => 2), /application "p": admin command "INFO" is already registered/);
    assert.throws(() => commands.register('', () => 2), /needs a name/);
    assert.throws(() => commands.register('X', 'nope' as never), /admin command "X" is not a function/);
    assert.equal(commands.get('INFO')!(), 1);
  });

  it('the admin interface answers GET /plugin/<command> from them, including commands registered after it started', async () => {
    const commands = new PluginAdminCommands({ name: 'p' });
    const admin = await createAdminServer('127.0.0.1:0', { counters: () => ({}) as never, callsWithMedia: () => Promise.resolve([]) }, silentLogger(), commands);
    try {
      const get = (p: string) => fetch(`${admin.url}${p}`, { signal: AbortSignal.timeout(3000) });
      let res = await get('/plugin/SIP_BRIDGE%20INFO');
      assert.equal(res.status, 404);
      commands.register('SIP_BRIDGE INFO', () => ({ providers: [] }));
      res = await get('/plugin/SIP_BRIDGE%20INFO');
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { providers: [] });
      const missing = (await (await get('/plugin/NOPE')).json()) as { error: string };
      assert.match(missing.error, /^no such resource \/plugin\/NOPE; try \/health, \/ready, \/counters, \/calls, \/plugin\/SIP_BRIDGE%20INFO$/);
    } finally {
      await admin.close();
    }
  });
});
