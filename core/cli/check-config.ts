/** `--check-config`: every problem of the configuration, its application section and the files they point to. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CONFIG_WARNING, readConfig } from '../config/load.js';
import { withNatAddressesResolved } from '../config/nat-addresses.js';
import type { LoadedConfig } from '../config/load.js';
import { errorReason, type ErrorCode } from '../errors/index.js';
import { silentLogger } from '../log/index.js';
import { createMediaEngine } from '../media/index.js';
import { readApplication, describeLocation } from '../plugin-host/index.js';

export interface CheckResult {
  readonly ok: boolean;
  /**
   * Lines to print: "OK: ..." or one problem per line, then one `B2BUA_CONFIG_WARNING: ...` line per warning of
   * `[b2bua-server]` and then of the application's section (warnings do not make ok false).
   */
  readonly lines: readonly string[];
  /**
   * What the media engine offers on this machine (engine, encryption modes, SDES suites, unavailable modes with why),
   * printed after `lines`; a media engine that cannot start makes ok false. Empty when the configuration has problems.
   */
  readonly media: readonly string[];
}

export async function checkConfig(file: string): Promise<CheckResult> {
  const reading = readConfig(file);
  const { warnings } = reading;
  // nat-addresses host names are resolved as at start-up (only when the file has no other problem: its values are sound).
  const nat = reading.problems.length === 0 ? await withNatAddressesResolved(reading.config) : { config: reading.config, problems: [] };
  const config = nat.config;
  const problems = [...reading.problems, ...nat.problems];
  const app = await readApplication(config);
  const all = [...problems, ...app.problems];
  // The configuration's own warnings, then the application's (from its validate()).
  const warningLines = [...warnings, ...app.warnings].map((w) => `${CONFIG_WARNING}: ${w}`);
  if (all.length > 0) {
    const code: ErrorCode = 'B2BUA_CONFIG_INVALID';
    return { ok: false, lines: [`${code}: ${file}: ${all.length} problem${all.length > 1 ? 's' : ''}:`, ...all.map((p) => `  ${p}`), ...warningLines], media: [] };
  }
  const where = app.application ? describeLocation(app.application.location) : '';
  const media = await describeMedia(config);
  const ok = `OK: ${file} (application ${config.server.application}, ${where}; transport ${config.server.transport})`;
  if (!media.ok) return { ok: false, lines: [`B2BUA_MEDIA_UNSUPPORTED: ${file}: ${media.line}`, ...warningLines], media: [] };
  return { ok: true, lines: [ok, ...warningLines], media: [media.line, ...media.warnings] };
}

/**
 * Starts the configured media engine once (one worker) to say what it offers on this machine. It gets a
 * scratch data-directory: a check writes nothing where the daemon keeps its certificate and caches.
 */
async function describeMedia(config: LoadedConfig): Promise<{ ok: boolean; line: string; warnings: string[] }> {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'b2bua-check-'));
  const server = { ...config.server, mediaWorkers: 1, dataDirectory: scratch };
  try {
    const engine = await createMediaEngine(server, silentLogger());
    const caps = engine.capabilities;
    await engine.close();
    const suites = caps.encryption.includes('sdes') ? `; SDES suites ${caps.srtpSuites.join(', ')}` : '';
    const warnings = Object.entries(caps.unavailable ?? {})
      .filter(([what]) => !what.includes('_'))
      .map(([mode, why]) => `${CONFIG_WARNING}: media encryption ${mode} unavailable: ${why}`);
    return { ok: true, line: `media: engine ${engine.name}; encryption ${caps.encryption.join(', ')}${suites}`, warnings };
  } catch (e) {
    return { ok: false, line: `media engine ${server.mediaEngine} cannot start: ${errorReason(e)}`, warnings: [] };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
