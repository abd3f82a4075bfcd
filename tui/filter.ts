// The TUI filter: what the person typed (CEL, or shorthand compiled to CEL), checked against
// the shared vocabulary, split into the condition the store pushes down (tools/prefilter.ts)
// and the CEL that decides the rest, and judged on a recorded exchange through the same
// buildContext policies use.
import { compileExpression, ExpressionError, matched, type CompiledExpression } from '../policies/cel.js';
import { buildContext } from '../protocols/cel-context.js';
import { VOCABULARY, type Struct } from '../policies/vocabulary.js';
import { prefilter, type Prefilter } from '../tools/prefilter.js';
import type { RowTest } from '../store/record-store.js';
import { isShorthand, shorthandToCel } from './shorthand.js';

export interface Filter extends Prefilter, RowTest {
  /** What was typed. */
  input: string;
  /** The CEL that runs (the input itself, or what the shorthand compiled to). */
  cel: string;
}

/** A filter that could not be compiled: the message and where in the input it points. */
export class FilterError extends Error {
  override readonly name = 'FilterError';
  constructor(
    message: string,
    /** 0-based offset into the input, or null when it points into compiled CEL. */
    readonly offset: number | null,
    readonly cel: string | null,
  ) {
    super(message);
  }
}

/** Compiles what was typed after `/`; throws FilterError. An empty input is no filter (null). */
export function compileFilter(input: string): Filter | null {
  const trimmed = input.trim();
  if (trimmed === '') return null;
  let cel = trimmed;
  const shorthand = isShorthand(trimmed);
  if (shorthand) {
    try {
      cel = shorthandToCel(trimmed);
    } catch (err) {
      if (err instanceof ExpressionError) throw new FilterError(err.message, err.offset + input.indexOf(trimmed), null);
      throw err;
    }
  }
  let expression: CompiledExpression;
  try {
    expression = compileExpression(cel);
  } catch (err) {
    if (!(err instanceof ExpressionError)) throw err;
    throw new FilterError(withHint(err.message), shorthand ? null : err.offset + input.indexOf(trimmed), shorthand ? cel : null);
  }
  const pushed = prefilter(cel);
  return {
    ...pushed,
    input: trimmed,
    cel,
    matches(row, record) {
      if (pushed.rowOnly) return matched(expression.evaluate(buildContext({ exchange: row })));
      if (!record) return false;
      return matched(expression.evaluate(buildContext({ exchange: record.exchange, request: record.request, response: record.response, events: record.events })));
    },
  };
}

/** `duration_ms` is `exchange.duration_ms` in the vocabulary: say so. */
function withHint(message: string): string {
  const unknown = /^unknown variable "([^"]+)"/.exec(message);
  if (!unknown) return message;
  const name = unknown[1]!;
  const parent = ['exchange', 'usage', 'llm', 'mcp', 'a2a', 'response'].find((root) => (VOCABULARY[root] as Struct)[name] !== undefined);
  return parent ? `unknown variable "${name}": did you mean ${parent}.${name}?` : message;
}

/** Where an error points, as a caret line under the input (for the filter prompt). */
export function caretLine(offset: number): string {
  return `${' '.repeat(Math.max(0, offset))}^`;
}
