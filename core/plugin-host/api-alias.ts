/**
 * A third-party plugin imports `b2bua-server/plugin-api` at run time (definePlugin, rejectCall,
 * HOST_API_VERSION...). Installed next to the configuration file or in a plugin directory, it usually
 * cannot resolve the `b2bua-server` package itself; and even when it can, it must get the module
 * instance of the server that is running (so `instanceof CallRejection` holds). A Node module resolve
 * hook maps that specifier to this server's plugin API module, wherever the plugin lives.
 */
import { register } from 'node:module';

const SPECIFIER = 'b2bua-server/plugin-api';

const HOOK_SOURCE = `
let target;
export function initialize(data) { target = data.target; }
export async function resolve(specifier, context, next) {
  // Delegated so that a TypeScript loader (tsx, when running from sources) still handles the target.
  if (specifier === ${JSON.stringify(SPECIFIER)}) return next(target, context);
  return next(specifier, context);
}
`;

let registered = false;

export function aliasPluginApi(): void {
  if (registered) return;
  registered = true;
  // Same folder layout from sources (index.ts) and from dist/ (index.js): resolve next to this module.
  const extension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  const target = new URL(`../plugin-api/index${extension}`, import.meta.url).href;
  register(`data:text/javascript,${encodeURIComponent(HOOK_SOURCE)}`, { data: { target } });
}
