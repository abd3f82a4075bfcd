// The error a bad policy file (or one that cannot be read or fetched) is reported with: each
// problem on its own line, naming the file, line and column. Apart from the parser, so the
// CLI recognises it without loading CEL (issue 23).

/** A problem on one line (file:line:col: what), and for one inside an expression, the excerpt pointing at it. */
export interface Problem {
  line: string;
  pointer?: string;
}

export class PolicyError extends Error {
  override readonly name = 'PolicyError';
  /** One line each: file:line:col: what is wrong (logs, and the one line `tapwire run` prints). */
  readonly problems: string[];
  /** The same, each followed by the expression it points into with a caret under the column (`policy check`). */
  readonly explained: string[];
  constructor(problems: (string | Problem)[]) {
    const all = problems.map((p) => (typeof p === 'string' ? { line: p } : p));
    super(all.map((p) => p.line).join('\n'));
    this.problems = all.map((p) => p.line);
    this.explained = all.map((p) => (p.pointer ? `${p.line}\n${p.pointer}` : p.line));
  }
}
