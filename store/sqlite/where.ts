// Conditions on the row fields (store/record-store.ts) as an SQL WHERE clause over
// `exchanges`. Each field's SQL is the value buildContext gives it from the row (empty
// string or 0 for a missing value), so a translated condition decides exactly what CEL would.
import type { Condition, RowField } from '../record-store.js';

const onlyFor = (protocol: string, sql: string, extra = ''): string => `CASE WHEN protocol = '${protocol}'${extra} THEN COALESCE(${sql}, '') ELSE '' END`;

const FIELD_SQL: Readonly<Record<RowField, string>> = {
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

export interface WhereSql {
  /** An SQL boolean expression ('' for no condition). */
  where: string;
  params: (string | number)[];
}

/** The condition as SQL with its parameters, in order. */
export function whereSql(condition: Condition | null | undefined): WhereSql {
  if (!condition) return { where: '', params: [] };
  const params: (string | number)[] = [];
  const where = render(condition, params);
  return { where, params };
}

function render(c: Condition, params: (string | number)[]): string {
  switch (c.op) {
    case 'and':
    case 'or': {
      const left = render(c.left, params);
      return `(${left} ${c.op.toUpperCase()} ${render(c.right, params)})`;
    }
    case 'not':
      return `NOT ${render(c.condition, params)}`;
    case 'in':
      if (c.values.length === 0) return '0';
      params.push(...c.values);
      return `(${FIELD_SQL[c.field]} IN (${c.values.map(() => '?').join(', ')}))`;
    case 'contains':
      params.push(c.value);
      return `(instr(${FIELD_SQL[c.field]}, ?) > 0)`;
    case 'startsWith':
      params.push(c.value.length, c.value);
      return `(substr(${FIELD_SQL[c.field]}, 1, ?) = ?)`;
    case 'endsWith':
      params.push(c.value, -c.value.length, c.value);
      return `(? = '' OR substr(${FIELD_SQL[c.field]}, ?) = ?)`;
    case 'label':
      params.push(c.key, c.value);
      return "EXISTS (SELECT 1 FROM json_each(agent_labels) WHERE key = ? AND type = 'text' AND value = ?)";
    default:
      params.push(c.value);
      return `(${FIELD_SQL[c.field]} ${c.op} ?)`;
  }
}
