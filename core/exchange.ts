// The exchange record: one request and what answered it. This is the contract between the
// sidecar (which fills it in), the store (whose `exchanges` columns are these fields), and
// later the TUI, policies and exports. Field names match the columns one to one.
import { randomBytes } from 'node:crypto';
import { monotonicFactory } from 'ulid';

export type Protocol = 'llm' | 'mcp' | 'a2a' | 'http';
export type Direction = 'client_to_server' | 'server_to_client';
export type ExchangeStatus = 'ok' | 'error' | 'denied' | 'aborted';

export interface Exchange {
  id: string;
  started_at: number; // unix epoch, milliseconds
  ended_at: number | null;
  duration_ms: number | null;
  ttfb_ms: number | null; // first response byte from upstream
  ttft_ms: number | null; // LLM streams: first event that carries output
  agent: string;
  /** The agent's labels (agent.labels) as a JSON object text, so readers filter on them; null in records made before they were kept. */
  agent_labels: string | null;
  route: string;
  protocol: Protocol;
  direction: Direction;
  method: string | null; // LLM/HTTP: "POST /v1/chat/completions"; JSON-RPC: the method
  target: string | null; // tool / model / resource / skill
  session_id: string | null;
  jsonrpc_id: string | null;
  trace_id: string | null;
  span_id: string | null;
  status: ExchangeStatus;
  http_status: number | null;
  error_code: string | null;
  error_message: string | null;
  policy_rule: string | null;
  policy_action: string | null;
  policy_reason: string | null;
  provider: string | null;
  operation: string | null; // GenAI operation name: chat, embeddings, count_tokens
  model: string | null; // requested model
  response_model: string | null;
  response_id: string | null;
  finish_reasons: string | null; // JSON array text
  input_tokens: number | null;
  output_tokens: number | null;
  cache_read_tokens: number | null;
  cache_write_tokens: number | null;
  reasoning_tokens: number | null;
  tokens_estimated: 0 | 1;
  cost_usd: number | null;
  streamed: 0 | 1;
  request_bytes: number;
  response_bytes: number;
  replay_of: string | null;
  /** Protocol-specific extras as JSON text, e.g. MCP tools/list: {"tool_tokens": {...}}. */
  details: string | null;
  /** A2A: the task the call created or acted on. */
  task_id: string | null;
  /** A2A: the task's last state seen in the call, normalised across protocol versions (see protocols/a2a/facts.ts). */
  task_state: string | null;
  /** Federated MCP routes: the agent-facing exchange that caused this per-server one. */
  parent_id: string | null;
  /** Streams: every event the response carried, kept or not (store.max_events, store.max_event_bytes). */
  event_count: number | null;
  /** 1 when some of those events were counted but not stored. */
  events_truncated: 0 | 1;
  /** What transform rules changed before the call was forwarded, as a JSON list (policies/transform.ts Change); null: nothing. */
  transform: string | null;
}

/** Headers and body of one side of an exchange, as stored (credentials already redacted). */
export interface Payload {
  headers: Record<string, string | string[]>;
  body: Buffer | null;
  body_size: number; // the full size on the wire, even when `body` was truncated
  truncated: boolean;
}

/** One SSE event (or related notification) of an exchange, with its offset from the start. */
export interface ExchangeEvent {
  offset_ms: number;
  event: string | null;
  event_id: string | null;
  data: string;
}

export interface ExchangeRecord {
  exchange: Exchange;
  request: Payload | null;
  response: Payload | null;
  events: ExchangeEvent[];
}

/**
 * ulid's default generator asks the OS for one byte per character; ids are made on every
 * request, so draw the same cryptographic randomness from a pooled buffer instead.
 */
function pooledRandom(): () => number {
  let pool = randomBytes(4096);
  let offset = 0;
  return () => {
    if (offset === pool.length) {
      pool = randomBytes(4096);
      offset = 0;
    }
    return pool[offset++]! / 256;
  };
}

const nextUlid = monotonicFactory(pooledRandom());

/** A time-sortable id (ULID): lexical order is creation order, even within one millisecond. */
export function newExchangeId(now: number = Date.now()): string {
  return nextUlid(now);
}

/** A fresh exchange with every optional field null, so adapters only set what they know. */
export function blankExchange(init: Pick<Exchange, 'agent' | 'route' | 'protocol'> & { started_at?: number }): Exchange {
  const started = init.started_at ?? Date.now();
  return {
    id: newExchangeId(started),
    started_at: started,
    ended_at: null,
    duration_ms: null,
    ttfb_ms: null,
    ttft_ms: null,
    agent: init.agent,
    agent_labels: null,
    route: init.route,
    protocol: init.protocol,
    direction: 'client_to_server',
    method: null,
    target: null,
    session_id: null,
    jsonrpc_id: null,
    trace_id: null,
    span_id: null,
    status: 'ok',
    http_status: null,
    error_code: null,
    error_message: null,
    policy_rule: null,
    policy_action: null,
    policy_reason: null,
    provider: null,
    operation: null,
    model: null,
    response_model: null,
    response_id: null,
    finish_reasons: null,
    input_tokens: null,
    output_tokens: null,
    cache_read_tokens: null,
    cache_write_tokens: null,
    reasoning_tokens: null,
    tokens_estimated: 0,
    cost_usd: null,
    streamed: 0,
    request_bytes: 0,
    response_bytes: 0,
    replay_of: null,
    details: null,
    task_id: null,
    task_state: null,
    parent_id: null,
    event_count: null,
    events_truncated: 0,
    transform: null,
  };
}
