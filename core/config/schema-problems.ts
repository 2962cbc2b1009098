/**
 * JSON-schema validation with our error messages, for INI sections (`key: what is wrong (what is expected)`) and
 * JSON files (`providers[1].accountPool: what is wrong (what to do)`). One ajv per draft, with our value formats.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { didYouMean } from '../text/did-you-mean.js';
import { FORMATS } from './formats.js';

const compiled = new WeakMap<object, ValidateFunction>();
let ajv07: Ajv | undefined;
let ajv2020: Ajv2020 | undefined;

function addFormats(ajv: Ajv | Ajv2020): void {
  for (const [name, check] of Object.entries(FORMATS)) {
    ajv.addFormat(name, { type: 'string', validate: (v: string) => check(v) === undefined });
  }
  ajv.addKeyword({ keyword: 'x-duration', schemaType: 'string' });
  ajv.addKeyword({ keyword: 'x-expected', schemaType: 'string' });
}

/** Compiled once per schema object; draft 2020-12 when `$schema` says so, else draft-07. */
export function compileSchema(schema: object): ValidateFunction {
  let fn = compiled.get(schema);
  if (fn) return fn;
  const $schema = (schema as { $schema?: unknown }).$schema;
  // verbose: errors carry the failing value and schema, which the messages quote.
  const options = { allErrors: true, strict: false, validateFormats: true, verbose: true } as const;
  if (typeof $schema === 'string' && $schema.includes('2020-12')) {
    ajv2020 ??= (() => { const a = new Ajv2020(options); addFormats(a); return a; })();
    fn = ajv2020.compile(schema);
  } else {
    ajv07 ??= (() => { const a = new Ajv(options); addFormats(a); return a; })();
    fn = ajv07.compile(schema);
  }
  compiled.set(schema, fn);
  return fn;
}

/** `/providers/1/accountPool` → `providers[1].accountPool`; odd keys are quoted: `accountPools["pool one"]`. */
export function jsonPath(instancePath: string, child?: string): string {
  const segments = instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (child !== undefined) segments.push(child);
  let out = '';
  for (const s of segments) {
    if (/^\d+$/.test(s)) out += `[${s}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(s)) out += out === '' ? s : `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out || '(root)';
}

/**
 * Where a problem is and what it is. `section`: `at` is the INI key (`key.extra` for an unknown sub-key), the text
 * quotes the INI value; `json`: `at` is a JSON path, the text says what to do. `if`/`then` wrappers give nothing.
 */
export type ProblemStyle = 'section' | 'json';
export interface SchemaProblem {
  readonly at: string;
  readonly text: string;
}

/** `expectedOf(key)`: what a `pattern` asks for in words (a section property's `x-expected`). */
export function describeSchemaError(error: ErrorObject, style: ProblemStyle, expectedOf?: (key: string) => string | undefined): SchemaProblem | undefined {
  const path = error.instancePath.split('/').slice(1);
  const params = error.params as Record<string, unknown>;
  const value: unknown = error.data;
  const section = style === 'section';
  const key = path[0] ?? (params['missingProperty'] as string | undefined) ?? '(section)';
  const at = section ? key : jsonPath(error.instancePath);
  const shown = typeof value === 'string' ? `"${value}"` : JSON.stringify(value);
  switch (error.keyword) {
    case 'if':
      return section ? { at, text: `${shown} ${error.message ?? 'is not valid'}` } : undefined;
    case 'format': {
      const format = params['format'] as string;
      const why = typeof value === 'string' ? FORMATS[format]?.(value) : undefined;
      return { at, text: why ?? `${shown} is not a valid ${format}` };
    }
    case 'enum': {
      const allowed = (params['allowedValues'] as unknown[]).map(String);
      const hint = typeof value === 'string' ? didYouMean(value, allowed) : undefined;
      if (section) return { at, text: `${shown} is not one of ${allowed.join(', ')}${hint ? ` (did you mean "${hint}"?)` : ''}` };
      return { at, text: `${JSON.stringify(value)} is not allowed (${hint ? `did you mean "${hint}"?` : `use one of ${allowed.join(', ')}`})` };
    }
    case 'required':
      if (section) return { at, text: 'missing key (it has no default: set it)' };
      return { at: jsonPath(error.instancePath, params['missingProperty'] as string), text: 'missing (required)' };
    case 'additionalProperties': {
      const extra = params['additionalProperty'] as string;
      if (section) return { at: path.length ? `${key}.${extra}` : extra, text: 'unknown key' };
      const known = Object.keys((error.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      const hint = didYouMean(extra, known);
      return { at: jsonPath(error.instancePath, extra), text: `unknown property (${hint ? `did you mean "${hint}"?` : known.length ? `known: ${known.join(', ')}` : 'remove it'})` };
    }
    case 'type': {
      const type = params['type'] as string | string[];
      if (section) return { at, text: `${shown} has the wrong type (expected ${type as string})` };
      return { at, text: `must be ${type.toString().replace(',', ' or ')}, not ${describeType(value)}` };
    }
    case 'const':
      if (!section) return { at, text: `must be ${JSON.stringify(params['allowedValue'])}, not ${JSON.stringify(value)}` };
      break;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      if (section) return { at, text: `${shown} is out of range (expected ${params['comparison'] as string} ${params['limit'] as number})` };
      break;
    case 'pattern':
      if (section) return { at, text: `${shown} is not valid (expected ${expectedOf?.(key) ?? `a value matching ${params['pattern'] as string}`})` };
      break;
    case 'minLength':
      if (section) return { at, text: `${shown} is too short (expected at least ${params['limit'] as number} characters)` };
      break;
  }
  return section ? { at, text: `${shown} ${error.message ?? 'is not valid'}` } : { at, text: error.message ?? error.keyword };
}

/** Every error of a JSON document as `path: text`, duplicates dropped. */
export function describeJsonErrors(errors: readonly ErrorObject[]): string[] {
  return [...new Set(errors.flatMap((e) => { const p = describeSchemaError(e, 'json'); return p ? [`${p.at}: ${p.text}`] : []; }))];
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  return `a ${typeof value}`;
}
