// Choosing recorded exchanges for replay, mocks and exports: by id, or by a CEL expression
// evaluated against each record's context, built by the one function policies use
// (policies/context.ts), so a filter means the same thing in every command and in the TUI.
// The part of the filter the store can decide is pushed down to it (tools/prefilter.ts).
import { buildContext } from '../protocols/cel-context.js';
import { compileExpression, ExpressionError, matched, type CompiledExpression } from '../policies/cel.js';
import type { ExchangeRecord } from '../core/exchange.js';
import { eachRow, type RecordReader } from '../store/record-store.js';
import { prefilter } from './prefilter.js';
import { SelectionError } from './selection-error.js';

/** Compiles a filter; a bad one throws SelectionError naming the column of the problem. */
export function compileFilter(source: string): CompiledExpression {
  try {
    return compileExpression(source);
  } catch (err) {
    if (!(err instanceof ExpressionError)) throw err;
    throw new SelectionError(`--filter: column ${err.offset + 1}: ${err.message}\n  ${source}\n  ${' '.repeat(err.offset)}^`);
  }
}

/** True when the recorded exchange satisfies the filter (an expression that errors on it does not). */
export function recordMatches(record: ExchangeRecord, filter: CompiledExpression): boolean {
  const bindings = buildContext({ exchange: record.exchange, request: record.request, response: record.response, events: record.events });
  return matched(filter.evaluate(bindings));
}

export interface Selection {
  /** Exchange ids, in the order given; each must exist. */
  ids?: readonly string[];
  /** A CEL expression over the exchange's context. */
  filter?: CompiledExpression | null;
  /** Called for a stored record that cannot be read (a damaged row), which is then passed over; without it, the error is thrown. */
  onUnreadable?: (id: string, reason: string) => void;
}

/** The ids to read: those given, or every exchange the filter's pushed-down part lets through, oldest first. */
async function* candidateIds(reader: RecordReader, selection: Selection): AsyncGenerator<string> {
  if (selection.ids && selection.ids.length > 0) {
    yield* selection.ids;
    return;
  }
  for await (const row of eachRow(reader, selection.filter ? prefilter(selection.filter.source).where : null)) yield row.id;
}

/** The selected records, oldest first (or in the order of `ids`); reads one record at a time. */
export async function* selectRecords(reader: RecordReader, selection: Selection = {}): AsyncGenerator<ExchangeRecord> {
  for await (const id of candidateIds(reader, selection)) {
    let record: ExchangeRecord | null;
    try {
      record = await reader.get(id);
    } catch (err) {
      if (!selection.onUnreadable) throw err;
      selection.onUnreadable(id, (err as Error).message);
      continue;
    }
    if (!record) throw new SelectionError(`no exchange ${id} in the database`);
    if (!selection.filter || recordMatches(record, selection.filter)) yield record;
  }
}
