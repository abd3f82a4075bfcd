// Row formatting for the exchange list: which columns fit a terminal width, each cell's text,
// and how a row stands out (errors and denials). Plain text in, plain text out; the terminal
// layer adds colour.
import { unpricedLlmCall, type Exchange } from '../core/exchange.js';

export type RowTone = 'normal' | 'error' | 'denied' | 'aborted';

interface Column {
  title: string;
  width: number;
  /** Right-aligned (numbers). */
  right?: boolean;
  cell: (e: Exchange) => string;
}

const TIME_ONLY = 'HH:MM:SS.mmm'.length;

/** Local wall-clock time of day, with milliseconds. */
export function clock(ms: number): string {
  const d = new Date(ms);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

/** 12 ms, 1.53 s, 2m03s. */
export function duration(ms: number | null): string {
  if (ms === null) return '';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** 950, 12.3k, 4.1M. */
export function count(n: number | null): string {
  if (n === null) return '';
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}

/** $1.23, $0.0012, <$0.0001; empty when unpriced. */
export function cost(usd: number | null): string {
  if (usd === null) return '';
  if (usd === 0) return '$0';
  if (usd >= 0.01) return `$${usd.toFixed(2)}`;
  return usd >= 0.0001 ? `$${usd.toFixed(4)}` : '<$0.0001';
}

/** The cost cell: the cost, or `unpriced` for a call whose cost is unknown. */
function costCell(e: Exchange): string {
  return unpricedLlmCall(e) ? 'unpriced' : cost(e.cost_usd);
}

/** The method without the HTTP verb for LLM/HTTP records ("POST /v1/chat/completions" -> "/v1/chat/completions"). */
function methodCell(e: Exchange): string {
  const method = e.method ?? '';
  const http = /^[A-Z]+ (\S+)$/.exec(method);
  const shown = http ? http[1]! : method;
  return e.direction === 'server_to_client' ? `← ${shown}` : shown;
}

function statusCell(e: Exchange): string {
  const code = e.http_status !== null && e.http_status !== 200 ? ` ${e.http_status}` : '';
  return `${e.status}${code}`;
}

function policyCell(e: Exchange): string {
  if (!e.policy_action) return '';
  return e.policy_rule ? `${e.policy_action}:${e.policy_rule}` : e.policy_action;
}

function tokensCell(e: Exchange): string {
  if (e.input_tokens === null && e.output_tokens === null) return '';
  return `${count(e.input_tokens ?? 0)}/${count(e.output_tokens ?? 0)}${e.tokens_estimated === 1 ? '~' : ''}`;
}

/** Every column, in order. Flexible ones (width 0) share what is left; `drop` orders what goes first on a narrow terminal. */
const COLUMNS: (Column & { min?: number; share?: number; drop?: number })[] = [
  { title: 'time', width: TIME_ONLY, cell: (e) => clock(e.started_at) },
  { title: 'proto', width: 5, cell: (e) => e.protocol },
  { title: 'agent/route', width: 0, min: 8, share: 2, drop: 4, cell: (e) => `${e.agent}/${e.route}` },
  { title: 'method', width: 0, min: 8, share: 3, cell: methodCell },
  { title: 'target', width: 0, min: 8, share: 3, cell: (e) => e.target ?? '' },
  { title: 'status', width: 11, cell: statusCell },
  { title: 'policy', width: 0, min: 10, share: 3, drop: 1, cell: policyCell },
  { title: 'dur', width: 7, right: true, drop: 5, cell: (e) => duration(e.duration_ms) },
  { title: 'tok in/out', width: 12, right: true, drop: 3, cell: tokensCell },
  { title: 'cost', width: 8, right: true, drop: 2, cell: costCell },
];

/** The columns for a terminal `terminalWidth` characters wide (one space between columns, the last cell left free). */
export function columnsFor(terminalWidth: number): Column[] {
  // A line exactly as wide as the terminal wraps in some terminals: keep the last cell free.
  const width = terminalWidth - 1;
  let kept = [...COLUMNS];
  const needed = (cols: typeof kept): number => cols.reduce((n, c) => n + (c.width || c.min!), 0) + cols.length - 1;
  for (let order = 1; needed(kept) > width && order <= 5; order++) kept = kept.filter((c) => c.drop !== order);
  const fixed = kept.reduce((n, c) => n + c.width, 0) + kept.length - 1;
  const flex = kept.filter((c) => c.width === 0);
  const shares = flex.reduce((n, c) => n + c.share!, 0);
  let room = Math.max(0, width - fixed);
  const free = room;
  return kept.map((c) => {
    if (c.width > 0) return c;
    const last = c === flex[flex.length - 1];
    const w = Math.max(c.min!, last ? room : Math.floor((free * c.share!) / shares));
    room -= w;
    return { ...c, width: w };
  });
}

function fit(text: string, width: number, right = false): string {
  const flat = text.replace(/\s+/g, ' ');
  if (flat.length > width) return width <= 1 ? flat.slice(0, width) : `${flat.slice(0, width - 1)}…`;
  return right ? flat.padStart(width) : flat.padEnd(width);
}

export function headerLine(columns: Column[]): string {
  return columns.map((c) => fit(c.title, c.width, c.right)).join(' ');
}

export function formatRow(e: Exchange, columns: Column[]): string {
  return columns.map((c) => fit(c.cell(e), c.width, c.right)).join(' ');
}

/** How a row stands out: denials and errors in their own colours. */
export function toneOf(e: Exchange): RowTone {
  if (e.status === 'denied') return 'denied';
  if (e.status === 'error') return 'error';
  if (e.status === 'aborted') return 'aborted';
  return 'normal';
}
