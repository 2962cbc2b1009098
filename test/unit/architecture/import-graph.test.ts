import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const SCANNED = ['core', 'plugins'];

type Graph = ReadonlyMap<string, readonly string[]>;

function tsFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules' || name === 'dist') return [];
    return statSync(path).isDirectory() ? tsFiles(path) : name.endsWith('.ts') ? [path] : [];
  });
}

/** Relative specifiers of `import … from`, `import type … from`, `import '…'` and `export … from` (multi-line lists included). */
function relativeSpecifiers(source: string): string[] {
  const found: string[] = [];
  const re = /^[ \t]*(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/gm;
  for (const m of source.matchAll(re)) if (m[1]!.startsWith('.')) found.push(m[1]!);
  return found;
}

function importGraph(): Graph {
  const files = SCANNED.flatMap((d) => tsFiles(join(root, d)));
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const targets = relativeSpecifiers(readFileSync(file, 'utf8'))
      .map((spec) => resolve(dirname(file), spec).replace(/\.js$/, '.ts'))
      .filter((target) => known.has(target));
    graph.set(relative(root, file), [...new Set(targets)].map((t) => relative(root, t)));
  }
  return graph;
}

interface Cycle {
  /** The files of one strongly connected component, sorted. */
  readonly members: string[];
  /** One concrete cycle through its first member, e.g. [a, b, a]. */
  readonly path: string[];
}

/** Every import cycle: Tarjan's strongly connected components of more than one file, or a file importing itself. */
function findCycles(graph: Graph): Cycle[] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next); low.set(v, next); next++;
    stack.push(v); onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do { w = stack.pop()!; onStack.delete(w); component.push(w); } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) components.push(component.sort());
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return components.map((members) => ({ members, path: cycleThrough(members[0]!, new Set(members), graph) }));
}

/** The shortest path start → … → start staying inside one strongly connected component. */
function cycleThrough(start: string, members: ReadonlySet<string>, graph: Graph): string[] {
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!members.has(w)) continue;
      if (w === start) {
        const path = [v];
        while (path[0] !== start) path.unshift(previous.get(path[0]!)!);
        return [...path, start];
      }
      if (!previous.has(w)) { previous.set(w, v); queue.push(w); }
    }
  }
  return [start, start];
}

describe('architecture: import graph of core/ and plugins/', () => {
  it('finds the relative specifiers of every import and re-export form', () => {
    const source = [
      "import { a } from './a.js';",
      "import type { B } from '../b.js';",
      'import {\n  c,\n  type C,\n} from "./c.js";',
      "export { d } from './d.js';",
      "export * from './e.js';",
      "export type { F } from './f.js';",
      "import './side-effect.js';",
      "import { readFileSync } from 'node:fs';",
      " * import { g } from './in-a-comment.js' (not at the start of a statement)",
    ].join('\n');
    assert.deepEqual(relativeSpecifiers(source), ['./a.js', '../b.js', './c.js', './d.js', './e.js', './f.js', './side-effect.js']);
  });

  it('the cycle finder reports a cycle in a small graph, and none in a graph without one', () => {
    const cyclic = new Map([['a', ['b']], ['b', ['c', 'd']], ['c', ['a']], ['d', []], ['e', ['e']]]);
    assert.deepEqual(findCycles(cyclic), [{ members: ['a', 'b', 'c'], path: ['a', 'b', 'c', 'a'] }, { members: ['e'], path: ['e', 'e'] }]);
    assert.deepEqual(findCycles(new Map([['a', ['b', 'c']], ['b', ['c']], ['c', []]])), []);
  });

  it('scans the real tree (core/b2bua/call.ts imports what it uses)', () => {
    const graph = importGraph();
    assert.ok(graph.size > 50, `only ${graph.size} files scanned`);
    assert.ok(graph.get(join('core', 'b2bua', 'call.ts'))?.includes(join('core', 'b2bua', 'leg-b-invite.ts')));
  });

  it('has no import cycle (type-only imports included)', () => {
    const cycles = findCycles(importGraph());
    assert.deepEqual(cycles, [], `import cycles:\n${cycles.map((c) => `  ${c.path.join(' → ')} (files in the cycle: ${c.members.join(', ')})`).join('\n')}`);
  });
});
