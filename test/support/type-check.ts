// Type-checks JSON against a TypeScript type that a package publishes (Grafana's dashboard
// schema, the Kubernetes API types), by compiling `const value: T = <the JSON>` with the
// TypeScript compiler: a wrong type, a missing required field or an unknown property of a
// typed object is a diagnostic. For files that have no JSON Schema to validate against.
import { join } from 'node:path';
import ts from 'typescript';

/**
 * The diagnostics of `json` as a `type` imported from `from` (a module specifier, resolved
 * from `dir`), as "line:col message" strings, line 1 being the JSON's first; empty when it validates.
 */
export function typeCheckJson(json: string, type: string, from: string, dir: string): string[] {
  const fileName = join(dir, '__type_check__.ts');
  const source = `import type { ${type} } from '${from}';\nexport const value: ${type} = ${json};\n`;
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
    lib: ['lib.es2023.d.ts'],
    skipLibCheck: true,
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, languageVersion, onError, shouldCreate) =>
    name === fileName ? ts.createSourceFile(name, source, languageVersion, true) : getSourceFile(name, languageVersion, onError, shouldCreate);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === fileName || fileExists(name);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => (name === fileName ? source : readFile(name));
  const program = ts.createProgram([fileName], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (!d.file || d.start === undefined) return text;
    const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
    // Line 1 is the import: report lines of the JSON itself.
    return `${line}:${character + 1} ${text}`;
  });
}
