/** Bounded waiting: every wait has a deadline and says what it waited for when it expires. */
import fs from 'node:fs';

/** Thrown by a probe to abort the wait at once (e.g. the awaited process exited). */
export class StopWaiting extends Error {}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Poll `probe` every `intervalMs` until it returns a value other than undefined, or throw after `timeoutMs`.
 * A probe that throws is retried (e.g. a server still booting), unless it throws StopWaiting.
 */
export async function waitUntil<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 50,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      if (e instanceof StopWaiting) throw e;
      lastError = e;
    }
    if (Date.now() >= end) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(intervalMs);
  }
}

export function readIfExists(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** Wait until `file` contains a match of `pattern`; resolves with the match. */
export function waitForPattern(file: string, pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  return waitUntil(`${pattern} in ${file}`, () => readIfExists(file).match(pattern) ?? undefined, timeoutMs);
}
