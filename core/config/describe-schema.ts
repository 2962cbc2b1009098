/**
 * Human-readable views of a section schema: the commented default configuration (`--dump-default`)
 * and the README's configuration reference tables (kept in sync by a unit test).
 */
import type { PropertySchema, SectionSchema } from './section.js';

export interface DocumentedSection {
  readonly section: string;
  readonly schema: SectionSchema;
  /** Shown above the section. */
  readonly title?: string;
}

export function iniValue(value: unknown): string {
  if (Array.isArray(value)) return value.map(iniValue).join(' ');
  if (value === undefined || value === null) return '';
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value);
}

export function typeOf(property: PropertySchema): string {
  if (property.enum) return property.enum.map(String).join(' \\| ');
  const t = Array.isArray(property.type) ? property.type.filter((x) => x !== 'null').join('/') : property.type ?? 'string';
  if (t === 'array') return `list of ${property.items ? typeOf(property.items) : 'string'} (whitespace-separated)`;
  if (property['x-duration']) return 'duration (seconds)';
  if (property.format) return `${t} (${property.format})`;
  return t;
}

/** INI text: every key with its description as comments and its default value. */
export function renderIniSection(doc: DocumentedSection): string {
  const lines: string[] = [];
  if (doc.title) lines.push(...wrap(doc.title, '## '), '##');
  lines.push(`[${doc.section}]`, '');
  for (const [key, property] of Object.entries(doc.schema.properties ?? {})) {
    if (property.description) lines.push(...wrap(property.description, '# '));
    lines.push(`# type: ${typeOf(property).replace(/\\\|/g, '|')}; default: ${property.default === undefined ? '(none)' : JSON.stringify(iniValue(property.default))}`);
    lines.push(`${key}=${iniValue(property.default)}`, '');
  }
  return lines.join('\n');
}

/** Markdown table: key, type, default, meaning. */
export function renderReferenceTable(doc: DocumentedSection): string {
  const rows = ['| key | type | default | meaning |', '|---|---|---|---|'];
  for (const [key, property] of Object.entries(doc.schema.properties ?? {})) {
    const def = property.default === undefined ? '(required)' : `\`${iniValue(property.default)}\``.replace('``', '(empty)');
    const meaning = (property.description ?? '').replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    rows.push(`| \`${key}\` | ${typeOf(property)} | ${def} | ${meaning} |`);
  }
  return rows.join('\n');
}

export function wrap(text: string, prefix: string, width = 100): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && (prefix + line + ' ' + word).length > width) { out.push(prefix + line); line = word; } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(prefix + line);
  return out;
}
