/** Plugin host: discovery, loading, option validation and applying a plugin to the hooks. */
export { findPlugin, listPlugins, NPM_PREFIX, type DiscoveryOptions, type PluginLocation, type PluginSource } from './discover.js';
export { importPlugin, describeLocation, satisfies } from './load.js';
export { readApplication, readValidation, discoveryOptions, type Application, type ApplicationReading } from './application.js';
export { applyPlugin } from './apply.js';
export { PluginAdminCommands, type AdminCommand } from './admin-commands.js';
export { configFileView } from './config-file.js';
