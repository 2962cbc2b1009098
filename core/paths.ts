/** Locations inside the installed package, valid both from sources (tsx) and from dist/. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { b2buaError } from './errors/index.js';

function findPackageRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'schemas'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw b2buaError('B2BUA_INTERNAL', { bug: `b2bua-server: package root not found above ${start}` });
    dir = parent;
  }
}

export const PACKAGE_ROOT = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));
export const BUILTIN_PLUGINS_DIR = path.join(PACKAGE_ROOT, 'plugins');
