/** providers= option → compiled bridge configuration, or the list of problems to report. */
import { compileBridgeConfig } from './bridge-config.js';
import type { BridgeConfig } from './bridge-config.js';
import { readProvidersFile } from './providers-file.js';
import type { Loaded } from './providers-file.js';

export async function loadBridgeConfig(providersOption: string | undefined, configDir: string): Promise<Loaded<BridgeConfig>> {
  const file = await readProvidersFile(providersOption, configDir);
  if (!file.ok) return file;
  const { config, problems } = compileBridgeConfig(file.value);
  return problems.length > 0 ? { ok: false, problems, warnings: config.warnings } : { ok: true, value: config };
}
