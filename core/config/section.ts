/**
 * One INI section against its JSON schema: unknown keys (with "did you mean"), conversion of the
 * INI strings by each property's `type`, defaults, then ajv. Every problem is a full sentence
 * `<file> [<section>] <key>: <what is wrong> (<what is expected>)`.
 */
import { didYouMean } from '../text/did-you-mean.js';
import type { IniEntry } from './ini.js';
import { compileSchema, describeSchemaError } from './schema-problems.js';

export interface PropertySchema {
  type?: string | string[];
  items?: PropertySchema;
  enum?: unknown[];
  default?: unknown;
  description?: string;
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  'x-duration'?: 's';
  'x-expected'?: string;
}

export interface SectionSchema {
  $schema?: string;
  properties?: Record<string, PropertySchema>;
  additionalProperties?: boolean | object;
  required?: string[];
}

export interface SectionLocation {
  /** The configuration file as the operator named it. */
  readonly file: string;
  readonly section: string;
}

export interface SectionResult {
  readonly values: Record<string, unknown>;
  readonly problems: string[];
}

export function locate(where: SectionLocation, key: string, message: string): string {
  return `${where.file} [${where.section}] ${key}: ${message}`;
}

export function validateSection(
  schema: SectionSchema,
  entries: ReadonlyMap<string, IniEntry> | undefined,
  where: SectionLocation,
): SectionResult {
  const properties = schema.properties ?? {};
  const known = Object.keys(properties);
  const values: Record<string, unknown> = {};
  const found: { key: string; text: string }[] = [];
  const failed = new Set<string>();

  for (const [key, entry] of entries ?? []) {
    const property = properties[key];
    if (!property) {
      if (schema.additionalProperties === false) {
        const hint = didYouMean(key, known);
        found.push({ key, text: hint
          ? `unknown key (did you mean "${hint}"?)`
          : `unknown key (known keys: ${known.join(', ') || 'none'})` });
        failed.add(key);
      } else {
        values[key] = entry.value;
      }
      continue;
    }
    const converted = convert(entry.value, property);
    if (converted instanceof ConversionProblem) {
      found.push({ key, text: converted.problem });
      failed.add(key);
    } else {
      values[key] = converted;
    }
  }
  for (const [key, property] of Object.entries(properties)) {
    if (!(key in values) && property.default !== undefined) values[key] = structuredClone(property.default);
  }

  const validate = compileSchema(schema);
  if (!validate(values)) {
    for (const error of validate.errors ?? []) {
      const message = describeSchemaError(error, 'section', (key) => properties[key]?.['x-expected']);
      if (message && !failed.has(message.at)) found.push({ key: message.at, text: message.text });
    }
  }
  // In file order, so the operator reads them top to bottom.
  const line = (key: string): number => entries?.get(key)?.line ?? Number.MAX_SAFE_INTEGER;
  found.sort((a, b) => line(a.key) - line(b.key));
  const problems = [...new Set(found.map((f) => locate(where, f.key, f.text)))];
  return { values, problems };
}

// ---------------------------------------------------------------- conversion of INI strings

export class ConversionProblem {
  constructor(readonly problem: string) {}
}

const TRUE = ['true', '1', 'yes', 'on'];
const FALSE = ['false', '0', 'no', 'off'];
const DURATION_UNITS: Record<string, number> = { ms: 0.001, s: 1, sec: 1, min: 60, m: 60, h: 3600, d: 86400 };

function primaryType(property: PropertySchema): string | undefined {
  const t = property.type;
  return Array.isArray(t) ? t.find((x) => x !== 'null') : t;
}

export function convert(raw: string, property: PropertySchema): unknown {
  const value = raw.trim();
  switch (primaryType(property)) {
    case 'integer':
    case 'number': {
      const integer = primaryType(property) === 'integer';
      const n = property['x-duration'] ? parseDuration(value) : (/^[+-]?\d+(\.\d+)?$/.test(value) ? Number(value) : NaN);
      const what = property['x-duration'] ? 'a duration in seconds (e.g. 30, 30s, 500ms, 2min, 1h)' : integer ? 'an integer' : 'a number';
      if (Number.isNaN(n)) return new ConversionProblem(`"${raw}" is not ${what.startsWith('a duration') ? 'a duration' : what} (expected ${what})`);
      if (integer && !Number.isInteger(n)) return new ConversionProblem(`"${raw}" is not a whole number${property['x-duration'] ? ' of seconds' : ''} (expected ${what})`);
      return n;
    }
    case 'boolean': {
      const v = value.toLowerCase();
      if (TRUE.includes(v)) return true;
      if (FALSE.includes(v)) return false;
      return new ConversionProblem(`"${raw}" is not a boolean (expected true or false; 1/0, yes/no, on/off also work)`);
    }
    case 'array': {
      const items = value === '' ? [] : value.split(/\s+/);
      const converted: unknown[] = [];
      for (const item of items) {
        const c = property.items ? convert(item, property.items) : item;
        if (c instanceof ConversionProblem) return c;
        converted.push(c);
      }
      return converted;
    }
    default:
      return value;
  }
}

function parseDuration(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/.exec(value.toLowerCase());
  if (!m) return NaN;
  const unit = m[2] === '' ? 1 : DURATION_UNITS[m[2]!];
  return unit === undefined ? NaN : Math.round(Number(m[1]) * unit * 1000) / 1000;
}
