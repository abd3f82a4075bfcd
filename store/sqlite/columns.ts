// The `exchanges` columns, in one list the writer and queries share. The type check below
// fails to compile if a field of Exchange has no column or a column is not a field.
import type { Exchange } from '../../core/exchange.js';

export const EXCHANGE_COLUMNS = [
  'id', 'started_at', 'ended_at', 'duration_ms', 'ttfb_ms', 'ttft_ms', 'agent', 'route', 'protocol',
  'direction', 'method', 'target', 'session_id', 'jsonrpc_id', 'trace_id', 'span_id', 'status',
  'http_status', 'error_code', 'error_message', 'policy_rule', 'policy_action', 'policy_reason',
  'provider', 'operation', 'model', 'response_model', 'response_id', 'finish_reasons', 'input_tokens',
  'output_tokens', 'cache_read_tokens', 'cache_write_tokens', 'reasoning_tokens', 'tokens_estimated',
  'cost_usd', 'streamed', 'request_bytes', 'response_bytes', 'replay_of', 'details',
  'task_id', 'task_state', 'parent_id', 'event_count', 'events_truncated', 'agent_labels',
  'transform',
] as const satisfies readonly (keyof Exchange)[];

type Missing = Exclude<keyof Exchange, (typeof EXCHANGE_COLUMNS)[number]>;
const everyFieldHasAColumn: [Missing] extends [never] ? true : Missing = true;
void everyFieldHasAColumn;
