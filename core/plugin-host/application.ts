/**
 * The application named by `[b2bua-server] application=`: found, imported, and its
 * `[b2bua-server::<name>]` section validated (schema, then the plugin's own validate()).
 * Used by both `--check-config` (problems listed, then warnings) and start-up (problems fatal, warnings logged once).
 */
import { isB2buaError, type ErrorCode } from '../errors/index.js';
import type { B2buaPlugin, PluginValidation } from '../plugin-api/index.js';
import { didYouMean } from '../text/did-you-mean.js';
import { deepFreeze } from '../config/freeze.js';
import { PLUGIN_SECTION_PREFIX, type LoadedConfig } from '../config/load.js';
import { validateSection } from '../config/section.js';
import { configFileView } from './config-file.js';
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
  /**
   * What the plugin's validate() warned about, each `<file> [b2bua-server::<name>] <warning>` (the plugin's own
   * words after the section); never fatal. --check-config prints them, the daemon logs them (B2BUA_CONFIG_WARNING).
   */
  readonly warnings: readonly string[];
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
  const warnings: string[] = [];
  const at = `${config.file} [b2bua-server] application`;

  problems.push(...unknownPluginSections(config, discovery, name));

  const location = findPlugin(name, discovery);
  if (!location) {
    const found = listPlugins(discovery);
    const hint = didYouMean(name, found.map((p) => p.name));
    const list = found.length ? found.map((p) => `${p.name} (${describeLocation(p)})`).join(', ') : 'none';
    problems.unshift(`${at}: unknown application "${name}"${hint ? ` (did you mean "${hint}"?)` : ''}; applications found: ${list}. ` +
      `Install an npm package b2bua-plugin-${name} or add its folder to plugin-directories`);
    return { application: undefined, problems, warnings, code: 'B2BUA_PLUGIN_NOT_FOUND' };
  }

  let plugin: B2buaPlugin;
  try {
    plugin = await importPlugin(location);
  } catch (e) {
    problems.unshift(`${at}: ${(e as Error).message}`);
    return { application: undefined, problems, warnings, code: isB2buaError(e) ? e.code : 'B2BUA_PLUGIN_INVALID' };
  }

  const section = `${PLUGIN_SECTION_PREFIX}${name}`;
  const where = { file: config.file, section };
  const result = validateSection(plugin.configSchema, config.document.sections.get(section)?.entries, where);
  problems.push(...result.problems);
  if (result.problems.length === 0 && plugin.validate) {
    let read: ReturnType<typeof readValidation>;
    try {
      read = readValidation(await plugin.validate(result.values, { configDir: config.configDir, configFile: configFileView(config.document) }));
    } catch (e) {
      read = `threw: ${(e as Error).message}`;
    }
    if (typeof read === 'string') problems.push(`${config.file} [${section}]: the plugin's validate() ${read}`);
    else {
      problems.push(...read.problems.map((p) => `${config.file} [${section}] ${p}`));
      warnings.push(...read.warnings.map((w) => `${config.file} [${section}] ${w}`));
    }
  }
  const options = deepFreeze(result.values);
  return { application: { plugin, location, options }, problems, warnings, code: 'B2BUA_CONFIG_INVALID' };
}

/**
 * validate()'s result: `string[]` (problems only, host API 1.0) or `{ problems, warnings? }` (since 1.2.0); a string
 * saying what is wrong when it is neither (a plugin in plain JavaScript can return anything).
 */
export function readValidation(result: unknown): { problems: readonly string[]; warnings: readonly string[] } | string {
  if (isStrings(result)) return { problems: result, warnings: [] };
  if (result !== null && typeof result === 'object' && !Array.isArray(result)) {
    const { problems, warnings } = result as Partial<PluginValidation>;
    if (isStrings(problems) && (warnings === undefined || isStrings(warnings))) return { problems, warnings: warnings ?? [] };
  }
  return `returned ${describe(result)}, not a list of problems (string[]) or { problems: string[], warnings?: string[] }`;
}

function isStrings(v: unknown): v is readonly string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

function describe(v: unknown): string {
  try {
    return JSON.stringify(v)?.slice(0, 80) ?? String(v);
  } catch {
    return String(v);
  }
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
