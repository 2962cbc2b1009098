/**
 * Reads the providers file named by `providers=`: resolves it from the configuration folder, parses the JSON,
 * validates it against the v1 or v2 schema and returns the version 2 model.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { didYouMean, validateJson } from '../../core/plugin-api/index.js';
import v1Schema from './providers-v1.schema.json' with { type: 'json' };
import v2Schema from './providers-v2.schema.json' with { type: 'json' };
import type { V1Root, V2Root } from './config-types.js';
import { describeJsonParseError } from './json-problems.js';
import { stripUnknownKeys } from './unknown-keys.js';
import { convertV1 } from './v1-to-v2.js';

export const PROVIDERS_KEY = 'providers';

export interface ProvidersFile {
  /** Absolute path of the file. */
  readonly file: string;
  readonly version: 1 | 2;
  readonly root: V2Root;
  /** Operator-facing warnings (keys Flexisip ignores, …), without the file prefix. */
  readonly warnings: readonly string[];
}

/** A failure may carry the warnings found before the problems (the host prints both). */
export type Loaded<T> = { ok: true; value: T } | { ok: false; problems: string[]; warnings?: readonly string[] };

export function resolveProvidersPath(option: string, configDir: string): string {
  return path.resolve(configDir, option);
}

export async function readProvidersFile(option: string | undefined, configDir: string): Promise<Loaded<ProvidersFile>> {
  if (!option || option.trim() === '') {
    return { ok: false, problems: [`${PROVIDERS_KEY}: no providers file given (set ${PROVIDERS_KEY}=<path of the providers JSON file>)`] };
  }
  const file = resolveProvidersPath(option.trim(), configDir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    return { ok: false, problems: [`${PROVIDERS_KEY}: cannot read "${file}": ${describeReadError(e, configDir)}`] };
  }
  return parseProvidersText(text, file);
}

export function parseProvidersText(text: string, file: string): Loaded<ProvidersFile> {
  const where = `${PROVIDERS_KEY}: ${file}`;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { ok: false, problems: [`${where}: invalid JSON at ${describeJsonParseError(text, e)} (fix the JSON syntax)`] };
  }
  if (Array.isArray(json)) {
    const { value, warnings } = withoutUnknownKeys(v1Schema, json);
    const problems = validateJson(v1Schema, value, { fileLabel: where });
    if (problems.length) return { ok: false, problems, warnings: warnings.map((w) => `${where}: ${w}`) };
    return { ok: true, value: { file, version: 1, root: convertV1(value as V1Root), warnings } };
  }
  if (json === null || typeof json !== 'object') {
    return {
      ok: false,
      problems: [`${where}: the file must hold an object {"schemaVersion": 2, "providers": [...], "accountPools": {...}} (or a version 1 array)`],
    };
  }
  const { value, warnings } = withoutUnknownKeys(v2Schema, json);
  const problems = validateJson(v2Schema, value, { fileLabel: where });
  if (problems.length) return { ok: false, problems, warnings: warnings.map((w) => `${where}: ${w}`) };
  return { ok: true, value: { file, version: 2, root: value as V2Root, warnings } };
}

/** Flexisip reads only the keys it knows (see unknown-keys.ts): the others are dropped here, each with a warning. */
function withoutUnknownKeys(schema: object, json: unknown): { value: unknown; warnings: string[] } {
  const { value, unknown } = stripUnknownKeys(schema as Record<string, unknown>, json);
  return {
    value,
    warnings: unknown.map((k) => {
      const hint = didYouMean(k.key, k.known);
      return `${k.path}: unknown key, ignored as Flexisip 2.5 does (${hint ? `did you mean "${hint}"?` : 'remove it, or check its spelling'})`;
    }),
  };
}

function describeReadError(e: unknown, configDir: string): string {
  const code = (e as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return `no such file (check the path; a relative path is resolved from the configuration folder ${configDir})`;
    case 'EACCES':
    case 'EPERM':
      return 'permission denied (let the server user read it)';
    case 'EISDIR':
      return 'it is a folder (give the path of the JSON file)';
    default:
      return `${(e as Error).message} (check the path)`;
  }
}
