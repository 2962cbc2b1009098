/**
 * Error catalog. Every error the server reports to an operator carries a stable code
 * (grep-able in logs and docs) and a message that says what to change.
 */
export const ErrorCodes = {
  B2BUA_CONFIG_INVALID: 'the configuration file has a problem; the message names file, section, key and what is expected',
  B2BUA_CONFIG_UNREADABLE: 'the configuration file (or a file it points to) cannot be read',
  B2BUA_USAGE: 'the command line is wrong',
  B2BUA_PLUGIN_NOT_FOUND: 'the application named by [b2bua-server] application= was not found',
  B2BUA_PLUGIN_INVALID: 'a plugin module does not export a valid plugin',
  B2BUA_PLUGIN_INCOMPATIBLE: 'a plugin declares a host API range this server does not satisfy',
  B2BUA_PLUGIN_FAILED: 'a plugin threw while being applied or in a hook',
  B2BUA_TRANSPORT_FAILED: 'a SIP transport could not be opened',
  B2BUA_SIP_PARSE: 'a SIP message could not be parsed',
  B2BUA_SDP_INVALID: 'an SDP body could not be parsed or negotiated',
  B2BUA_MEDIA_FAILED: 'the media engine could not set up or run a call\'s media',
  B2BUA_MEDIA_UNSUPPORTED: 'a media feature (encryption mode, SRTP suite) is not available on this build',
  B2BUA_INTERNAL: 'a bug: please report it with the log lines around it',
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class B2buaError extends Error {
  readonly code: ErrorCode;
  readonly details: readonly string[];

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: readonly string[] } = {}) {
    super(`${code}: ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'B2buaError';
    this.code = code;
    this.details = options.details ?? [];
  }
}

export function isB2buaError(e: unknown, code?: ErrorCode): e is B2buaError {
  return e instanceof B2buaError && (code === undefined || e.code === code);
}
