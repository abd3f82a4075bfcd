// The detail view's tabs for one recorded exchange, as plain text: request and response
// (headers, then the body as indented JSON with long strings folded), the stream (each SSE
// event with its offset, then the reassembled LLM text), related messages of the session,
// the policy decision, and the ids, timings and token counts.
import { eventText, streamText } from '../policies/stream-text.js';
import { unpricedLlmCall, type Exchange, type ExchangeRecord, type Payload } from '../core/exchange.js';
import type { Change } from '../policies/rewrite.js';
import { changeText, valueText } from '../tools/change-text.js';
import { clock, cost, duration } from './format.js';

export const TABS = ['Request', 'Response', 'Stream', 'Related', 'Policy', 'Meta'] as const;
export type Tab = (typeof TABS)[number];

/** Strings longer than this are shown folded, with the count of what was left out. */
export const FOLD_AT = 400;

function fold(value: string): string {
  return value.length > FOLD_AT ? `${value.slice(0, FOLD_AT)}… (+${value.length - FOLD_AT} chars)` : value;
}

/** Indented JSON with every long string folded; text that is not JSON is returned as is (folded per line). */
export function prettyBody(body: Buffer | string | null): string {
  if (body === null) return '(no body)';
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (text === '') return '(empty body)';
  try {
    const parsed = JSON.parse(text) as unknown;
    return JSON.stringify(parsed, (_key, value: unknown) => (typeof value === 'string' ? fold(value) : value), 2);
  } catch {
    return text.split('\n').map(fold).join('\n');
  }
}

function headerLines(headers: Payload['headers']): string[] {
  return Object.entries(headers).map(([name, value]) => `${name}: ${Array.isArray(value) ? value.join(', ') : value}`);
}

function payloadText(title: string, payload: Payload | null, exchange: Exchange): string {
  if (!payload) return `(no ${title.toLowerCase()} recorded)`;
  const size = payload.truncated ? `${payload.body_size} bytes, truncated in the record to ${payload.body?.length ?? 0}` : `${payload.body_size} bytes`;
  const lead = title === 'Request' ? [`${exchange.method ?? ''}  (${exchange.protocol}, route ${exchange.route})`] : [`status ${exchange.status}${exchange.http_status !== null ? `, HTTP ${exchange.http_status}` : ''}`];
  return [...lead, '', ...headerLines(payload.headers), '', `body (${size}):`, prettyBody(payload.body)].join('\n');
}

function streamTab(record: ExchangeRecord): string {
  if (record.events.length === 0) return '(no stream events: this exchange was not streamed)';
  const lines = record.events.map((e) => {
    const name = e.event ? `${e.event} ` : '';
    const id = e.event_id ? `[id ${e.event_id}] ` : '';
    return `+${e.offset_ms.toFixed(1).padStart(8)} ms  ${name}${id}${fold(e.data.replace(/\n/g, '\\n'))}`;
  });
  const generated = record.events.some((e) => eventText(e.data) !== null);
  const text = generated ? ['', '--- reassembled text ---', streamText(record.events)] : [];
  return [`${record.events.length} events`, '', ...lines, ...text].join('\n');
}

function relatedTab(exchange: Exchange, related: readonly Exchange[]): string {
  if (!exchange.session_id) return '(no session: related messages are those of the same MCP session or A2A context)';
  if (related.length === 0) return `session ${exchange.session_id}: no notifications or server-to-client requests`;
  const lines = related.map((r) => {
    const arrow = r.direction === 'server_to_client' ? 'server → client' : 'client → server';
    return `${clock(r.started_at)}  ${arrow}  ${(r.method ?? '').padEnd(32)} ${r.target ?? ''}  ${r.status}  ${r.id}`;
  });
  return [`session ${exchange.session_id}: ${related.length} notifications and server-to-client messages`, '', ...lines].join('\n');
}

function policyTab(e: Exchange): string {
  if (!e.policy_action && !e.policy_rule) return 'no policy rule decided this exchange (allowed by default)';
  const decision = [`rule:    ${e.policy_rule ?? '(default)'}`, `action:  ${e.policy_action ?? ''}`, `reason:  ${e.policy_reason ?? ''}`, `status:  ${e.status}`];
  return [...decision, ...transformLines(e.transform)].join('\n');
}

/**
 * What transform rules changed before the call was forwarded (the Request tab shows what
 * the agent sent): one line per change, marked when only a monitor-mode file would have made it.
 */
function transformLines(transform: string | null): string[] {
  if (!transform) return [];
  let changes: unknown;
  try {
    changes = JSON.parse(transform);
  } catch {
    return ['', `transformed: ${fold(transform)}`];
  }
  if (!Array.isArray(changes)) return [];
  // Header values too as JSON here, so an empty or padded one shows; long values folded.
  const shown = (v: unknown): string => fold(valueText(v));
  const lines = (changes as Change[]).map((c) => `  ${String(c.rule).padEnd(20)} ${changeText(c, shown, shown)}${c.would ? '  (monitor mode: not applied)' : ''}`);
  return ['', 'forwarded with these changes to what the agent sent:', ...lines];
}

function metaTab(e: Exchange): string {
  const rows: [string, string | number | null][] = [
    ['id', e.id],
    ['started', `${new Date(e.started_at).toISOString()} (${clock(e.started_at)} local)`],
    ['ended', e.ended_at === null ? null : new Date(e.ended_at).toISOString()],
    ['duration', duration(e.duration_ms)],
    ['time to first byte', duration(e.ttfb_ms)],
    ['time to first token', duration(e.ttft_ms)],
    ['agent / route', `${e.agent} / ${e.route}`],
    ['protocol / direction', `${e.protocol} / ${e.direction}`],
    ['method', e.method],
    ['target', e.target],
    ['session', e.session_id],
    ['json-rpc id', e.jsonrpc_id],
    ['trace id', e.trace_id],
    ['span id', e.span_id],
    ['status', `${e.status}${e.http_status !== null ? ` (HTTP ${e.http_status})` : ''}`],
    ['error', e.error_code || e.error_message ? `${e.error_code ?? ''} ${e.error_message ?? ''}`.trim() : null],
    ['provider / operation', e.provider ? `${e.provider} / ${e.operation ?? ''}` : null],
    ['model (response model)', e.model ? `${e.model}${e.response_model && e.response_model !== e.model ? ` (${e.response_model})` : ''}` : null],
    ['finish reasons', e.finish_reasons],
    ['tokens in / out', e.input_tokens === null && e.output_tokens === null ? null : `${e.input_tokens ?? 0} / ${e.output_tokens ?? 0}${e.tokens_estimated === 1 ? ' (estimated)' : ''}`],
    ['cache read / write', e.cache_read_tokens === null && e.cache_write_tokens === null ? null : `${e.cache_read_tokens ?? 0} / ${e.cache_write_tokens ?? 0}`],
    ['reasoning tokens', e.reasoning_tokens],
    ['cost', unpricedLlmCall(e) ? 'unknown: no price for this model (tapwire prices; a pricing: entry adds one)' : e.cost_usd === null ? null : `${cost(e.cost_usd)} (${e.cost_usd} USD)`],
    ['bytes in / out', `${e.request_bytes} / ${e.response_bytes}`],
    ['a2a task', e.task_id ? `${e.task_id} (${e.task_state ?? ''})` : null],
    ['replay of', e.replay_of],
    ['details', e.details],
  ];
  return rows
    .filter(([, v]) => v !== null && v !== '')
    .map(([k, v]) => `${k.padEnd(24)} ${String(v)}`)
    .join('\n');
}

/** The text of one tab. */
export function tabText(tab: Tab, record: ExchangeRecord, related: readonly Exchange[]): string {
  const e = record.exchange;
  switch (tab) {
    case 'Request':
      return payloadText('Request', record.request, e);
    case 'Response':
      return payloadText('Response', record.response, e);
    case 'Stream':
      return streamTab(record);
    case 'Related':
      return relatedTab(e, related);
    case 'Policy':
      return policyTab(e);
    case 'Meta':
      return metaTab(e);
  }
}
