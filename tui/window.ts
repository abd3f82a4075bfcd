// Reads the list's visible window from SQLite by keyset pagination on the time-sortable id
// (its primary-key index): a page is "the next N rows after id X", never an OFFSET into
// millions. A filter runs in budgeted steps over id ranges (SQL prefilter, then CEL on the
// candidates), so the caller can yield between steps and stop once the window is full.
import type Database from 'better-sqlite3';
import type { Exchange, ExchangeRecord } from '../core/exchange.js';
import { EXCHANGE_COLUMNS } from '../store/columns.js';
import type { Db } from '../store/db.js';
import { getExchangeRecord } from '../store/queries.js';
import type { Filter } from './filter.js';

export type ScanDirection = 'forward' | 'backward';

export interface ScanStep {
  /** Matching rows in scan order (ascending ids forward, descending backward). */
  rows: Exchange[];
  /** True when `want` rows were found or the table's edge was reached. */
  done: boolean;
  /** Where the next step continues (exclusive) when not done. */
  resume: string | null;
  /** Rows the step looked at. */
  examined: number;
}

/** Sorts after every ULID (Crockford base32 is digits and capitals). */
const PAST_END = '~';
const COLUMNS = EXCHANGE_COLUMNS.join(', ');

/** Rows a step examines at most, by how much work one row costs. */
export function stepBudget(filter: Filter | null): number {
  if (!filter || filter.exact) return 50_000;
  return filter.rowOnly ? 10_000 : 1_000;
}

export class ExchangeWindow {
  private readonly statements = new Map<string, Database.Statement>();

  /** `budget` overrides the rows a step examines (tests use a small one to force many steps). */
  constructor(
    readonly db: Db,
    private readonly budget?: number,
  ) {}

  private statement(sql: string): Database.Statement {
    let stmt = this.statements.get(sql);
    if (!stmt) this.statements.set(sql, (stmt = this.db.prepare(sql)));
    return stmt;
  }

  /** One budgeted step: up to `want` matching rows after (forward) or before (backward) `from`, null meaning the table's edge. */
  step(filter: Filter | null, direction: ScanDirection, from: string | null, want: number, budget = this.budget ?? stepBudget(filter)): ScanStep {
    const forward = direction === 'forward';
    const start = from ?? (forward ? '' : PAST_END);
    const [cmp, order] = forward ? ['>', 'ASC'] : ['<', 'DESC'];
    if (!filter) {
      const rows = this.statement(`SELECT ${COLUMNS} FROM exchanges WHERE id ${cmp} ? ORDER BY id ${order} LIMIT ?`).all(start, want) as Exchange[];
      return { rows, done: true, resume: null, examined: rows.length };
    }
    // The id range this step may look at: `budget` rows from the start, by the id index.
    const bound = this.statement(`SELECT id FROM exchanges WHERE id ${cmp} ? ORDER BY id ${order} LIMIT 1 OFFSET ?`).pluck().get(start, budget - 1) as string | undefined;
    const range = bound === undefined ? '' : ` AND id ${forward ? '<=' : '>='} ?`;
    const where = filter.where ? ` AND ${filter.where}` : '';
    const sql = `SELECT ${COLUMNS} FROM exchanges WHERE id ${cmp} ?${range}${where} ORDER BY id ${order}`;
    const params = bound === undefined ? [start, ...filter.params] : [start, bound, ...filter.params];
    const rows: Exchange[] = [];
    let examined = 0;
    for (const row of this.statement(sql).iterate(...params) as IterableIterator<Exchange>) {
      examined++;
      if (filter.exact || filter.matches(row, () => this.record(row.id))) rows.push(row);
      if (rows.length === want) {
        // Leaving the loop early closes the statement's iterator.
        return { rows, done: true, resume: null, examined };
      }
    }
    if (bound === undefined) return { rows, done: true, resume: null, examined };
    return { rows, done: false, resume: bound, examined };
  }

  /** The newest id in the table (null when empty). */
  newestId(): string | null {
    return (this.statement('SELECT max(id) FROM exchanges').pluck().get() as string | null) ?? null;
  }

  /** One exchange with its payloads and events. */
  record(id: string): ExchangeRecord | null {
    return getExchangeRecord(this.db, id);
  }

}

/** Progress of a scan that spans several steps, for the status line. */
export interface ScanProgress {
  examined: number;
  found: number;
}

/**
 * Runs steps until `want` rows are found or the edge is reached, calling `pause` between
 * steps (the TUI yields to the terminal there; it returns false to abandon the scan).
 */
export async function scan(
  window: ExchangeWindow,
  filter: Filter | null,
  direction: ScanDirection,
  from: string | null,
  want: number,
  pause: (progress: ScanProgress) => Promise<boolean>,
): Promise<Exchange[] | null> {
  const rows: Exchange[] = [];
  let examined = 0;
  let at = from;
  while (rows.length < want) {
    const step = window.step(filter, direction, at, want - rows.length);
    rows.push(...step.rows);
    examined += step.examined;
    if (step.done) break;
    at = step.resume;
    if (!(await pause({ examined, found: rows.length }))) return null;
  }
  return rows;
}
