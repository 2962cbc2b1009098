/**
 * Reads flexisip.conf: the INI syntax, `[b2bua-server]` against schemas/b2bua-server.schema.json,
 * cross-key rules, `[global] log-level`. Sections of other Flexisip servers are ignored.
 * Plugin sections (`[b2bua-server::<app>]`) are validated by the plugin host (core/plugin-host).
 */
import { readFileSync, accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import schemaJson from '../../schemas/b2bua-server.schema.json' with { type: 'json' };
import { b2buaError, type B2buaError } from '../errors/index.js';
import type { LogLevel } from '../log/index.js';
import type { B2buaServerConfig } from './server-config.js';
import { didYouMean } from '../text/did-you-mean.js';
import { deepFreeze } from './freeze.js';
import { parsePortRange, parseSipUri } from './formats.js';
import { parseIni, type IniDocument } from './ini.js';
import { locate, validateSection, type SectionSchema } from './section.js';

export const B2BUA_SECTION = 'b2bua-server';
export const PLUGIN_SECTION_PREFIX = 'b2bua-server::';
export const b2buaServerSchema = schemaJson as SectionSchema;

export interface LoadedConfig {
  /** The file as the operator named it (used in messages). */
  readonly file: string;
  readonly absolutePath: string;
  readonly configDir: string;
  readonly document: IniDocument;
  /** `[b2bua-server]`, camelCase, frozen. Keys that failed validation hold their default. */
  readonly server: B2buaServerConfig;
  /** From `[global] log-level`, when present. */
  readonly logLevel: LogLevel | undefined;
}

export interface ConfigReading {
  readonly config: LoadedConfig;
  readonly problems: readonly string[];
  /** Accepted, but likely not what the operator wants: printed by --check-config and logged at start-up, never fatal. */
  readonly warnings: readonly string[];
}

/** Code of the configuration warnings (a prefix in --check-config's output, `code` in the start-up log). */
export { CONFIG_WARNING } from '../vocabulary/index.js';

/** Reads and validates without throwing for content problems (they are listed); throws only when unreadable. */
export function readConfig(file: string): ConfigReading {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw b2buaError('B2BUA_CONFIG_UNREADABLE', { problem: `cannot read configuration file ${file}: ${why} (give an existing file with --config FILE)` },
      { cause: e });
  }
  return parseConfigText(text, file);
}

export function parseConfigText(text: string, file: string): ConfigReading {
  const absolutePath = path.resolve(file);
  const configDir = path.dirname(absolutePath);
  const document = parseIni(text);
  const problems: string[] = document.problems.map((p) => `${file} ${p}`);
  const where = { file, section: B2BUA_SECTION };

  for (const name of document.sections.keys()) {
    if (name !== B2BUA_SECTION && !name.startsWith(PLUGIN_SECTION_PREFIX) && didYouMean(name, [B2BUA_SECTION]) && /b2b/i.test(name)) {
      problems.push(`${file} [${name}]: unknown section (did you mean "[${B2BUA_SECTION}]"?)`);
    }
  }

  const section = validateSection(b2buaServerSchema, document.sections.get(B2BUA_SECTION)?.entries, where);
  problems.push(...section.problems);
  const values = section.values;
  problems.push(...crossKeyProblems(values, configDir, where));

  const { level, problem } = readLogLevel(document, file);
  if (problem) problems.push(problem);

  const warnings = userAgentWarnings(values, document.sections.get(B2BUA_SECTION)?.entries.has('user-agent') ?? false, where);
  const server = deepFreeze(toServerConfig(values, configDir));
  return { config: Object.freeze({ file, absolutePath, configDir, document, server, logLevel: level }), problems, warnings };
}

/**
 * kebab-case INI keys → the camelCase B2buaServerConfig (`port-range` keys parsed, paths absolute). Every key holds a
 * value: validateSection() fills in the defaults, so core/config/server-config.ts (generated) types them all as present.
 */
function toServerConfig(values: Record<string, unknown>, configDir: string): B2buaServerConfig {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(values)) {
    if (b2buaServerSchema.properties?.[key]?.format !== 'port-range') { out[camelCase(key)] = value; continue; }
    const r = parsePortRange(String(value));
    out[camelCase(key)] = typeof r === 'string' ? { min: 0, max: 0 } : r;
  }
  for (const key of ['tlsCertificate', 'tlsPrivateKey', 'cdrFile']) {
    const v = textOf(out[key]);
    out[key] = v === '' ? '' : path.resolve(configDir, v);
  }
  out['pluginDirectories'] = ((out['pluginDirectories'] as string[] | undefined) ?? []).map((d) => path.resolve(configDir, d));
  return out as unknown as B2buaServerConfig;
}

export function camelCase(key: string): string {
  return key.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

export function isTlsTransport(transport: string): boolean {
  const parsed = parseSipUri(transport);
  if (typeof parsed === 'string') return false;
  return parsed.scheme === 'sips' || (parsed.params['transport'] ?? '').toLowerCase() === 'tls';
}

function crossKeyProblems(values: Record<string, unknown>, configDir: string, where: { file: string; section: string }): string[] {
  const problems: string[] = [];
  const transport = textOf(values['transport']);
  if (isTlsTransport(transport)) {
    for (const key of ['tls-certificate', 'tls-private-key']) {
      const v = textOf(values[key]);
      if (v === '') {
        problems.push(locate(where, key, `required because transport "${transport}" is TLS (give a PEM file)`));
        continue;
      }
      const file = path.resolve(configDir, v);
      try {
        accessSync(file, constants.R_OK);
      } catch {
        problems.push(locate(where, key, `cannot read "${file}" (give a readable PEM file; relative paths start from ${configDir})`));
      }
    }
  }
  for (const folder of (values['plugin-directories'] as string[] | undefined) ?? []) {
    const abs = path.resolve(configDir, folder);
    if (!isDirectory(abs)) problems.push(locate(where, 'plugin-directories', `"${abs}" is not a folder (remove it or create it; relative paths start from ${configDir})`));
  }
  const nat = values['nat-addresses'];
  if (Array.isArray(nat) && nat.length > 0 && values['enable-ice'] === false) {
    problems.push(locate(where, 'nat-addresses', 'is only used with ICE (set enable-ice=true or empty nat-addresses)'));
  }
  if (Array.isArray(nat)) {
    for (const family of [4, 6] as const) {
      const same = (nat as string[]).filter((a) => net.isIP(a) === family);
      if (same.length > 1) {
        problems.push(locate(where, 'nat-addresses', `has ${same.length} IPv${family} addresses (${same.join(' ')}): at most one IPv4 and one IPv6, as Flexisip (keep the public one)`));
      }
    }
  }
  const se = values['session-expires'];
  if (typeof se === 'number' && se > 0 && se < 90) {
    problems.push(locate(where, 'session-expires', `${se} is below the RFC 4028 minimum (expected 0 = off, or at least 90)`));
  }
  return problems;
}

/**
 * Flexisip's proxy (module::B2bua) reads this same `[b2bua-server] user-agent`, expands `{version}` to *its* Flexisip
 * version and routes INVITE/CANCEL back to the B2BUA unless their User-Agent equals that string. We expand `{version}`
 * to our version, so leg B would not be recognised: the proxy would send it back to us (a loop).
 */
function userAgentWarnings(values: Record<string, unknown>, written: boolean, where: { file: string; section: string }): string[] {
  const ua = textOf(values['user-agent']);
  if (!ua.includes('{version}')) return [];
  const fixed = ua.replace('{version}', '2.5.2');
  return [locate(where, 'user-agent', `"${ua}"${written ? '' : ' (the default)'} uses {version}, which this server expands to its own version ` +
    "while a Flexisip proxy's module::B2bua, reading the same key, expands it to the proxy's version: leg B's User-Agent then differs and " +
    `the proxy routes leg B back to the B2BUA (write a fixed value without {version}, e.g. user-agent=${fixed}: the proxy reads the same key, so ` +
    'both then use that string)')];
}

function isDirectory(p: string): boolean {
  try { return statSync(p).isDirectory(); } catch { return false; }
}

const FLEXISIP_LOG_LEVELS: Record<string, LogLevel> = { debug: 'debug', message: 'info', warning: 'warn', error: 'error' };

function readLogLevel(document: IniDocument, file: string): { level: LogLevel | undefined; problem?: string } {
  const entry = document.sections.get('global')?.entries.get('log-level');
  if (!entry) return { level: undefined };
  const v = entry.value.toLowerCase();
  const level = FLEXISIP_LOG_LEVELS[v];
  if (level) return { level };
  const names = Object.keys(FLEXISIP_LOG_LEVELS);
  const hint = didYouMean(v, names);
  return {
    level: undefined,
    problem: `${file} [global] log-level: "${entry.value}" is not one of ${names.join(', ')}${hint ? ` (did you mean "${hint}"?)` : ''}`,
  };
}

/** One error carrying every problem (first line = the count or the only problem). */
export function configError(file: string, problems: readonly string[]): B2buaError {
  const message = problems.length === 1 ? problems[0]! : `${problems.length} problems in ${file}:\n  ${problems.join('\n  ')}`;
  return b2buaError('B2BUA_CONFIG_INVALID', { problem: message }, { details: problems });
}

/** A scalar configuration value as text ('' when absent). */
function textOf(v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : '';
}
