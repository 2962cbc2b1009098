/**
 * The application named by `[b2bua-server] application=`: found, imported, and its
 * `[b2bua-server::<name>]` section validated (schema, then the plugin's own validate()).
 * Used by both `--check-config` (problems listed) and start-up (problems fatal).
 */
import { isB2buaError, type ErrorCode } from '../errors/index.js';
import type { B2buaPlugin } from '../plugin-api/index.js';
import { didYouMean } from '../text/did-you-mean.js';
import { deepFreeze } from '../config/freeze.js';
import { PLUGIN_SECTION_PREFIX, type LoadedConfig } from '../config/load.js';
import { validateSection } from '../config/section.js';
import { findPlugin, listPlugins, type DiscoveryOptions, type PluginLocation } from './discover.js';
import { describeLocation, importPlugin } from './load.js';

export interface Application {
  readonly plugin: B2buaPlugin;
  readonly location: PluginLocation;
  /** The plugin's section, kebab-case keys, converted, frozen. */
  readonly options: Readonly<Record<string, unknown>>;
}

export interface ApplicationReading {
  readonly application: Application | undefined;
  readonly problems: readonly string[];
  /** The code a fatal error should carry (plugin-specific when the plugin is the problem). */
  readonly code: ErrorCode;
}

export function discoveryOptions(config: LoadedConfig, overrides: Partial<DiscoveryOptions> = {}): DiscoveryOptions {
  return {
    configDir: config.configDir,
    pluginDirectories: config.server.pluginDirectories,
    ...overrides,
  };
}

export async function readApplication(config: LoadedConfig, overrides: Partial<DiscoveryOptions> = {}): Promise<ApplicationReading> {
  const discovery = discoveryOptions(config, overrides);
  const name = config.server.application;
  const problems: string[] = [];
  const at = `${config.file} [b2bua-server] application`;

  problems.push(...unknownPluginSections(config, discovery, name));

  const location = findPlugin(name, discovery);
  if (!location) {
    const found = listPlugins(discovery);
    const hint = didYouMean(name, found.map((p) => p.name));
    const list = found.length ? found.map((p) => `${p.name} (${describeLocation(p)})`).join(', ') : 'none';
    problems.unshift(`${at}: unknown application "${name}"${hint ? ` (did you mean "${hint}"?)` : ''}; applications found: ${list}. ` +
      `Install an npm package b2bua-plugin-${name} or add its folder to plugin-directories`);
    return { application: undefined, problems, code: 'B2BUA_PLUGIN_NOT_FOUND' };
  }

  let plugin: B2buaPlugin;
  try {
    plugin = await importPlugin(location);
  } catch (e) {
    problems.unshift(`${at}: ${(e as Error).message}`);
    return { application: undefined, problems, code: isB2buaError(e) ? e.code : 'B2BUA_PLUGIN_INVALID' };
  }

  const section = `${PLUGIN_SECTION_PREFIX}${name}`;
  const where = { file: config.file, section };
  const result = validateSection(plugin.configSchema, config.document.sections.get(section)?.entries, where);
  problems.push(...result.problems);
  if (result.problems.length === 0 && plugin.validate) {
    try {
      const own = await plugin.validate(result.values, { configDir: config.configDir });
      problems.push(...own.map((p) => `${config.file} [${section}] ${p}`));
    } catch (e) {
      problems.push(`${config.file} [${section}]: the plugin's validate() threw: ${(e as Error).message}`);
    }
  }
  const options = deepFreeze(result.values);
  return { application: { plugin, location, options }, problems, code: 'B2BUA_CONFIG_INVALID' };
}

/** `[b2bua-server::x]` where no plugin x exists: most likely a misspelt section. */
function unknownPluginSections(config: LoadedConfig, discovery: DiscoveryOptions, application: string): string[] {
  const problems: string[] = [];
  const names = [...config.document.sections.keys()].filter((s) => s.startsWith(PLUGIN_SECTION_PREFIX));
  let available: string[] | undefined;
  for (const section of names) {
    const plugin = section.slice(PLUGIN_SECTION_PREFIX.length);
    if (plugin === application || findPlugin(plugin, discovery)) continue;
    available ??= listPlugins(discovery).map((p) => p.name);
    const hint = didYouMean(plugin, [application, ...available]);
    problems.push(`${config.file} [${section}]: no application "${plugin}" exists${hint ? ` (did you mean "[${PLUGIN_SECTION_PREFIX}${hint}]"?)` : ''}`);
  }
  return problems;
}
