/**
 * The public surface of `b2bua-server/plugin-api`: the declarations (.d.ts) TypeScript emits for
 * core/plugin-api/index.ts, plus every declaration of the host's modules they reach (re-exports, and the types
 * those mention, e.g. OfferedKind from core/vocabulary), comments left out. Types of other packages (tapable)
 * are named, not copied. api-surface.test.ts compares it with the committed snapshot; to update the snapshot:
 *   npx tsx test/unit/plugin-api/api-surface.ts --write
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { PACKAGE_ROOT } from '../../../core/paths.js';

export const ENTRY = path.join(PACKAGE_ROOT, 'core', 'plugin-api', 'index.ts');
export const SNAPSHOT = fileURLToPath(new URL('./api-surface.snapshot.d.ts.txt', import.meta.url));
export const UPDATE_COMMAND = 'npx tsx test/unit/plugin-api/api-surface.ts --write';

const OPTIONS: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
  strict: true, skipLibCheck: true, resolveJsonModule: true, types: ['node'], declaration: true, emitDeclarationOnly: true,
};

/** A compiler host parsing each library file (lib.*.d.ts, @types/node) once for both programs. */
function cachingHost(): ts.CompilerHost {
  const host = ts.createCompilerHost(OPTIONS);
  const parse = host.getSourceFile.bind(host);
  const cache = new Map<string, ts.SourceFile | undefined>();
  host.getSourceFile = (f, language, ...rest) => {
    if (!f.includes('node_modules')) return parse(f, language, ...rest);
    if (!cache.has(f)) cache.set(f, parse(f, language, ...rest));
    return cache.get(f);
  };
  return host;
}

/** Declaration files of the entry and of every host module it imports, by absolute path, as tsc would write them. */
function emitDeclarations(entry: string, host: ts.CompilerHost): Map<string, string> {
  const emitted = new Map<string, string>();
  const program = ts.createProgram([entry], OPTIONS, host);
  const result = program.emit(undefined, (file, text) => void emitted.set(path.resolve(file), text), undefined, true);
  // Type errors are tsc's job; only what stops the declarations from being written matters here.
  const errors = result.diagnostics.filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (errors.length > 0) throw new Error(`api-surface: ${ts.formatDiagnostics(errors, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => PACKAGE_ROOT, getNewLine: () => '\n' })}`);
  return emitted;
}

/** A program over the emitted .d.ts files, with the .ts sources they came from hidden. */
function declarationProgram(entryDts: string, emitted: ReadonlyMap<string, string>, base: ts.CompilerHost): ts.Program {
  const host: ts.CompilerHost = { ...base };
  const isHiddenSource = (f: string): boolean => /\.[mc]?ts$/.test(f) && !f.endsWith('.d.ts') && emitted.has(path.resolve(f.replace(/\.ts$/, '.d.ts')));
  const { fileExists, readFile, getSourceFile } = base;
  host.fileExists = (f) => emitted.has(path.resolve(f)) || (!isHiddenSource(f) && fileExists(f));
  host.readFile = (f) => emitted.get(path.resolve(f)) ?? (isHiddenSource(f) ? undefined : readFile(f));
  host.getSourceFile = (f, language, ...rest) => {
    const text = emitted.get(path.resolve(f));
    return text === undefined ? getSourceFile(f, language, ...rest) : ts.createSourceFile(f, text, language, true);
  };
  return ts.createProgram([entryDts], { ...OPTIONS, noEmit: true }, host);
}

function topLevelStatement(node: ts.Node): ts.Statement | undefined {
  let n: ts.Node | undefined = node;
  while (n && n.parent && !ts.isSourceFile(n.parent)) n = n.parent;
  return n && n.parent ? (n as ts.Statement) : undefined;
}

export function apiSurface(entry = ENTRY): string {
  const host = cachingHost();
  const emitted = emitDeclarations(entry, host);
  const entryDts = path.resolve(entry.replace(/\.ts$/, '.d.ts'));
  const program = declarationProgram(entryDts, emitted, host);
  const checker = program.getTypeChecker();
  const entryFile = program.getSourceFile(entryDts);
  if (!entryFile) throw new Error(`api-surface: no declarations emitted for ${entry}`);

  // Breadth-first over the declarations the entry reaches, staying inside the emitted (host) files.
  const reached = new Map<ts.SourceFile, Set<ts.Statement>>([[entryFile, new Set(entryFile.statements)]]);
  const queue: ts.Statement[] = [...entryFile.statements];
  const reach = (declaration: ts.Declaration): void => {
    const file = declaration.getSourceFile();
    const statement = topLevelStatement(declaration);
    if (!statement || !emitted.has(path.resolve(file.fileName))) return;
    const statements = reached.get(file) ?? new Set<ts.Statement>();
    reached.set(file, statements);
    if (!statements.has(statement)) { statements.add(statement); queue.push(statement); }
  };
  const visit = (node: ts.Node): void => {
    const symbol = ts.isIdentifier(node) ? checker.getSymbolAtLocation(node) : undefined;
    // An imported name: keep the import statement, then what it names.
    if (symbol && symbol.flags & ts.SymbolFlags.Alias) symbol.declarations?.forEach(reach);
    const target = symbol && symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
    target?.declarations?.forEach(reach);
    ts.forEachChild(node, visit);
  };
  for (let statement = queue.shift(); statement; statement = queue.shift()) visit(statement);

  const printer = ts.createPrinter({ removeComments: true, newLine: ts.NewLineKind.LineFeed });
  const relative = (f: ts.SourceFile): string => path.relative(PACKAGE_ROOT, f.fileName).split(path.sep).join('/');
  const files = [...reached.keys()].sort((a, b) => (a === entryFile ? -1 : b === entryFile ? 1 : relative(a).localeCompare(relative(b))));
  const out = [
    '// Public API of b2bua-server/plugin-api, generated by test/unit/plugin-api/api-surface.ts (comments left out).',
    `// If a change is intended: ${UPDATE_COMMAND}, and bump HOST_API_VERSION (minor: additions; major: breaking changes).`,
  ];
  for (const file of files) {
    const statements = file.statements.filter((s) => reached.get(file)!.has(s));
    out.push('', `// ---- ${relative(file)}${file === entryFile ? '' : ' (the declarations the API reaches)'}`);
    for (const s of statements) out.push(printer.printNode(ts.EmitHint.Unspecified, s, file));
  }
  return `${out.join('\n')}\n`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url) && process.argv.includes('--write')) {
  const text = apiSurface();
  let previous = '';
  try { previous = readFileSync(SNAPSHOT, 'utf8'); } catch { /* first snapshot */ }
  if (previous !== text) writeFileSync(SNAPSHOT, text);
  process.stdout.write(`${previous === text ? 'unchanged' : 'updated'} ${SNAPSHOT}\n`);
}
