/**
 * Importing a plugin module and checking it honours the contract of core/plugin-api:
 * default export { name, hostApi, configSchema, apply(host), validate? }, hostApi range including HOST_API_VERSION.
 */
import { pathToFileURL } from 'node:url';
import semver from 'semver';
import { b2buaError } from '../errors/index.js';
import { HOST_API_VERSION, type B2buaPlugin } from '../plugin-api/index.js';
import { aliasPluginApi } from './api-alias.js';
import type { PluginLocation } from './discover.js';

export async function importPlugin(location: PluginLocation): Promise<B2buaPlugin> {
  const from = describeLocation(location);
  let mod: Record<string, unknown>;
  aliasPluginApi();
  try {
    mod = (await import(pathToFileURL(location.entry).href)) as Record<string, unknown>;
  } catch (e) {
    throw b2buaError('B2BUA_PLUGIN_INVALID', { plugin: location.name, from, problem: `failed to load: ${(e as Error).message}` }, { cause: e });
  }
  const plugin = (mod['default'] ?? mod['plugin']) as Partial<B2buaPlugin> | undefined;
  const problems = contractProblems(plugin, location.name);
  if (problems.length > 0) {
    throw b2buaError('B2BUA_PLUGIN_INVALID', {
      plugin: location.name, from,
      problem: `is not a valid plugin: ${problems.join('; ')} ` +
        '(the module\'s default export must be { name, hostApi, configSchema, apply(host) }, see "Writing a plugin" in the README)',
    });
  }
  const ok = satisfies(HOST_API_VERSION, plugin!.hostApi!);
  if (ok === undefined) {
    const problem = `declares hostApi "${plugin!.hostApi}", which is not a semver range this server understands (use e.g. "^1.0.0")`;
    throw b2buaError('B2BUA_PLUGIN_INVALID', { plugin: location.name, from, problem });
  }
  if (!ok) {
    throw b2buaError('B2BUA_PLUGIN_INCOMPATIBLE', { plugin: location.name, from, needs: plugin!.hostApi!, provides: HOST_API_VERSION });
  }
  return plugin as B2buaPlugin;
}

function contractProblems(plugin: Partial<B2buaPlugin> | undefined, expectedName: string): string[] {
  if (plugin === null || typeof plugin !== 'object') return ['no default export object'];
  const problems: string[] = [];
  if (typeof plugin.name !== 'string') problems.push('name is missing');
  else if (plugin.name !== expectedName) problems.push(`name is "${plugin.name}" but it was found as "${expectedName}"`);
  if (typeof plugin.hostApi !== 'string') problems.push('hostApi (a semver range such as "^1.0.0") is missing');
  if (plugin.configSchema === null || typeof plugin.configSchema !== 'object') problems.push('configSchema (a JSON schema object) is missing');
  if (typeof plugin.apply !== 'function') problems.push('apply(host) is missing');
  if (plugin.validate !== undefined && typeof plugin.validate !== 'function') problems.push('validate is not a function');
  return problems;
}

/** true / false, or undefined when `range` (or `version`) is not semver (the caller reports it). */
export function satisfies(version: string, range: string): boolean | undefined {
  if (semver.valid(version) === null || semver.validRange(range) === null) return undefined;
  return semver.satisfies(version, range);
}

export function describeLocation(location: PluginLocation): string {
  switch (location.source) {
    case 'built-in': return 'built-in';
    case 'npm': return `npm package ${location.packageName ?? ''} at ${location.entry}`.replace('  ', ' ');
    case 'plugin-directories': return `plugin-directories: ${location.entry}`;
  }
}
