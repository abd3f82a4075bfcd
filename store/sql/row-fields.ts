// The row fields (store/record-store.ts) as SQL expressions over the `exchanges` table, for
// the backends that speak SQL (store/sqlite/, store/postgres/): each is the value
// buildContext gives the field from the row (empty string or 0 for a missing value), so a
// translated condition decides exactly what CEL would. Standard SQL only: each backend adds
// its own operators, parameters and collation around them.
import type { RowField } from '../record-store.js';

const onlyFor = (protocol: string, sql: string, extra = ''): string => `CASE WHEN protocol = '${protocol}'${extra} THEN COALESCE(${sql}, '') ELSE '' END`;

export const FIELD_SQL: Readonly<Record<RowField, string>> = {
  protocol: 'protocol',
  direction: 'direction',
  'agent.name': 'agent',
  'route.name': 'route',
  'exchange.id': 'id',
  'exchange.status': 'status',
  'exchange.target': "COALESCE(target, '')",
  'exchange.session_id': "COALESCE(session_id, '')",
  'exchange.error_code': "COALESCE(error_code, '')",
  'exchange.replay_of': "COALESCE(replay_of, '')",
  'exchange.duration_ms': 'COALESCE(duration_ms, 0)',
  'exchange.ttfb_ms': 'COALESCE(ttfb_ms, 0)',
  'exchange.http_status': 'COALESCE(http_status, 0)',
  'response.status': 'COALESCE(http_status, 0)',
  'response.error.code': "COALESCE(error_code, '')",
  'response.error.message': "COALESCE(error_message, '')",
  'usage.input_tokens': 'COALESCE(input_tokens, 0)',
  'usage.output_tokens': 'COALESCE(output_tokens, 0)',
  'usage.total_tokens': '(COALESCE(input_tokens, 0) + COALESCE(output_tokens, 0))',
  'usage.cost_usd': 'COALESCE(cost_usd, 0)',
  'llm.provider': onlyFor('llm', 'provider'),
  'llm.operation': onlyFor('llm', 'operation'),
  // The sidecar copies the request body's model and MCP method/tool into these columns.
  'llm.model': onlyFor('llm', 'model'),
  'mcp.method': onlyFor('mcp', 'method'),
  'mcp.tool': onlyFor('mcp', 'target', " AND method = 'tools/call'"),
  'mcp.session': onlyFor('mcp', 'session_id'),
  'exchange.started_at': 'started_at',
  'exchange.method': "COALESCE(method, '')",
  'exchange.streamed': 'streamed',
};
