// The demo's closing summary, read back through the record reader after the writer has flushed:
// exchanges per protocol with tokens, cost, denials and flags; the refused and flagged
// exchanges with their rule; and the slowest calls. Only this run's exchanges count.
import { unpricedLlmCall } from '../core/exchange.js';
import { allOf, eachRow, equals, type RecordReader } from '../store/record-store.js';

/** policy_action values that let the call through but mark it for a reviewer. */
export const FLAGGED_ACTIONS = ['audit', 'would_deny', 'would_limit', 'error'] as const;

export interface ProtocolTotals {
  protocol: string;
  exchanges: number;
  errors: number;
  denied: number;
  flagged: number;
  input_tokens: number;
  output_tokens: number;
  /** The sum of the priced calls' costs: an unpriced call's cost is unknown, not $0. */
  cost_usd: number;
  /** LLM calls with usage but no price for their model (their cost_usd is null). */
  unpriced: number;
}

export interface PolicyEvent {
  id: string;
  status: string;
  /** Null for a call denied by something other than a rule's action (e.g. a failed identity check). */
  policy_action: string | null;
  policy_rule: string | null;
  policy_reason: string | null;
  protocol: string;
  method: string | null;
  target: string | null;
}

export interface SlowCall {
  id: string;
  protocol: string;
  method: string | null;
  target: string | null;
  duration_ms: number;
}

export interface DemoSummary {
  protocols: ProtocolTotals[];
  total: ProtocolTotals;
  policyEvents: PolicyEvent[];
  slowest: SlowCall[];
}

const FLAGGED: ReadonlySet<string | null> = new Set(FLAGGED_ACTIONS);

/** Reads the summary of the exchanges `agent` started at or after `since` (Unix ms). */
export async function readSummary(reader: RecordReader, agent: string, since: number): Promise<DemoSummary> {
  const byProtocol = new Map<string, ProtocolTotals>();
  const zero = (protocol: string): ProtocolTotals => ({ protocol, exchanges: 0, errors: 0, denied: 0, flagged: 0, input_tokens: 0, output_tokens: 0, cost_usd: 0, unpriced: 0 });
  const policyEvents: PolicyEvent[] = [];
  const timed: SlowCall[] = [];
  for await (const e of eachRow(reader, allOf(equals('agent.name', agent), { op: '>=', field: 'exchange.started_at', value: since }))) {
    let t = byProtocol.get(e.protocol);
    if (!t) byProtocol.set(e.protocol, (t = zero(e.protocol)));
    t.exchanges++;
    if (e.status === 'error') t.errors++;
    if (e.status === 'denied') t.denied++;
    if (FLAGGED.has(e.policy_action)) t.flagged++;
    t.input_tokens += e.input_tokens ?? 0;
    t.output_tokens += e.output_tokens ?? 0;
    t.cost_usd += e.cost_usd ?? 0;
    if (unpricedLlmCall(e)) t.unpriced++;
    if (e.status === 'denied' || FLAGGED.has(e.policy_action)) {
      const { id, status, policy_action, policy_rule, policy_reason, protocol, method, target } = e;
      policyEvents.push({ id, status, policy_action, policy_rule, policy_reason, protocol, method, target });
    }
    if (e.duration_ms !== null) timed.push({ id: e.id, protocol: e.protocol, method: e.method, target: e.target, duration_ms: e.duration_ms });
  }
  const protocols = [...byProtocol.values()].sort((a, b) => (a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0));
  const total = zero('total');
  for (const row of protocols) {
    for (const key of ['exchanges', 'errors', 'denied', 'flagged', 'input_tokens', 'output_tokens', 'cost_usd', 'unpriced'] as const) total[key] += row[key];
  }
  const slowest = timed.sort((a, b) => b.duration_ms - a.duration_ms || (a.id < b.id ? -1 : 1)).slice(0, 5);
  return { protocols, total, policyEvents, slowest };
}

function table(header: string[], rows: string[][], rightAligned: (column: number) => boolean): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells.map((cell, i) => (rightAligned(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

export function formatCost(usd: number): string {
  return `$${usd.toFixed(6)}`;
}

/** What each flagged action means, printed under the policy events when it occurs. */
const ACTION_NOTES: Record<string, string> = {
  would_deny:
    'let through and flagged: a policy file in monitor mode would have refused the call (here the example allowlist, ' +
    'which does not list every model and tool the demo uses; with mode: enforce it would refuse them)',
  would_limit: 'let through and flagged: a rate limit or budget in monitor mode would have refused the call',
  audit: 'let through and flagged by an audit rule, for a reviewer',
  error: 'let through and flagged: a rule failed to evaluate (on_error: skip)',
};

/** The policy events, one per line: how many of each (action, rule, call), e.g. "2 × denied  no-destructive-tools  mcp tools/call delete_file". */
function policyLines(events: PolicyEvent[]): string[] {
  const counted = new Map<string, { count: number; reason: string | null }>();
  for (const e of events) {
    const action = e.status === 'denied' ? 'denied' : e.policy_action;
    const key = `${action}  ${e.policy_rule ?? '(no rule)'}  ${e.protocol} ${e.method ?? ''}${e.target ? ` ${e.target}` : ''}`;
    const seen = counted.get(key);
    if (seen) seen.count++;
    else counted.set(key, { count: 1, reason: e.policy_reason });
  }
  return [...counted.entries()].map(([key, { count, reason }]) => `  ${count} × ${key}${reason ? `: ${reason}` : ''}`);
}

/** The summary as printed at the end of `tapwire demo`. */
export function formatSummary(summary: DemoSummary, dbPath: string): string {
  const header = ['protocol', 'exchanges', 'errors', 'denied', 'flagged', 'input tokens', 'output tokens', 'cost'];
  const row = (t: ProtocolTotals): string[] => [
    t.protocol,
    String(t.exchanges),
    String(t.errors),
    String(t.denied),
    String(t.flagged),
    String(t.input_tokens),
    String(t.output_tokens),
    // Unpriced calls are shown apart, so a sum that leaves them out does not pass for the whole cost.
    t.unpriced > 0 ? `${formatCost(t.cost_usd)} + ${t.unpriced} unpriced` : formatCost(t.cost_usd),
  ];
  const lines = [
    `Summary, read back from ${dbPath}:`,
    '',
    ...table(header, [...summary.protocols.map(row), row(summary.total)], (i) => i > 0).map((l) => `  ${l}`),
    '',
    '  Tokens of LLM calls are the provider\'s usage; of MCP and A2A calls, tapwire\'s estimate of what crossed the wire.',
    ...(summary.total.unpriced > 0
      ? [`  ${summary.total.unpriced} LLM call(s) used a model without a price: their cost is unknown, not $0 (a pricing: entry in tapwire.yaml adds one).`]
      : []),
    '',
    'Denied and flagged by policies:',
    ...(summary.policyEvents.length > 0 ? policyLines(summary.policyEvents) : ['  none']),
    ...[...new Set(summary.policyEvents.map((e) => e.policy_action))].flatMap((action) => (action && ACTION_NOTES[action] ? [`  ${action} means ${ACTION_NOTES[action]}.`] : [])),
    '',
    'Slowest calls:',
    ...table(
      ['duration', 'protocol', 'call', 'exchange id'],
      summary.slowest.map((s) => [`${s.duration_ms.toFixed(1)} ms`, s.protocol, `${s.method ?? ''}${s.target ? ` ${s.target}` : ''}`, s.id]),
      (i) => i === 0,
    ).map((l) => `  ${l}`),
  ];
  return `${lines.join('\n')}\n`;
}
