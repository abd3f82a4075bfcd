// The list's state without the terminal: which rows the window holds, which one is selected,
// and the moves a person makes (j/k, page, g/G, follow, filter, resize). Every move reads
// only what the window needs; moves run one at a time, and a jump (g, G, a new filter)
// abandons a scan still running for an earlier move.
import type { Exchange } from '../core/exchange.js';
import type { Filter } from './filter.js';
import type { PageDirection } from '../store/record-store.js';
import { scan, type ExchangeWindow, type ScanProgress } from './window.js';

/** Called between scan steps; the TUI yields to the terminal there and shows the progress. */
export type Pause = (progress: ScanProgress) => Promise<void>;

export class ListModel {
  rows: Exchange[] = [];
  cursor = 0;
  filter: Filter | null = null;
  following = false;
  private generation = 0;
  private queue: Promise<unknown> = Promise.resolve();
  /** Every row up to this id has been judged by the current filter: refreshes start after it. */
  private judgedTo: string | null = null;

  constructor(
    private readonly window: ExchangeWindow,
    public height: number,
    private readonly pause: Pause = () => new Promise((resolve) => setImmediate(resolve)),
  ) {}

  selected(): Exchange | undefined {
    return this.rows[this.cursor];
  }

  /** Runs `move` after the moves before it; a jump cancels the scans and moves queued before it. */
  private run(move: (generation: number) => Promise<void>, jump = false): Promise<void> {
    if (jump) this.generation++;
    const generation = this.generation;
    const next = this.queue.then(() => (generation === this.generation ? move(generation) : undefined));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async fetch(direction: PageDirection, from: string | null, want: number, generation: number): Promise<Exchange[] | null> {
    if (want <= 0) return [];
    const edge = await this.window.newestId();
    const rows = await scan(this.window, this.filter, direction, from, want, async (progress) => {
      await this.pause(progress);
      return generation === this.generation;
    });
    // A scan that reached the newest row (or started there) judged everything up to it.
    if (rows && edge !== null && ((direction === 'forward' && rows.length < want) || (direction === 'backward' && from === null))) {
      if (this.judgedTo === null || edge > this.judgedTo) this.judgedTo = edge;
    }
    return rows;
  }

  /** Where a look for newly recorded rows starts: after the last row shown or judged. */
  private newerThan(): string | null {
    const lastId = this.rows[this.rows.length - 1]?.id ?? null;
    if (lastId === null) return this.judgedTo;
    return this.judgedTo !== null && this.judgedTo > lastId ? this.judgedTo : lastId;
  }

  /** G: the newest page, the last row selected. */
  last(): Promise<void> {
    return this.run(async (generation) => {
      const rows = await this.fetch('backward', null, this.height, generation);
      if (!rows) return;
      this.rows = rows.reverse();
      this.cursor = Math.max(0, this.rows.length - 1);
    }, true);
  }

  /** g: the oldest page, the first row selected. */
  first(): Promise<void> {
    return this.run(async (generation) => {
      const rows = await this.fetch('forward', null, this.height, generation);
      if (!rows) return;
      this.rows = rows;
      this.cursor = 0;
    }, true);
  }

  /** j / page down: moves the selection down by `n`, scrolling the window as far as there are rows. */
  down(n = 1): Promise<void> {
    return this.run(async (generation) => {
      const target = this.cursor + n;
      const missing = target - (this.rows.length - 1);
      if (missing > 0 && this.rows.length > 0) {
        const more = await this.fetch('forward', this.rows[this.rows.length - 1]!.id, missing, generation);
        if (!more) return;
        this.rows.push(...more);
      }
      this.cursor = Math.min(target, this.rows.length - 1);
      const excess = this.rows.length - this.height;
      if (excess > 0) {
        this.rows.splice(0, excess);
        this.cursor -= excess;
      }
    });
  }

  /** k / page up. */
  up(n = 1): Promise<void> {
    return this.run(async (generation) => {
      const target = this.cursor - n;
      if (target < 0 && this.rows.length > 0) {
        const more = await this.fetch('backward', this.rows[0]!.id, -target, generation);
        if (!more) return;
        this.rows.unshift(...more.reverse());
        this.cursor += more.length;
      }
      this.cursor = Math.max(0, this.cursor - n);
      if (this.rows.length > this.height) this.rows.length = this.height;
    });
  }

  /**
   * Picks up what was recorded since: in follow mode the newest page; otherwise rows that fit
   * below the last one when the window is not full yet. Returns true when the rows changed.
   */
  refresh(): Promise<boolean> {
    let changed = false;
    return this.run(async (generation) => {
      const from = this.newerThan();
      if (this.following) {
        const newer = await this.fetch('forward', from, this.height, generation);
        if (!newer || newer.length === 0) return;
        this.rows.push(...newer);
        this.rows.splice(0, Math.max(0, this.rows.length - this.height));
        this.cursor = this.rows.length - 1;
        changed = true;
        return;
      }
      const room = this.height - this.rows.length;
      const more = await this.fetch('forward', from, room, generation);
      if (more && more.length > 0) {
        this.rows.push(...more);
        changed = true;
      }
    }).then(() => changed);
  }

  /** F: follow mode on (jumping to the newest) or off. */
  async toggleFollow(): Promise<void> {
    this.following = !this.following;
    if (this.following) await this.last();
  }

  /** A new filter (null: none) shows its newest matches. */
  setFilter(filter: Filter | null): Promise<void> {
    this.filter = filter;
    this.judgedTo = null;
    this.rows = [];
    this.cursor = 0;
    return this.last();
  }

  /** The list area changed size: keep the selection in view, fill any new room. */
  async resize(height: number): Promise<void> {
    this.height = Math.max(1, height);
    const excess = this.rows.length - this.height;
    if (excess > 0) {
      const drop = Math.min(excess, this.cursor);
      this.rows.splice(0, drop);
      this.cursor -= drop;
      this.rows.length = this.height;
    }
    await this.refresh();
  }
}
