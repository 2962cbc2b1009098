/** Operator-facing text for JSON parse errors (with line/column) and ajv schema errors (with a JSON path). */
import type { ErrorObject } from 'ajv';
import { didYouMean } from '../../core/plugin-api/index.js';

/** `line 3, column 5: Expected ',' or '}' after property value` (position read from the engine message when it gives one). */
export function describeJsonParseError(text: string, error: unknown): string {
  const message = (error instanceof Error ? error.message : String(error)).replace(/ in JSON at position \d+.*$/s, '')
    .replace(/, (\.\.\.)?".*" is not valid JSON$/s, '');
  const position = /at position (\d+)/.exec(error instanceof Error ? error.message : '')?.[1];
  const offset =
    position !== undefined ? Number(position) : /Unexpected end of JSON input/.test(message) ? text.length : findErrorOffset(text);
  if (offset === undefined) return message;
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return `line ${line}, column ${column}: ${message}`;
}

/**
 * Some engine messages ("Unexpected token '}', ... is not valid JSON") carry no position: find the shortest prefix that
 * fails for another reason than its end. Quadratic, so only for files of a reasonable size (error path only).
 */
function findErrorOffset(text: string): number | undefined {
  if (text.length > 200_000) return undefined;
  for (let k = 1; k <= text.length; k++) {
    try {
      JSON.parse(text.slice(0, k));
    } catch (e) {
      const message = (e as Error).message;
      const at = /at position (\d+)/.exec(message)?.[1];
      if (at !== undefined) {
        if (Number(at) < k) return Number(at);
      } else if (!/Unexpected end of JSON input/.test(message)) return k - 1;
    }
  }
  return undefined;
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

/** One message per meaningful ajv error (`if`/`then` wrappers dropped), e.g. `providers[1].accountPool: missing (required)`. */
export function describeSchemaErrors(errors: readonly ErrorObject[]): string[] {
  const out: string[] = [];
  for (const e of errors) {
    const where = jsonPath(e.instancePath);
    switch (e.keyword) {
      case 'if':
        continue;
      case 'required':
        out.push(`${jsonPath(e.instancePath, (e.params as { missingProperty: string }).missingProperty)}: missing (required)`);
        break;
      case 'additionalProperties': {
        const extra = (e.params as { additionalProperty: string }).additionalProperty;
        const known = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
        const hint = didYouMean(extra, known);
        out.push(
          `${jsonPath(e.instancePath, extra)}: unknown property (${hint ? `did you mean "${hint}"?` : known.length ? `known: ${known.join(', ')}` : 'remove it'})`,
        );
        break;
      }
      case 'enum': {
        const allowed = (e.params as { allowedValues: unknown[] }).allowedValues.map(String);
        const hint = typeof e.data === 'string' ? didYouMean(e.data, allowed) : undefined;
        out.push(`${where}: ${JSON.stringify(e.data)} is not allowed (${hint ? `did you mean "${hint}"?` : `use one of ${allowed.join(', ')}`})`);
        break;
      }
      case 'const':
        out.push(`${where}: must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}, not ${JSON.stringify(e.data)}`);
        break;
      case 'type':
        out.push(`${where}: must be ${(e.params as { type: string | string[] }).type.toString().replace(',', ' or ')}, not ${describeType(e.data)}`);
        break;
      default:
        out.push(`${where}: ${e.message ?? e.keyword}`);
    }
  }
  return [...new Set(out)];
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  return `a ${typeof value}`;
}
