/**
 * sip-bridge: routes calls through external SIP provider accounts (trunking), Flexisip's providers JSON format.
 */
import { definePlugin } from '../../core/plugin-api/index.js';
import schema from '../../schemas/sip-bridge.schema.json' with { type: 'json' };
import { loadBridgeConfig } from './load.js';

export interface SipBridgeOptions {
  readonly providers?: string;
}

export const PLUGIN_NAME = 'sip-bridge';

export default definePlugin<SipBridgeOptions>({
  name: PLUGIN_NAME,
  hostApi: '^1.0.0',
  configSchema: schema,
  async validate(options, { configDir }) {
    const loaded = await loadBridgeConfig(options.providers, configDir);
    return loaded.ok ? [] : loaded.problems;
  },
  async apply(host) {
    const loaded = await loadBridgeConfig(host.options.providers, host.configDir);
    if (!loaded.ok) throw new Error(`invalid configuration: ${loaded.problems.join('; ')}`);
  },
});
