/**
 * Keys of the providers file that Flexisip does not read. Flexisip deserialises the file with nlohmann::json
 * `from_json` functions that fetch the keys they know (`j.at(k)` for required ones, `j.value(k, default)` for
 * optional ones) and never look at the others, so any other key is ignored silently (v2.hh from_json of Provider,
 * AccountPool, SQLLoader, OutgoingInvite (v2.hh:131-226); account.hh from_json of Account; v1.hh NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT;
 * its tester writes `"encrypted": false` on an account, sip-bridge-tester.cc). We ignore them too, with a warning
 * naming each one: this walks the value along the file's schema, removes the keys an `additionalProperties: false`
 * object does not list, and returns the cleaned copy (the schema then checks what is left, strictly).
 */
import { jsonPath } from '../../core/plugin-api/index.js';

type Schema = { readonly [k: string]: unknown };

export interface UnknownKey {
  /** JSON path of the key, `$.providers[0].foo` or `$[0].foo` (version 1 array). */
  readonly path: string;
  readonly key: string;
  /** The keys the object may have. */
  readonly known: readonly string[];
}

export function stripUnknownKeys(schema: Schema, value: unknown): { value: unknown; unknown: UnknownKey[] } {
  const unknown: UnknownKey[] = [];
  const cleaned = walk(schema, schema, value, '', unknown);
  return { value: cleaned, unknown };
}

/** `$.a[0].b` from a JSON pointer (`/a/0/b`), as jsonPath writes it with a `$` root. */
export function dollarPath(pointer: string, child?: string): string {
  const p = jsonPath(pointer, child);
  if (p === '(root)') return '$';
  return p.startsWith('[') ? `$${p}` : `$.${p}`;
}

function walk(root: Schema, schema: Schema, value: unknown, pointer: string, out: UnknownKey[]): unknown {
  const s = resolve(root, schema);
  // if/then/else: follow the branch the value takes (the providers schemas branch on a type or a const).
  if (isSchema(s['if'])) {
    const branch = matches(root, s['if'], value) ? s['then'] : s['else'];
    if (isSchema(branch)) value = walk(root, branch, value, pointer, out);
  }
  if (Array.isArray(value)) {
    return isSchema(s['items']) ? value.map((v, i) => walk(root, s['items'] as Schema, v, `${pointer}/${i}`, out)) : value;
  }
  if (value === null || typeof value !== 'object') return value;
  const properties = isSchema(s['properties']) ? s['properties'] : undefined;
  const additional = s['additionalProperties'];
  if (!properties && !isSchema(additional)) return value;
  const result: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const child = `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    const known = properties && Object.hasOwn(properties, key) ? properties[key] : undefined;
    if (isSchema(known)) result[key] = walk(root, known, v, child, out);
    else if (isSchema(additional)) result[key] = walk(root, additional, v, child, out);
    else if (additional === false) out.push({ path: dollarPath(pointer, key), key, known: Object.keys(properties ?? {}) });
    else result[key] = v;
  }
  return result;
}

function isSchema(x: unknown): x is Schema {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

function resolve(root: Schema, s: Schema): Schema {
  const ref = s['$ref'];
  if (typeof ref !== 'string' || !ref.startsWith('#/')) return s;
  let target: unknown = root;
  for (const seg of ref.slice(2).split('/')) target = isSchema(target) ? target[seg.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
  return isSchema(target) ? resolve(root, target) : s;
}

/** The subset of JSON schema the providers schemas' `if`s use: type, const, enum, properties. */
function matches(root: Schema, schema: Schema, value: unknown): boolean {
  const s = resolve(root, schema);
  const type = s['type'];
  if (typeof type === 'string' && typeOf(value) !== type && !(type === 'number' && typeOf(value) === 'integer')) return false;
  if ('const' in s && s['const'] !== value) return false;
  if (Array.isArray(s['enum']) && !s['enum'].includes(value)) return false;
  if (isSchema(s['properties']) && isSchema(value)) {
    for (const [k, sub] of Object.entries(s['properties'])) {
      if (Object.hasOwn(value, k) && isSchema(sub) && !matches(root, sub, value[k])) return false;
    }
  }
  return true;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}
