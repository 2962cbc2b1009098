/** JSON-schema validation for plugins' own files, with the host's messages (a JSON path, what is wrong, what to do). */
import { compileSchema, describeJsonErrors } from '../config/schema-problems.js';

export interface ValidateJsonOptions {
  /** Put before every problem, e.g. `providers: /etc/flexisip/providers.json`. */
  readonly fileLabel?: string;
}

/**
 * Problems of `value` against `schema` (draft-07, or 2020-12 when `$schema` says so), e.g.
 * `providers[1].accountPool: missing (required)`; empty = valid. Compiled once per schema object.
 */
export function validateJson(schema: object, value: unknown, options: ValidateJsonOptions = {}): string[] {
  const validate = compileSchema(schema);
  if (validate(value)) return [];
  const problems = describeJsonErrors(validate.errors ?? []);
  return options.fileLabel === undefined ? problems : problems.map((p) => `${options.fileLabel}: ${p}`);
}
