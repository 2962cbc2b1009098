/**
 * The subset of npm semver ranges plugins use for `hostApi`: exact versions, `^`, `~`,
 * comparators (`>=`, `>`, `<=`, `<`, `=`), x-ranges (`1.x`, `1.0.*`, `*`), hyphen ranges (`1.0.0 - 2.0.0`),
 * space-separated AND, `||` OR. Pre-release tags are not supported (the host API has none).
 */
type Version = [number, number, number];

export function parseVersion(v: string): Version | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)$/.exec(v.trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

function compare(a: Version, b: Version): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/** A partial version like `1`, `1.2`, `1.x`, `1.2.*`: the given numbers and how many there are. */
function parsePartial(v: string): { parts: number[] } | undefined {
  const pieces = v.replace(/^v/, '').split('.');
  if (pieces.length > 3) return undefined;
  const parts: number[] = [];
  for (const p of pieces) {
    if (/^[xX*]$/.test(p)) break;
    if (!/^\d+$/.test(p)) return undefined;
    parts.push(Number(p));
  }
  return { parts };
}

type Test = (v: Version) => boolean;

function lowest(parts: number[]): Version {
  return [parts[0] ?? 0, parts[1] ?? 0, parts[2] ?? 0];
}

/** Exclusive upper bound for a partial version (`1.2` → `<1.3.0`); undefined = no bound. */
function nextAfter(parts: number[]): Version | undefined {
  if (parts.length === 0) return undefined;
  if (parts.length === 1) return [parts[0]! + 1, 0, 0];
  if (parts.length === 2) return [parts[0]!, parts[1]! + 1, 0];
  return undefined;
}

function comparator(token: string): Test | undefined {
  const m = /^(\^|~|>=|<=|>|<|=)?\s*(.+)$/.exec(token);
  if (!m) return undefined;
  const op = m[1] ?? '';
  const partial = parsePartial(m[2]!);
  if (!partial) return undefined;
  const { parts } = partial;
  const low = lowest(parts);
  switch (op) {
    case '^': {
      const upper: Version = parts[0]! > 0 || parts.length < 2 ? [parts[0]! + 1, 0, 0]
        : parts[1]! > 0 || parts.length < 3 ? [0, parts[1]! + 1, 0] : [0, 0, parts[2]! + 1];
      return (v) => compare(v, low) >= 0 && compare(v, upper) < 0;
    }
    case '~': {
      const upper: Version = parts.length === 1 ? [parts[0]! + 1, 0, 0] : [parts[0]!, parts[1]! + 1, 0];
      return (v) => compare(v, low) >= 0 && compare(v, upper) < 0;
    }
    case '>=': return (v) => compare(v, low) >= 0;
    case '<': return (v) => compare(v, low) < 0;
    case '>': {
      const after = nextAfter(parts);
      return after ? (v) => compare(v, after) >= 0 : (v) => compare(v, low) > 0;
    }
    case '<=': {
      const after = nextAfter(parts);
      return after ? (v) => compare(v, after) < 0 : (v) => compare(v, low) <= 0;
    }
    default: {
      if (parts.length === 3) return (v) => compare(v, low) === 0;
      const after = nextAfter(parts);
      return (v) => compare(v, low) >= 0 && (after === undefined || compare(v, after) < 0);
    }
  }
}

function conjunction(text: string): Test | undefined {
  const hyphen = /^(\S+)\s+-\s+(\S+)$/.exec(text);
  if (hyphen) {
    const a = comparator(`>=${hyphen[1]}`);
    const b = comparator(`<=${hyphen[2]}`);
    return a && b ? (v) => a(v) && b(v) : undefined;
  }
  const tokens = text.replace(/(\^|~|>=|<=|>|<|=)\s+/g, '$1').split(/\s+/).filter(Boolean);
  if (tokens.length === 0) return () => true;
  const tests = tokens.map(comparator);
  if (tests.some((t) => t === undefined)) return undefined;
  return (v) => tests.every((t) => t!(v));
}

/** true / false, or undefined when the range is not understood (the caller reports it). */
export function satisfies(version: string, range: string): boolean | undefined {
  const v = parseVersion(version);
  if (!v) return undefined;
  const alternatives = range.split('||').map((r) => conjunction(r.trim()));
  if (alternatives.some((a) => a === undefined)) return undefined;
  return alternatives.some((a) => a!(v));
}
