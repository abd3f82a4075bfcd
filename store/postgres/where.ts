// Conditions on the row fields (store/record-store.ts) as a PostgreSQL WHERE clause over
// `exchanges`, with numbered parameters. Each field's SQL is the value buildContext gives it
// from the row (empty string or 0 for a missing value), as store/sqlite/where.ts does for
// SQLite; strings compare in the "C" collation (bytes), as SQLite compares them.
import { ROW_FIELDS, type Condition, type RowField } from '../record-store.js';
import { FIELD_SQL } from '../sql/row-fields.js';

export interface WhereSql {
  /** An SQL boolean expression ('' for no condition). */
  where: string;
  params: (string | number)[];
}

/** The condition as SQL; its parameters are numbered from `first` ($first, $first+1, ...). */
export function whereSql(condition: Condition | null | undefined, first = 1): WhereSql {
  if (!condition) return { where: '', params: [] };
  const params: (string | number)[] = [];
  const param = (value: string | number): string => {
    params.push(value);
    return `$${first + params.length - 1}`;
  };
  return { where: render(condition, param), params };
}

/** A field's SQL, typed and collated so it compares with a parameter as SQLite would. */
function field(name: RowField): string {
  return ROW_FIELDS[name].type === 'string' ? `(${FIELD_SQL[name]}) COLLATE "C"` : FIELD_SQL[name];
}

/** A parameter of the field's type (a number for a string field, or the reverse, compares as its text or number). */
function typed(name: RowField, placeholder: string): string {
  return ROW_FIELDS[name].type === 'string' ? `${placeholder}::text` : `${placeholder}::float8`;
}

function render(c: Condition, param: (value: string | number) => string): string {
  switch (c.op) {
    case 'and':
    case 'or': {
      const left = render(c.left, param);
      return `(${left} ${c.op.toUpperCase()} ${render(c.right, param)})`;
    }
    case 'not':
      return `NOT ${render(c.condition, param)}`;
    case 'in':
      if (c.values.length === 0) return 'false';
      return `(${field(c.field)} IN (${c.values.map((v) => typed(c.field, param(v))).join(', ')}))`;
    case 'contains':
      return `(strpos(${FIELD_SQL[c.field]}, ${param(c.value)}::text) > 0)`;
    case 'startsWith':
      return `starts_with(${FIELD_SQL[c.field]}, ${param(c.value)}::text)`;
    case 'endsWith': {
      const value = param(c.value);
      return `(right(${FIELD_SQL[c.field]}, char_length(${value}::text)) = ${value}::text)`;
    }
    case 'label':
      return `COALESCE((agent_labels::jsonb -> ${param(c.key)}::text) = to_jsonb(${param(c.value)}::text), false)`;
    default:
      return `(${field(c.field)} ${c.op} ${typed(c.field, param(c.value))})`;
  }
}
