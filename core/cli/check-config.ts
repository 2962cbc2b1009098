/** `--check-config`: every problem of the configuration, its application section and the files they point to. */
import { CONFIG_WARNING, readConfig } from '../config/load.js';
import type { ErrorCode } from '../errors/index.js';
import { readApplication, describeLocation } from '../plugin-host/index.js';

export interface CheckResult {
  readonly ok: boolean;
  /** Lines to print: "OK: ..." or one problem per line, then one line per warning (warnings do not make ok false). */
  readonly lines: readonly string[];
}

export async function checkConfig(file: string): Promise<CheckResult> {
  const { config, problems, warnings } = readConfig(file);
  const app = await readApplication(config);
  const all = [...problems, ...app.problems];
  const warningLines = warnings.map((w) => `${CONFIG_WARNING}: ${w}`);
  if (all.length > 0) {
    const code: ErrorCode = 'B2BUA_CONFIG_INVALID';
    return { ok: false, lines: [`${code}: ${file}: ${all.length} problem${all.length > 1 ? 's' : ''}:`, ...all.map((p) => `  ${p}`), ...warningLines] };
  }
  const where = app.application ? describeLocation(app.application.location) : '';
  return { ok: true, lines: [`OK: ${file} (application ${config.server.application}, ${where}; transport ${config.server.transport})`, ...warningLines] };
}
