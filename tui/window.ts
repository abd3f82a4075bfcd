// Reads the list's visible window through the record reader, by pages of ids after (or
// before) a given one. A filter runs in budgeted steps over id ranges (its condition pushed
// down to the store, then CEL on the candidates), so the caller can yield between steps and
// stop once the window is full.
import type { Exchange, ExchangeRecord } from '../core/exchange.js';
import type { Page, PageDirection, RecordReader } from '../store/record-store.js';
import type { Filter } from './filter.js';

/** Rows a step examines at most, by how much work one row costs. */
export function stepBudget(filter: Filter | null): number {
  if (!filter || filter.exact) return 50_000;
  return filter.rowOnly ? 10_000 : 1_000;
}

export class ExchangeWindow {
  /** `budget` overrides the rows a step examines (tests use a small one to force many steps). */
  constructor(
    readonly reader: RecordReader,
    private readonly budget?: number,
  ) {}

  /** One budgeted step: up to `want` matching rows after (forward) or before (backward) `from`, null meaning the table's edge. */
  step(filter: Filter | null, direction: PageDirection, from: string | null, want: number, budget = this.budget ?? stepBudget(filter)): Promise<Page> {
    if (!filter) return this.reader.page({ direction, from, want });
    return this.reader.page({ where: filter.where, rest: filter.exact ? null : filter, direction, from, want, budget });
  }

  /** The newest id in the table (null when empty). */
  newestId(): Promise<string | null> {
    return this.reader.newestId();
  }

  /** One exchange with its payloads and events. */
  record(id: string): Promise<ExchangeRecord | null> {
    return this.reader.get(id);
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
  direction: PageDirection,
  from: string | null,
  want: number,
  pause: (progress: ScanProgress) => Promise<boolean>,
): Promise<Exchange[] | null> {
  const rows: Exchange[] = [];
  let examined = 0;
  let at = from;
  while (rows.length < want) {
    const step = await window.step(filter, direction, at, want - rows.length);
    rows.push(...step.rows);
    examined += step.examined;
    if (step.done) break;
    at = step.resume;
    if (!(await pause({ examined, found: rows.length }))) return null;
  }
  return rows;
}
