/**
 * core/errors/README.md's table of codes is generated from the catalog, between
 * `<!-- catalog:begin -->` and `<!-- catalog:end -->`. A unit test fails when they disagree; to regenerate:
 *   npx tsx core/errors/readme-table.ts --write
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PACKAGE_ROOT } from '../paths.js';
import { CATALOG, type CatalogEntry } from './catalog.js';

export const ERRORS_README = path.join(PACKAGE_ROOT, 'core', 'errors', 'README.md');

const BEGIN = '<!-- catalog:begin -->';
const END = '<!-- catalog:end -->';

const cell = (text: string): string => text.replace(/\|/g, '\\|');

export function renderCatalogTable(): string {
  const rows = Object.entries(CATALOG).map(([code, e]: [string, CatalogEntry]) =>
    `| \`${code}\` | ${e.status !== undefined ? `${e.status}${e.generic ? ' (phrase only)' : ''}` : (e.category ? `as ${e.category}` : '')} | \`${cell(e.message)}\` | ${cell(e.fix)} |`);
  return ['| Code | SIP status | Message | What to change |', '|---|---|---|---|', ...rows].join('\n');
}

/** The README text with the table between the markers regenerated (unchanged when the markers are absent). */
export function regenerate(readme: string): string {
  const i = readme.indexOf(BEGIN);
  const j = readme.indexOf(END);
  if (i < 0 || j < i) return readme;
  return `${readme.slice(0, i + BEGIN.length)}\n${renderCatalogTable()}\n${readme.slice(j)}`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url) && process.argv.includes('--write')) {
  writeFileSync(ERRORS_README, regenerate(readFileSync(ERRORS_README, 'utf8')));
  process.stdout.write(`updated ${ERRORS_README}\n`);
}
