/**
 * `B2buaServerConfig` (core/config/server-config.ts) is generated from schemas/b2bua-server.schema.json: one
 * readonly camelCase field per key, typed as load.ts hands it out after conversion and validation.
 * A unit test fails when the file is stale; to regenerate:
 *   npx tsx core/config/generate-server-config.ts --write
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { wrap } from './describe-schema.js';
import { b2buaServerSchema, camelCase } from './load.js';
import type { PropertySchema, SectionSchema } from './section.js';

export const SERVER_CONFIG_FILE = fileURLToPath(new URL('./server-config.ts', import.meta.url));
export const GENERATE_COMMAND = 'npx tsx core/config/generate-server-config.ts --write';

/** The TypeScript type of a converted value; load.ts parses `port-range` strings into PortRange. */
export function tsType(property: PropertySchema): string {
  if (property.enum) return property.enum.map((v) => (typeof v === 'string' ? `'${v}'` : JSON.stringify(v))).join(' | ');
  if (property.format === 'port-range') return 'PortRange';
  switch (property.type) {
    case 'string': return 'string';
    case 'integer': case 'number': return 'number';
    case 'boolean': return 'boolean';
    case 'array': {
      const item = property.items ? tsType(property.items) : 'string';
      return `readonly ${item.includes(' ') ? `(${item})` : item}[]`;
    }
    default: throw new Error(`generate-server-config: no TypeScript type for schema type ${JSON.stringify(property.type)} (teach tsType())`);
  }
}

function docComment(key: string, property: PropertySchema): string[] {
  const def = property.default === undefined ? 'none' : `\`${JSON.stringify(property.default)}\``;
  const text = `\`${key}\` (default ${def}): ${property.description ?? ''}`.replace(/\*\//g, '*\\/').trim();
  const lines = wrap(text, '', 110);
  return lines.length === 1 ? [`  /** ${lines[0]} */`] : ['  /**', ...lines.map((l) => `   * ${l}`), '   */'];
}

export function renderServerConfig(schema: SectionSchema = b2buaServerSchema): string {
  const fields: string[] = [];
  for (const [key, property] of Object.entries(schema.properties ?? {})) {
    fields.push(...docComment(key, property), `  readonly ${camelCase(key)}: ${tsType(property)};`);
  }
  return [
    '// Generated from schemas/b2bua-server.schema.json by core/config/generate-server-config.ts: do not edit.',
    `// After changing the schema: ${GENERATE_COMMAND}`,
    "import type { PortRange } from '../vocabulary/index.js';",
    '',
    '/**',
    ' * The validated, frozen `[b2bua-server]` section (kebab-case keys turned camelCase; relative paths made absolute).',
    ' * A type rather than an interface so that it stays assignable to `Readonly<Record<string, unknown>>`.',
    ' */',
    'export type B2buaServerConfig = {',
    ...fields,
    '};',
    '',
  ].join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url) && process.argv.includes('--write')) {
  const text = renderServerConfig();
  if (readFileSync(SERVER_CONFIG_FILE, 'utf8') !== text) writeFileSync(SERVER_CONFIG_FILE, text);
  process.stdout.write(`updated ${SERVER_CONFIG_FILE}\n`);
}
