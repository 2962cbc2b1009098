/**
 * Where an application plugin is found, in this order (first wins):
 * 1. built-in: `plugins/<name>/index.js` next to this build (`index.ts` when running from sources);
 * 2. npm: a package `b2bua-plugin-<name>` or `@<scope>/b2bua-plugin-<name>` in a `node_modules`
 *    folder above the configuration file's folder, or above the server's own package;
 * 3. `plugin-directories`: `<dir>/<name>/` (a package, or a folder with index.js/index.mjs) or `<dir>/<name>.js|.mjs`.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PACKAGE_ROOT } from '../paths.js';

export type PluginSource = 'built-in' | 'npm' | 'plugin-directories';

export interface PluginLocation {
  readonly name: string;
  readonly source: PluginSource;
  /** Absolute path of the module to import. */
  readonly entry: string;
  /** npm package name, for npm plugins and packaged folders. */
  readonly packageName?: string;
}

export interface DiscoveryOptions {
  readonly configDir: string;
  readonly pluginDirectories: readonly string[];
  /** Overrides for tests. */
  readonly builtinDir?: string;
  readonly serverRoot?: string;
}

export const NPM_PREFIX = 'b2bua-plugin-';
export const PLUGIN_NAME = /^[a-z0-9][a-z0-9._-]*$/;

const HERE = fileURLToPath(import.meta.url);
const RUNNING_FROM_SOURCES = HERE.endsWith('.ts');
const DEFAULT_BUILTIN_DIR = path.resolve(path.dirname(HERE), '../../plugins');
const INDEX_FILES = RUNNING_FROM_SOURCES ? ['index.js', 'index.mjs', 'index.ts'] : ['index.js', 'index.mjs'];

export function findPlugin(name: string, options: DiscoveryOptions): PluginLocation | undefined {
  if (!PLUGIN_NAME.test(name)) return undefined;
  return findBuiltin(name, options) ?? findNpm(name, options) ?? findInDirectories(name, options);
}

/** Every plugin that can be found (first location of each name), for "unknown application" messages. */
export function listPlugins(options: DiscoveryOptions): PluginLocation[] {
  const names = new Set<string>();
  const builtinDir = options.builtinDir ?? DEFAULT_BUILTIN_DIR;
  for (const d of subdirectories(builtinDir)) names.add(d);
  for (const root of nodeModulesFolders(options)) {
    for (const entry of subdirectories(root)) {
      if (entry.startsWith(NPM_PREFIX)) names.add(entry.slice(NPM_PREFIX.length));
      if (entry.startsWith('@')) {
        for (const scoped of subdirectories(path.join(root, entry))) {
          if (scoped.startsWith(NPM_PREFIX)) names.add(scoped.slice(NPM_PREFIX.length));
        }
      }
    }
  }
  for (const dir of options.pluginDirectories) {
    for (const entry of safeReaddir(dir)) names.add(entry.replace(/\.(m?js)$/, ''));
  }
  const found: PluginLocation[] = [];
  for (const n of [...names].sort()) {
    const location = findPlugin(n, options);
    if (location) found.push(location);
  }
  return found;
}

function findBuiltin(name: string, options: DiscoveryOptions): PluginLocation | undefined {
  const entry = indexIn(path.join(options.builtinDir ?? DEFAULT_BUILTIN_DIR, name));
  return entry ? { name, source: 'built-in', entry } : undefined;
}

function findNpm(name: string, options: DiscoveryOptions): PluginLocation | undefined {
  for (const root of nodeModulesFolders(options)) {
    const candidates = [path.join(root, NPM_PREFIX + name)];
    for (const scope of subdirectories(root).filter((d) => d.startsWith('@'))) {
      candidates.push(path.join(root, scope, NPM_PREFIX + name));
    }
    for (const dir of candidates) {
      const pkg = packageEntry(dir);
      if (pkg) return { name, source: 'npm', entry: pkg.entry, packageName: pkg.name };
    }
  }
  return undefined;
}

function findInDirectories(name: string, options: DiscoveryOptions): PluginLocation | undefined {
  for (const dir of options.pluginDirectories) {
    const folder = path.join(dir, name);
    const pkg = packageEntry(folder);
    if (pkg) return { name, source: 'plugin-directories', entry: pkg.entry, packageName: pkg.name };
    const index = indexIn(folder);
    if (index) return { name, source: 'plugin-directories', entry: index };
    for (const ext of ['.js', '.mjs']) {
      const file = folder + ext;
      if (isFile(file)) return { name, source: 'plugin-directories', entry: file };
    }
  }
  return undefined;
}

/** node_modules folders above the config folder, then above the server's package (nearest first, no duplicates). */
function nodeModulesFolders(options: DiscoveryOptions): string[] {
  const out: string[] = [];
  for (const start of [options.configDir, options.serverRoot ?? PACKAGE_ROOT]) {
    let dir = path.resolve(start);
    for (;;) {
      const nm = path.join(dir, 'node_modules');
      if (!out.includes(nm) && isDirectory(nm)) out.push(nm);
      const parent = path.dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  return out;
}

/** Entry module of a package folder (exports "." → import/default, then main, then index.js). */
function packageEntry(dir: string): { name: string; entry: string } | undefined {
  const file = path.join(dir, 'package.json');
  if (!isFile(file)) return undefined;
  let pkg: { name?: string; main?: string; exports?: unknown };
  try {
    pkg = JSON.parse(readFileSync(file, 'utf8')) as typeof pkg;
  } catch {
    return undefined;
  }
  const target = exportTarget(pkg.exports) ?? pkg.main ?? 'index.js';
  const entry = path.resolve(dir, target);
  return isFile(entry) ? { name: pkg.name ?? path.basename(dir), entry } : undefined;
}

function exportTarget(exports: unknown): string | undefined {
  if (typeof exports === 'string') return exports;
  if (exports === null || typeof exports !== 'object') return undefined;
  const map = exports as Record<string, unknown>;
  if ('.' in map) return exportTarget(map['.']);
  for (const condition of ['import', 'node', 'default']) {
    const t = exportTarget(map[condition]);
    if (t) return t;
  }
  return undefined;
}

function indexIn(dir: string): string | undefined {
  for (const f of INDEX_FILES) {
    const file = path.join(dir, f);
    if (isFile(file)) return file;
  }
  return undefined;
}

function subdirectories(dir: string): string[] {
  return safeReaddir(dir).filter((e) => isDirectory(path.join(dir, e)));
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function isFile(p: string): boolean {
  try { return statSync(p).isFile(); } catch { return false; }
}

function isDirectory(p: string): boolean {
  return existsSync(p) && (() => { try { return statSync(p).isDirectory(); } catch { return false; } })();
}
