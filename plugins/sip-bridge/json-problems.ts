/** Operator-facing text for JSON parse errors, with line/column (schema errors: the plugin API's validateJson). */

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
