/** Runs a plugin's apply(host): the plugin taps the hooks. A throw becomes B2BUA_PLUGIN_FAILED,
 * a PluginConfigError B2BUA_CONFIG_INVALID. */
import { B2buaError, isB2buaError } from '../errors/index.js';
import { PluginConfigError, type B2buaPlugin, type PluginHost } from '../plugin-api/index.js';

export async function applyPlugin(plugin: B2buaPlugin, host: PluginHost): Promise<void> {
  try {
    await plugin.apply(host);
  } catch (e) {
    if (isB2buaError(e)) throw e;
    if (e instanceof PluginConfigError) {
      const problems = e.problems.map((p) => `[b2bua-server::${plugin.name}] ${p}`);
      throw new B2buaError('B2BUA_CONFIG_INVALID', problems.join('\n  '), { details: problems });
    }
    throw new B2buaError('B2BUA_PLUGIN_FAILED', `application "${plugin.name}" failed in apply(host): ${(e as Error).message}`, { cause: e });
  }
}
