/** Runs a plugin's apply(host): the plugin taps the hooks. A throw becomes B2BUA_PLUGIN_FAILED,
 * a PluginConfigError B2BUA_CONFIG_INVALID. */
import { b2buaError, isB2buaError } from '../errors/index.js';
import { PluginConfigError, type B2buaPlugin, type PluginHost } from '../plugin-api/index.js';

export async function applyPlugin(plugin: B2buaPlugin, host: PluginHost): Promise<void> {
  try {
    await plugin.apply(host);
  } catch (e) {
    if (isB2buaError(e)) throw e;
    if (e instanceof PluginConfigError) {
      const problems = e.problems.map((p) => `[b2bua-server::${plugin.name}] ${p}`);
      throw b2buaError('B2BUA_CONFIG_INVALID', { problem: problems.join('\n  ') }, { details: problems });
    }
    throw b2buaError('B2BUA_PLUGIN_FAILED', { plugin: plugin.name, where: 'apply(host)', why: (e as Error).message }, { cause: e });
  }
}
