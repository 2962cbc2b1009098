/**
 * Reader for Flexisip's INI files: `[section]`, `key=value`, `#` comment lines.
 *
 * Multi-line values (as Flexisip writes long lists and regexes) are accepted in two forms:
 * - a line ending with `\` continues on the next line;
 * - an indented line that is not itself `key=value` continues the previous value.
 * A blank line ends a value. Continuation pieces are joined with one space (values are whitespace lists or single tokens).
 * A `#` starts a comment only at the start of a line: regexes may contain `#`.
 */

export interface IniEntry {
  readonly value: string;
  readonly line: number;
}

export interface IniSection {
  readonly name: string;
  readonly line: number;
  readonly entries: ReadonlyMap<string, IniEntry>;
}

export interface IniDocument {
  readonly sections: ReadonlyMap<string, IniSection>;
  /** Syntax problems as `line N: what is wrong`; the rest of the file is still read. */
  readonly problems: readonly string[];
}

const SECTION_LINE = /^\[([^\]]*)\]\s*$/;
const KEY_VALUE_LINE = /^([A-Za-z0-9_.\-]+)\s*=(.*)$/;

interface MutableSection { name: string; line: number; entries: Map<string, IniEntry> }

export function parseIni(text: string): IniDocument {
  const sections = new Map<string, MutableSection>();
  const problems: string[] = [];
  let current: MutableSection | undefined;
  let pending: { key: string; line: number; parts: string[]; continues: boolean } | undefined;

  const flush = (): void => {
    if (pending && current) {
      current.entries.set(pending.key, { value: pending.parts.join(' ').trim(), line: pending.line });
    }
    pending = undefined;
  };

  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, index) => {
    const lineNo = index + 1;
    const trimmed = raw.trim();

    if (pending?.continues && trimmed !== '') {
      const continues = trimmed.endsWith('\\');
      pending.parts.push(continues ? trimmed.slice(0, -1).trim() : trimmed);
      pending.continues = continues;
      if (!continues) flush();
      return;
    }
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) {
      if (trimmed === '') flush(); // a blank line also ends a value left open by a trailing backslash
      return;
    }
    const indented = /^\s/.test(raw);
    if (pending && indented && !KEY_VALUE_LINE.test(trimmed) && !SECTION_LINE.test(trimmed)) {
      pending.parts.push(trimmed);
      return;
    }
    flush();

    const section = SECTION_LINE.exec(trimmed);
    if (section) {
      const name = section[1]!.trim();
      if (name === '') { problems.push(`line ${lineNo}: empty section name "[]"`); current = undefined; return; }
      if (sections.has(name)) {
        // Flexisip merges repeated sections; later keys win.
        current = sections.get(name)!;
      } else {
        current = { name, line: lineNo, entries: new Map() };
        sections.set(name, current);
      }
      return;
    }
    const kv = KEY_VALUE_LINE.exec(trimmed);
    if (!kv) {
      problems.push(`line ${lineNo}: expected "[section]", "key=value" or "# comment", found "${truncate(trimmed)}"`);
      return;
    }
    if (!current) {
      problems.push(`line ${lineNo}: "${kv[1]}" appears before any [section]`);
      return;
    }
    const value = kv[2]!.trim();
    const continues = value.endsWith('\\');
    pending = { key: kv[1]!, line: lineNo, parts: [continues ? value.slice(0, -1).trim() : value], continues };
  });
  if (pending?.continues) problems.push(`line ${pending.line}: "${pending.key}" ends with "\\" but the file ends`);
  flush();
  return { sections, problems };
}

function truncate(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
