// Row formatting for the exchange list: which columns fit a terminal width, each cell's text,
// and how a row stands out (errors and denials). Plain text in, plain text out; the terminal
// layer adds colour.
import type { Exchange } from '../sidecar/exchange.js';

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

/** Every column, in order; the flexible ones (agent/route, method, target) share what is left. */
const FIXED: Column[] = [
  { title: 'time', width: TIME_ONLY, cell: (e) => clock(e.started_at) },
  { title: 'proto', width: 5, cell: (e) => e.protocol },
];
const TAIL: Column[] = [
  { title: 'status', width: 11, cell: statusCell },
  { title: 'policy', width: 16, cell: policyCell },
  { title: 'dur', width: 7, right: true, cell: (e) => duration(e.duration_ms) },
  { title: 'tok in/out', width: 12, right: true, cell: tokensCell },
  { title: 'cost', width: 8, right: true, cell: (e) => cost(e.cost_usd) },
];
const FLEX: { title: string; share: number; min: number; cell: (e: Exchange) => string }[] = [
  { title: 'agent/route', share: 2, min: 8, cell: (e) => `${e.agent}/${e.route}` },
  { title: 'method', share: 3, min: 8, cell: methodCell },
  { title: 'target', share: 3, min: 8, cell: (e) => e.target ?? '' },
];

/** The columns for a list `width` characters wide (one space between columns, the last cell left free). */
export function columnsFor(terminalWidth: number): Column[] {
  // A line exactly as wide as the terminal wraps in some terminals: keep the last cell free.
  const width = terminalWidth - 1;
  const fixed = [...FIXED, ...TAIL];
  const used = fixed.reduce((n, c) => n + c.width, 0) + fixed.length + FLEX.length - 1;
  let room = Math.max(0, width - used);
  const shares = FLEX.reduce((n, f) => n + f.share, 0);
  const flex = FLEX.map((f, i) => {
    const w = i === FLEX.length - 1 ? room : Math.max(f.min, Math.floor(((width - used) * f.share) / shares));
    room -= w;
    return { title: f.title, width: Math.max(f.min, w), cell: f.cell };
  });
  return [...FIXED, ...flex, ...TAIL];
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
