/**
 * Exit statuses of bin/b2bua-server, chosen so that a service manager can tell a configuration problem (restarting
 * will not help: sysexits.h EX_CONFIG) from a transient start-up failure (port in use, worker cannot start: restart).
 */
import { isB2buaError, type ErrorCode } from '../errors/index.js';

export const EXIT_OK = 0;
/** A transient or unexpected failure: a service manager restarts on it. */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** sysexits.h EX_CONFIG: the configuration (file, or a file or plugin it names) is wrong. */
export const EXIT_CONFIG = 78;

const CONFIGURATION_PROBLEMS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'B2BUA_CONFIG_INVALID', 'B2BUA_CONFIG_UNREADABLE', 'B2BUA_TLS_CREDENTIALS_MISSING',
  'B2BUA_PLUGIN_NOT_FOUND', 'B2BUA_PLUGIN_INVALID', 'B2BUA_PLUGIN_INCOMPATIBLE',
]);

/** The status a failed start ends with. */
export function exitStatusFor(e: unknown): number {
  if (isB2buaError(e, 'B2BUA_USAGE')) return EXIT_USAGE;
  if (isB2buaError(e) && CONFIGURATION_PROBLEMS.has(e.code)) return EXIT_CONFIG;
  return EXIT_FAILURE;
}
