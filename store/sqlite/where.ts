// Conditions on the row fields (store/record-store.ts) as an SQL WHERE clause over
// `exchanges`. Each field's SQL is the value buildContext gives it from the row (empty
// string or 0 for a missing value), so a translated condition decides exactly what CEL would.
import type { Condition } from '../record-store.js';
import { FIELD_SQL } from '../sql/row-fields.js';

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
