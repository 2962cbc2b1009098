/**
 * Coded errors. Every error the server reports to an operator carries a stable code from the
 * catalog (grep-able in logs and docs), a message that says what is wrong and, when it ends a SIP
 * transaction, the SIP status. Raise with b2buaError(code, params); see README.md.
 */
import { CATALOG, entryOf, renderMessage, type ErrorCode, type ErrorParams } from './catalog.js';

export { CATALOG, entryOf, type CatalogEntry, type ErrorCode, type ErrorParams } from './catalog.js';

/** Code → what to change, for the operator. */
export const ErrorCodes = Object.fromEntries(Object.entries(CATALOG).map(([code, e]) => [code, e.fix])) as Readonly<Record<ErrorCode, string>>;

export interface B2buaErrorOptions {
  readonly cause?: unknown;
  readonly details?: readonly string[];
  /** Overrides the catalog's SIP status (B2BUA_CALL_REJECTED: the hook's status). */
  readonly status?: number;
}

export class B2buaError extends Error {
  readonly code: ErrorCode;
  readonly details: readonly string[];
  /** The message without the `CODE: ` prefix (what a SIP reason phrase or a wrapping error quotes). */
  readonly reason: string;
  readonly status: number | undefined;

  /** `message` is already rendered; prefer b2buaError(code, params), which renders the catalog's template. */
  constructor(code: ErrorCode, message: string, options: B2buaErrorOptions = {}) {
    super(`${code}: ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'B2buaError';
    this.code = code;
    this.reason = message;
    this.details = options.details ?? [];
    this.status = options.status ?? entryOf(code).status;
  }
}

/** The catalog error `code` with its template rendered from `params`: `CODE: rendered template`. */
export function b2buaError<C extends ErrorCode>(code: C, params: ErrorParams<C>, options?: B2buaErrorOptions): B2buaError {
  return new B2buaError(code, renderMessage(entryOf(code).message, params), options);
}

export function isB2buaError(e: unknown, code?: ErrorCode): e is B2buaError {
  return e instanceof B2buaError && (code === undefined || e.code === code);
}

/** An error's text without the code prefix (B2buaError.reason, else Error.message). */
export function errorReason(e: unknown): string {
  if (e instanceof B2buaError) return e.reason;
  return e instanceof Error ? e.message : String(e);
}

/** For parsers that never throw: `parse()`, a throw becoming `{ ok: false, error: describe(its message) }`. */
export function parseOrError<T>(parse: () => T, describe: (why: string) => string): T | { readonly ok: false; readonly error: string } {
  try {
    return parse();
  } catch (e) {
    return { ok: false, error: describe((e as Error).message) };
  }
}
