// The terminal UI on blessed: the stats bar, the exchange list (a window the ListModel keeps
// filled from the record reader), the filter prompt, the detail view with its tabs, the sessions view,
// the calls held for approval (from a running sidecar's admin endpoint, when given one) and the help. Keys follow mitmproxy's where they overlap. Reads only; never writes the database.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import blessed from 'blessed';
import type { Exchange, ExchangeRecord } from '../core/exchange.js';
import type { RecordReader, SessionSummary } from '../store/record-store.js';
import { printableLocation } from '../store/open.js';
import type { ActionHooks } from './actions.js';
import { ApprovalsPane, type ApprovalsSource } from './approvals.js';
import { osc52 } from './clipboard.js';
import { curlCommand } from './curl.js';
import { TABS, tabText, type Tab } from './detail.js';
import { compileFilter, FilterError } from './filter.js';
import { columnsFor, cost, count, formatRow, headerLine, toneOf, type RowTone } from './format.js';
import { ListModel } from './list-model.js';
import { emptyTotals, ratesUntil, related, sessions, sparkline, updateTotals, type Rates, type Totals } from './queries.js';
import { ExchangeWindow, type ScanProgress } from './window.js';

export interface TuiOptions {
  reader: RecordReader;
  dbPath: string;
  screen: blessed.Widgets.Screen;
  hooks?: ActionHooks;
  /** Where exports are written (default: the working directory). */
  exportDir?: string;
  /** How often new records are looked for, in ms (0: never, for benchmarks). */
  refreshMs?: number;
  /** A running sidecar's held calls, and who settles them here (the OS user name). */
  approvals?: { source: ApprovalsSource; user: string };
}

const TONE_TAGS: Record<RowTone, [string, string]> = {
  normal: ['', ''],
  error: ['{red-fg}', '{/red-fg}'],
  denied: ['{yellow-fg}{bold}', '{/bold}{/yellow-fg}'],
  aborted: ['{gray-fg}', '{/gray-fg}'],
};

/** Rows counted per step when the totals are first read. */
const TOTALS_STEP = 100_000;

/** Seconds shown in the sparklines. */
const SPARK_SECONDS = 20;

interface KeyHelp {
  keys: string;
  what: string;
}

type View = 'list' | 'detail' | 'sessions' | 'approvals' | 'help';

export class TuiApp {
  readonly model: ListModel;
  private readonly window: ExchangeWindow;
  private readonly screen: blessed.Widgets.Screen;
  private readonly stats: blessed.Widgets.BoxElement;
  private readonly header: blessed.Widgets.BoxElement;
  private readonly list: blessed.Widgets.BoxElement;
  private readonly filterLine: blessed.Widgets.BoxElement;
  private readonly status: blessed.Widgets.BoxElement;
  private readonly prompt: blessed.Widgets.TextboxElement;
  private readonly detail: blessed.Widgets.BoxElement;
  private readonly sessionsList: blessed.Widgets.ListElement;
  private readonly help: blessed.Widgets.BoxElement;
  private readonly approvals: ApprovalsPane | null;
  private view: View = 'list';
  private previousView: View = 'list';
  private tab: Tab = 'Request';
  private detailRecord: ExchangeRecord | null = null;
  private sessionRows: SessionSummary[] = [];
  private totals: Totals = emptyTotals();
  /** The sparklines' counts, read with the totals (null: nothing recorded yet). */
  private rates: Rates | null = null;
  /** True until the totals cover every row that was there when the TUI opened. */
  private counting = false;
  /** Resolves when they do. */
  totalsCounted: Promise<void> = Promise.resolve();
  private message = '';
  private filterNote = '';
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly done: Promise<void>;
  private finish: () => void = () => {};

  constructor(private readonly options: TuiOptions) {
    this.screen = options.screen;
    this.window = new ExchangeWindow(options.reader);
    this.model = new ListModel(this.window, this.listHeight(), (progress) => this.scanning(progress));
    this.done = new Promise((resolve) => (this.finish = resolve));
    const box = (opts: blessed.Widgets.BoxOptions): blessed.Widgets.BoxElement => blessed.box({ parent: this.screen, tags: true, ...opts });
    this.stats = box({ top: 0, left: 0, width: '100%', height: 1, style: { bg: 'blue', fg: 'white' } });
    this.header = box({ top: 1, left: 0, width: '100%', height: 1, style: { bold: true, underline: true } });
    this.list = box({ top: 2, left: 0, width: '100%', height: this.listHeight() });
    this.filterLine = box({ bottom: 1, left: 0, width: '100%', height: 1 });
    this.status = box({ bottom: 0, left: 0, width: '100%', height: 1, style: { bg: 'black', fg: 'white' } });
    this.prompt = blessed.textbox({ parent: this.screen, bottom: 1, left: 0, width: '100%', height: 1, hidden: true, inputOnFocus: false, style: { bg: 'black', fg: 'white' } });
    this.detail = box({ top: 1, left: 0, width: '100%', height: '100%-3', hidden: true, scrollable: true, alwaysScroll: true, scrollbar: { ch: ' ', style: { bg: 'gray' } } });
    this.sessionsList = blessed.list({ parent: this.screen, top: 1, left: 0, width: '100%', height: '100%-3', hidden: true, tags: true, style: { selected: { inverse: true } } });
    this.help = box({ top: 1, left: 'center', width: 76, height: '100%-3', hidden: true, border: 'line', label: ' keys ', scrollable: true });
    this.approvals = options.approvals ? new ApprovalsPane(this.screen, options.approvals.source, options.approvals.user) : null;
    this.bindKeys();
    // The prompt starts with the current filter; ctrl-u clears it, as in a shell.
    this.prompt.key('C-u', () => {
      this.prompt.setValue('');
      this.screen.render();
    });
    this.screen.on('resize', () => void this.resized());
  }

  /** Reads the newest page and draws the first screen; the totals are counted after it, in steps. */
  async open(): Promise<void> {
    this.counting = true;
    await this.approvals?.refresh();
    await this.model.last();
    await this.redrawStats();
    this.totalsCounted = this.countTotals();
  }

  private async countTotals(): Promise<void> {
    for (;;) {
      const next = await updateTotals(this.options.reader, this.totals, TOTALS_STEP);
      this.totals = next;
      if (next.done || this.closed) break;
      await this.redrawStats();
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.counting = false;
    await this.redrawStats();
  }

  /** Opens, looks for new records every refreshMs, and resolves when the person quits. */
  async start(): Promise<void> {
    await this.open();
    const every = this.options.refreshMs ?? 500;
    if (every > 0) this.timer = setInterval(() => void this.tick(), every);
    return this.done;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.screen.destroy();
    this.finish();
  }

  private listHeight(): number {
    return Math.max(1, (this.screen.height as number) - 4);
  }

  private async resized(): Promise<void> {
    this.list.height = this.listHeight();
    await this.model.resize(this.listHeight());
    this.draw();
  }

  private async tick(): Promise<void> {
    if (this.closed) return;
    if (!this.counting) this.totals = await updateTotals(this.options.reader, this.totals);
    await this.model.refresh();
    await this.approvals?.refresh();
    await this.redrawStats();
  }

  private async scanning(progress: ScanProgress): Promise<void> {
    this.status.setContent(` scanning with the filter… ${progress.examined.toLocaleString('en-US')} rows checked, ${progress.found} found`);
    this.screen.render();
    await new Promise((resolve) => setImmediate(resolve));
  }

  // ── drawing ────────────────────────────────────────────────────────────────────────────

  /** Reads the sparklines' counts, then redraws with the stats bar (opening, each refresh, follow). */
  private async redrawStats(): Promise<void> {
    const newest = await this.options.reader.newestStartedAt();
    this.rates = newest === null ? null : await ratesUntil(this.options.reader, Math.max(newest, this.model.following ? Date.now() : 0), SPARK_SECONDS);
    this.draw(true);
  }

  /** Redraws; the stats bar only when `stats` is set. */
  draw(stats = false): void {
    if (this.closed) return;
    if (stats) this.drawStats();
    if (this.view === 'list' || this.view === 'help') this.drawList();
    if (this.view === 'approvals') this.approvals?.draw(Date.now());
    this.drawFilterLine();
    // While the filter prompt is open its own help stays in the status line.
    if (this.prompt.hidden) this.status.setContent(` ${blessed.escape(this.message || this.hints())}`);
    this.screen.render();
  }

  private drawStats(): void {
    const t = this.totals;
    const rates = this.rates;
    const parts = [
      ...(this.model.following ? ['{green-bg}{black-fg} FOLLOW {/black-fg}{/green-bg}'] : []),
      `{bold}tapwire{/bold} ${t.exchanges.toLocaleString('en-US')}${this.counting ? '… (counting)' : ''} exchanges`,
      `${t.errors > 0 ? '{red-fg}' : ''}errors ${t.errors}${t.errors > 0 ? '{/red-fg}' : ''}`,
      `${t.denied > 0 ? '{yellow-fg}' : ''}denied ${t.denied}${t.denied > 0 ? '{/yellow-fg}' : ''}`,
      `llm tokens ${count(t.llmTokens)}`,
      `mcp ~${count(t.mcpTokens)}`,
      // Calls without a price are shown apart: the sum leaves them out, it does not count them as $0.
      `cost ${cost(t.costUsd) || '$0'}${t.unpricedLlmCalls > 0 ? ` + ${t.unpricedLlmCalls} unpriced` : ''}`,
    ];
    const held = this.approvals?.count ?? 0;
    if (this.approvals) parts.push(held > 0 ? `{yellow-bg}{black-fg} awaiting approval ${held} {/black-fg}{/yellow-bg}` : `awaiting approval ${this.approvals.problem ? '?' : 0}`);
    if (rates) {
      const last = (values: number[]): string => count(values[values.length - 1] ?? 0);
      parts.push(`req/s ${sparkline(rates.requests)} ${last(rates.requests)}`, `llm tok/s ${sparkline(rates.tokens)} ${last(rates.tokens)}`);
    }
    parts.push(blessed.escape(printableLocation(this.options.dbPath)));
    this.stats.setContent(parts.join('  '));
  }

  private drawList(): void {
    const width = this.screen.width as number;
    const columns = columnsFor(width);
    this.header.setContent(blessed.escape(headerLine(columns)));
    const rows = this.model.rows;
    if (rows.length === 0) {
      this.list.setContent(this.model.filter ? ' no exchange matches the filter' : ' no exchanges recorded yet (F follows new ones as they arrive)');
      return;
    }
    this.list.setContent(
      rows
        .map((e, i) => {
          const text = blessed.escape(formatRow(e, columns));
          if (i === this.model.cursor) return `{inverse}${text}{/inverse}`;
          const [open, close] = TONE_TAGS[toneOf(e)];
          return `${open}${text}${close}`;
        })
        .join('\n'),
    );
  }

  private drawFilterLine(): void {
    if (!this.prompt.hidden) return;
    const f = this.model.filter;
    const shown = f ? `filter: ${blessed.escape(f.input)}${f.cel !== f.input ? `  {gray-fg}→ CEL: ${blessed.escape(f.cel)}{/gray-fg}` : ''}` : '{gray-fg}no filter (/ to filter){/gray-fg}';
    this.filterLine.setContent(this.filterNote || shown);
  }

  private hints(): string {
    switch (this.view) {
      case 'detail':
        return `${this.tab}: tab/shift-tab or h/l switch tabs | j/k scroll | y copy id | e export curl | q back`;
      case 'sessions':
        return 'sessions: enter filters the list to a session | q back';
      case 'approvals':
        return 'held calls: j/k move | a approve | d deny (each asks for an optional note) | q back';
      case 'help':
        return 'q or ? closes the help';
      default:
        return 'j/k move | enter details | / filter | F follow | S sessions | y copy id | e curl | ? keys | q quit';
    }
  }

  // ── keys ───────────────────────────────────────────────────────────────────────────────

  private keyHelp(): KeyHelp[] {
    const keys: KeyHelp[] = [
      { keys: 'j / ↓, k / ↑', what: 'select the next / previous exchange' },
      { keys: 'space / pgdn, b / pgup', what: 'page down / up' },
      { keys: 'g / home, G / end', what: 'first / last (newest) exchange' },
      { keys: 'enter', what: 'details of the selected exchange' },
      { keys: 'tab / l, shift-tab / h', what: 'next / previous detail tab' },
      { keys: '/', what: 'filter: CEL, or shorthand such as ~proto mcp & !~denied (empty: none)' },
      { keys: 'F', what: 'follow: keep the newest exchange selected as traffic arrives' },
      { keys: 'S', what: 'sessions (MCP session / A2A context) with totals' },
      { keys: 'y', what: 'copy the exchange id (clipboard via OSC 52, and the status line)' },
      { keys: 'e', what: 'export the exchange as a curl script (credentials stay redacted)' },
    ];
    if (this.options.hooks?.exportJsonl) keys.push({ keys: 'J', what: 'export the exchange as JSONL' });
    if (this.options.hooks?.replay) keys.push({ keys: 'r', what: 'replay the exchange' });
    if (this.approvals) keys.push({ keys: 'A', what: 'calls held for approval; there a approves, d denies' });
    keys.push({ keys: '?', what: 'this help' }, { keys: 'q / esc', what: 'back; quit from the list' });
    return keys;
  }

  private bindKeys(): void {
    const on = (keys: string[], action: () => unknown): void => {
      this.screen.key(keys, () => {
        if (!this.prompt.hidden || this.closed) return;
        void Promise.resolve(action()).catch((err: unknown) => this.say(`error: ${(err as Error).message}`));
      });
    };
    on(['j', 'down'], () => this.handle('down'));
    on(['k', 'up'], () => this.handle('up'));
    on(['space', 'pagedown', 'C-f'], () => this.handle('pagedown'));
    on(['b', 'pageup', 'C-b'], () => this.handle('pageup'));
    on(['g', 'home'], () => this.handle('first'));
    on(['S-g', 'G', 'end'], () => this.handle('last'));
    on(['enter'], () => this.handle('enter'));
    on(['tab', 'l', 'right'], () => this.handle('nexttab'));
    on(['S-tab', 'h', 'left'], () => this.handle('prevtab'));
    on(['/'], () => this.handle('filter'));
    on(['S-f', 'F'], () => this.handle('follow'));
    on(['S-s', 'S'], () => this.handle('sessions'));
    on(['y'], () => this.handle('copy'));
    on(['e'], () => this.handle('curl'));
    if (this.options.hooks?.exportJsonl) on(['S-j', 'J'], () => this.handle('jsonl'));
    if (this.options.hooks?.replay) on(['r'], () => this.handle('replay'));
    if (this.approvals) {
      on(['S-a', 'A'], () => this.handle('approvals'));
      on(['a'], () => this.handle('approve'));
      on(['d'], () => this.handle('deny'));
    }
    on(['?'], () => this.handle('help'));
    on(['q', 'escape'], () => this.handle('back'));
    on(['C-c'], () => this.close());
  }

  /** One named action, as a key runs it; resolves once the screen shows its result. */
  async handle(action: string): Promise<void> {
    this.message = '';
    // Moving away from the newest row in the list ends follow mode, as scrolling back in a log does.
    if (this.view === 'list' && this.model.following && ['up', 'pageup', 'first'].includes(action)) {
      this.model.following = false;
      await this.redrawStats();
    }
    switch (action) {
      case 'down':
      case 'up':
        if (this.view === 'detail') this.detail.scroll(action === 'down' ? 1 : -1);
        else if (this.view === 'sessions') this.moveSessions(action === 'down' ? 1 : -1);
        else if (this.view === 'approvals') this.approvals?.move(action === 'down' ? 1 : -1);
        else if (this.view === 'list') await (action === 'down' ? this.model.down() : this.model.up());
        break;
      case 'pagedown':
      case 'pageup': {
        const sign = action === 'pagedown' ? 1 : -1;
        if (this.view === 'detail') this.detail.scroll(sign * Math.max(1, (this.detail.height as number) - 2));
        else if (this.view === 'list') await (sign > 0 ? this.model.down(this.model.height) : this.model.up(this.model.height));
        break;
      }
      case 'first':
        if (this.view === 'detail') this.detail.setScroll(0);
        else if (this.view === 'list') await this.model.first();
        break;
      case 'last':
        if (this.view === 'detail') this.detail.setScrollPerc(100);
        else if (this.view === 'list') await this.model.last();
        break;
      case 'enter':
        if (this.view === 'list') await this.openDetail();
        else if (this.view === 'sessions') await this.filterToSession();
        break;
      case 'nexttab':
      case 'prevtab':
        if (this.view === 'detail') await this.switchTab(action === 'nexttab' ? 1 : -1);
        break;
      case 'filter':
        if (this.view === 'list') this.askFilter();
        return;
      case 'follow':
        if (this.view !== 'list') break;
        await this.model.toggleFollow();
        this.message = this.model.following ? 'following new exchanges (F stops)' : 'follow mode off';
        await this.redrawStats();
        return;
      case 'sessions':
        if (this.view === 'list') await this.openSessions();
        break;
      case 'copy':
        this.copyId();
        break;
      case 'curl':
        await this.exportCurl();
        break;
      case 'jsonl':
        await this.runHook('jsonl');
        break;
      case 'replay':
        await this.runHook('replay');
        break;
      case 'approvals':
        if (this.view === 'list') await this.openApprovals();
        break;
      case 'approve':
      case 'deny':
        if (this.view === 'approvals') this.askNote(action);
        return;
      case 'help':
        this.toggleHelp();
        break;
      case 'back':
        this.back();
        return;
    }
    this.draw();
  }

  private say(message: string): void {
    this.message = message;
    this.draw();
  }

  private current(): Exchange | undefined {
    return this.view === 'detail' && this.detailRecord ? this.detailRecord.exchange : this.model.selected();
  }

  private back(): void {
    if (this.view === 'list') {
      this.close();
      return;
    }
    this.detail.hide();
    this.sessionsList.hide();
    this.approvals?.list.hide();
    this.help.hide();
    this.view = this.view === 'help' && this.previousView !== 'help' ? this.previousView : 'list';
    if (this.view === 'detail') this.detail.show();
    if (this.view === 'sessions') this.sessionsList.show();
    if (this.view === 'approvals') this.approvals?.list.show();
    this.draw();
  }

  private async openDetail(): Promise<void> {
    const selected = this.model.selected();
    if (!selected) return;
    this.detailRecord = await this.window.record(selected.id);
    if (!this.detailRecord) {
      this.message = `exchange ${selected.id} is no longer in the database`;
      return;
    }
    this.view = 'detail';
    await this.showTab();
    this.detail.show();
    this.detail.focus();
  }

  private async switchTab(step: number): Promise<void> {
    const i = TABS.indexOf(this.tab);
    this.tab = TABS[(i + step + TABS.length) % TABS.length]!;
    await this.showTab();
  }

  private async showTab(): Promise<void> {
    const record = this.detailRecord;
    if (!record) return;
    const bar = TABS.map((t) => (t === this.tab ? `{inverse} ${t} {/inverse}` : ` ${t} `)).join(' ');
    const e = record.exchange;
    const title = blessed.escape(`${e.protocol} ${e.method ?? ''} ${e.target ?? ''}  ${e.status}  ${e.id}`);
    const relatedRows = this.tab === 'Related' ? await related(this.options.reader, e) : [];
    this.detail.setContent(`${bar}   ${title}\n\n${blessed.escape(tabText(this.tab, record, relatedRows))}`);
    this.detail.setScroll(0);
  }

  private askFilter(): void {
    this.filterNote = '';
    this.prompt.show();
    this.prompt.setValue(this.model.filter?.input ?? '');
    this.filterLine.setContent('');
    this.status.setContent(' filter: CEL (protocol == "mcp" && exchange.duration_ms > 500) or shorthand (~proto mcp & !~denied) | enter applies | esc cancels');
    this.screen.render();
    this.prompt.readInput((err, value) => {
      this.prompt.hide();
      if (err || value === undefined || value === null) {
        this.draw();
        return;
      }
      void this.applyFilter(value);
    });
  }

  /** Applies typed filter text; an invalid one leaves the list and its filter as they were. */
  async applyFilter(text: string): Promise<void> {
    try {
      const filter = compileFilter(text);
      this.filterNote = '';
      await this.model.setFilter(filter);
      this.message = filter ? `${this.model.rows.length === 0 ? 'no' : 'showing'} matches for ${filter.cel}` : 'filter cleared';
    } catch (err) {
      if (!(err instanceof FilterError)) throw err;
      const where = err.offset === null ? `in the compiled CEL ${err.cel ?? ''}` : `at column ${err.offset + 1}`;
      const input = text.trim();
      const marked = err.offset === null ? blessed.escape(input) : `${blessed.escape(input.slice(0, err.offset))}{red-bg}${blessed.escape(input.slice(err.offset, err.offset + 1) || ' ')}{/red-bg}${blessed.escape(input.slice(err.offset + 1))}`;
      this.filterNote = `{red-fg}filter error ${blessed.escape(where)}:{/red-fg} ${marked}`;
      this.message = `filter error ${where}: ${err.message}`;
    }
    this.draw();
  }

  private async openSessions(): Promise<void> {
    this.sessionRows = await sessions(this.options.reader);
    const items = this.sessionRows.map((s) =>
      blessed.escape(
        `${s.protocol.padEnd(4)} ${s.route.slice(0, 14).padEnd(14)} ${s.session_id.slice(0, 40).padEnd(40)} ${String(s.exchanges).padStart(6)} ex  ` +
          `${String(s.errors).padStart(4)} err ${String(s.denied).padStart(4)} denied  ${count(s.tokens).padStart(6)} tok  ${(cost(s.cost_usd) || '-').padStart(8)}  ${sessionSpan(s.last_at - s.first_at)}`,
      ),
    );
    this.sessionsList.setItems(items.length > 0 ? items : ['no sessions among the recent exchanges (LLM calls have none)']);
    this.sessionsList.select(0);
    this.view = 'sessions';
    this.sessionsList.show();
  }

  private moveSessions(step: number): void {
    this.sessionsList.select(Math.max(0, Math.min(this.sessionRows.length - 1, (this.sessionsList as unknown as { selected: number }).selected + step)));
  }

  private async filterToSession(): Promise<void> {
    const chosen = this.sessionRows[(this.sessionsList as unknown as { selected: number }).selected];
    if (!chosen) return;
    this.sessionsList.hide();
    this.view = 'list';
    await this.applyFilter(`exchange.session_id == ${JSON.stringify(chosen.session_id)}`);
  }

  private async openApprovals(): Promise<void> {
    if (!this.approvals) return;
    await this.approvals.refresh();
    this.view = 'approvals';
    this.approvals.list.show();
  }

  /** Asks for the note of an approval or denial of the selected held call, then settles it (esc cancels). */
  private askNote(decision: 'approve' | 'deny'): void {
    const chosen = this.approvals?.selected();
    if (!this.approvals || !chosen) return this.say('no held call is selected');
    this.prompt.show();
    this.prompt.setValue('');
    this.status.setContent(` ${decision} ${blessed.escape(chosen.target ?? chosen.method ?? chosen.id)}: a note (optional) | enter ${decision === 'approve' ? 'approves' : 'denies'} | esc cancels`);
    this.screen.render();
    this.prompt.readInput((err, value) => {
      this.prompt.hide();
      if (err || value === undefined || value === null) return this.draw();
      this.approvals!.settle(decision, value).then(
        (message) => this.say(message),
        (failure: unknown) => this.say(`error: ${(failure as Error).message}`),
      );
    });
  }

  private toggleHelp(): void {
    if (this.view === 'help') {
      this.back();
      return;
    }
    this.previousView = this.view;
    this.view = 'help';
    this.help.setContent(this.keyHelp().map((k) => ` ${blessed.escape(k.keys.padEnd(26))} ${blessed.escape(k.what)}`).join('\n'));
    this.help.show();
    this.help.setFront();
  }

  private copyId(): void {
    const e = this.current();
    if (!e) return;
    // Straight to the terminal, past blessed's screen buffer: the escape draws nothing.
    this.screen.program.output.write(osc52(e.id));
    this.message = `copied id ${e.id}`;
  }

  private async exportCurl(): Promise<void> {
    const e = this.current();
    if (!e) return;
    const record = this.detailRecord?.exchange.id === e.id ? this.detailRecord : await this.window.record(e.id);
    if (!record) return;
    const file = resolve(this.options.exportDir ?? '.', `tapwire-${e.id}.curl.sh`);
    writeFileSync(file, curlCommand(record), { mode: 0o600 });
    this.message = `curl written to ${file}`;
  }

  private async runHook(which: 'jsonl' | 'replay'): Promise<void> {
    const e = this.current();
    const hook = which === 'jsonl' ? this.options.hooks?.exportJsonl : this.options.hooks?.replay;
    if (!e || !hook) return;
    const result = await hook(this.options.dbPath, e.id);
    this.message = which === 'jsonl' ? `JSONL written to ${result}` : result;
  }
}

/** 4s, 3m, 2h, for a session's span. */
function sessionSpan(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.round(s / 60)}m`;
  return `${(s / 3600).toFixed(1)}h`;
}
