/**
 * The README's configuration reference is generated from the schemas, between markers
 * `<!-- reference:<section>:begin -->` and `<!-- reference:<section>:end -->`.
 * A unit test fails when the README and the schemas disagree; to regenerate:
 *   npx tsx core/config/readme-reference.ts --write
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUILTIN_PLUGINS_DIR, PACKAGE_ROOT } from '../paths.js';
import { renderReferenceTable } from './describe-schema.js';
import { b2buaServerSchema, B2BUA_SECTION, PLUGIN_SECTION_PREFIX } from './load.js';
import type { SectionSchema } from './section.js';

export const README = path.join(PACKAGE_ROOT, 'README.md');

/** Sections documented in the README: [b2bua-server] and each built-in application (its schema is plugins/<name>/schema.json). */
export function referenceSections(): { section: string; schema: SectionSchema }[] {
  const sections = [{ section: B2BUA_SECTION, schema: b2buaServerSchema }];
  for (const app of ['trenscrypter', 'sip-bridge']) {
    const schema = JSON.parse(readFileSync(path.join(BUILTIN_PLUGINS_DIR, app, 'schema.json'), 'utf8')) as SectionSchema;
    sections.push({ section: `${PLUGIN_SECTION_PREFIX}${app}`, schema });
  }
  return sections;
}

const marker = (section: string, end: 'begin' | 'end'): string => `<!-- reference:${section}:${end} -->`;

/** The README text with every reference block regenerated (blocks whose markers are absent are left out). */
export function regenerate(readme: string): string {
  let text = readme;
  for (const { section, schema } of referenceSections()) {
    const begin = marker(section, 'begin');
    const end = marker(section, 'end');
    const i = text.indexOf(begin);
    const j = text.indexOf(end);
    if (i < 0 || j < i) continue;
    text = `${text.slice(0, i + begin.length)}\n${renderReferenceTable({ section, schema })}\n${text.slice(j)}`;
  }
  return text;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url) && process.argv.includes('--write')) {
  writeFileSync(README, regenerate(readFileSync(README, 'utf8')));
  process.stdout.write(`updated ${README}\n`);
}
