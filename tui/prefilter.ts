// Translates the parts of a CEL filter that name recorded columns into an SQL WHERE clause,
// so a filter over millions of rows is narrowed by SQLite before any CEL runs. Each SQL
// expression below is the value buildContext gives that field from the row (empty string or
// 0 for a missing value), so a translated comparison decides exactly what CEL would. What
// cannot be translated is left to CEL on the candidates: the clause is then a superset.
import { parse } from '@bufbuild/cel';
import { VOCABULARY } from '../policies/vocabulary.js';

type Expr = ReturnType<typeof parse>['expr'];

interface Column {
  sql: string;
  type: 'string' | 'number';
}

const onlyFor = (protocol: string, sql: string, extra = ''): string => `CASE WHEN protocol = '${protocol}'${extra} THEN COALESCE(${sql}, '') ELSE '' END`;

/** Vocabulary fields whose context value is a function of one row's columns, as SQL. */
export const COLUMN_FIELDS: Readonly<Record<string, Column>> = {
  protocol: { sql: 'protocol', type: 'string' },
  direction: { sql: 'direction', type: 'string' },
  'agent.name': { sql: 'agent', type: 'string' },
  'route.name': { sql: 'route', type: 'string' },
  'exchange.id': { sql: 'id', type: 'string' },
  'exchange.status': { sql: 'status', type: 'string' },
  'exchange.target': { sql: "COALESCE(target, '')", type: 'string' },
  'exchange.session_id': { sql: "COALESCE(session_id, '')", type: 'string' },
  'exchange.error_code': { sql: "COALESCE(error_code, '')", type: 'string' },
  'exchange.replay_of': { sql: "COALESCE(replay_of, '')", type: 'string' },
  'exchange.duration_ms': { sql: 'COALESCE(duration_ms, 0)', type: 'number' },
  'exchange.ttfb_ms': { sql: 'COALESCE(ttfb_ms, 0)', type: 'number' },
  'exchange.http_status': { sql: 'COALESCE(http_status, 0)', type: 'number' },
  'response.status': { sql: 'COALESCE(http_status, 0)', type: 'number' },
  'response.error.code': { sql: "COALESCE(error_code, '')", type: 'string' },
  'response.error.message': { sql: "COALESCE(error_message, '')", type: 'string' },
  'usage.input_tokens': { sql: 'COALESCE(input_tokens, 0)', type: 'number' },
  'usage.output_tokens': { sql: 'COALESCE(output_tokens, 0)', type: 'number' },
  'usage.total_tokens': { sql: '(COALESCE(input_tokens, 0) + COALESCE(output_tokens, 0))', type: 'number' },
  'usage.cost_usd': { sql: 'COALESCE(cost_usd, 0)', type: 'number' },
  'llm.provider': { sql: onlyFor('llm', 'provider'), type: 'string' },
  'llm.operation': { sql: onlyFor('llm', 'operation'), type: 'string' },
  // The sidecar copies the request body's model and MCP method/tool into these columns.
  'llm.model': { sql: onlyFor('llm', 'model'), type: 'string' },
  'mcp.method': { sql: onlyFor('mcp', 'method'), type: 'string' },
  'mcp.tool': { sql: onlyFor('mcp', 'target', " AND method = 'tools/call'"), type: 'string' },
  'mcp.session': { sql: onlyFor('mcp', 'session_id'), type: 'string' },
};

/** Fields (besides COLUMN_FIELDS) that buildContext fills from the row alone. */
const ALSO_FROM_ROW = new Set(['now', 'exchange.started_at', 'usage.estimated', 'agent.labels', 'route.upstream', 'exchange', 'usage', 'agent', 'route']);

export interface Prefilter {
  /** An SQL boolean expression over `exchanges` ('' when nothing could be translated). */
  where: string;
  params: (string | number)[];
  /** True when `where` alone decides the whole expression, so CEL need not run. */
  exact: boolean;
  /** True when every field named is filled from the row, so bodies and events need not be read. */
  rowOnly: boolean;
}

interface Sql {
  sql: string;
  params: (string | number)[];
  exact: boolean;
}

const COMPARISONS: Readonly<Record<string, string>> = { '_==_': '=', '_!=_': '!=', '_<_': '<', '_<=_': '<=', '_>_': '>', '_>=_': '>=' };

/** The SQL prefilter of an expression already checked by compileExpression. */
export function prefilter(source: string): Prefilter {
  const { expr } = parse(source);
  const translated = translate(expr);
  return {
    where: translated?.sql ?? '',
    params: translated?.params ?? [],
    exact: translated?.exact ?? false,
    rowOnly: namesOnlyRowFields(expr, new Set()),
  };
}

/** The dotted path of a select chain over a vocabulary variable (mcp.tool), or null. */
function pathOf(expr: Expr): string | null {
  const kind = expr.exprKind;
  if (kind.case === 'identExpr') return VOCABULARY[kind.value.name] !== undefined ? kind.value.name : null;
  if (kind.case === 'selectExpr' && !kind.value.testOnly && kind.value.operand) {
    const operand = pathOf(kind.value.operand);
    return operand === null ? null : `${operand}.${kind.value.field}`;
  }
  return null;
}

function literal(expr: Expr): string | number | null {
  const kind = expr.exprKind;
  if (kind.case !== 'constExpr') return null;
  const c = kind.value.constantKind;
  if (c.case === 'stringValue') return c.value;
  if (c.case === 'int64Value' || c.case === 'uint64Value') return Number(c.value);
  if (c.case === 'doubleValue') return c.value;
  return null;
}

function typeOf(value: string | number): Column['type'] {
  return typeof value === 'string' ? 'string' : 'number';
}

function translate(expr: Expr): Sql | null {
  const kind = expr.exprKind;
  if (kind.case !== 'callExpr') return null;
  const { function: fn, args, target } = kind.value;
  if (fn === '_&&_' || fn === '_||_') {
    const [a, b] = [translate(args[0]!), translate(args[1]!)];
    if (fn === '_&&_') {
      if (!a || !b) return a ? { ...a, exact: false } : b ? { ...b, exact: false } : null;
      return { sql: `(${a.sql} AND ${b.sql})`, params: [...a.params, ...b.params], exact: a.exact && b.exact };
    }
    // Either side untranslated makes the whole || unknown: keep every row.
    if (!a || !b) return null;
    return { sql: `(${a.sql} OR ${b.sql})`, params: [...a.params, ...b.params], exact: a.exact && b.exact };
  }
  if (fn === '!_') {
    const inner = translate(args[0]!);
    // NOT of a superset is not a superset: only an exact part can be negated.
    return inner?.exact ? { sql: `NOT ${inner.sql}`, params: inner.params, exact: true } : null;
  }
  const op = COMPARISONS[fn];
  if (op && args.length === 2) {
    let [column, value] = [field(args[0]!), literal(args[1]!)];
    let sqlOp = op;
    if (!column || value === null) {
      [column, value] = [field(args[1]!), literal(args[0]!)];
      sqlOp = ({ '<': '>', '<=': '>=', '>': '<', '>=': '<=' } as Record<string, string>)[op] ?? op;
    }
    if (!column || value === null || column.type !== typeOf(value)) return null;
    return { sql: `(${column.sql} ${sqlOp} ?)`, params: [value], exact: true };
  }
  if (fn === '@in' && args.length === 2) {
    const column = field(args[0]!);
    const list = args[1]!.exprKind;
    if (!column || list.case !== 'listExpr') return null;
    const values = list.value.elements.map(literal);
    if (values.some((v) => v === null || typeOf(v) !== column.type)) return null;
    if (values.length === 0) return { sql: '0', params: [], exact: true };
    return { sql: `(${column.sql} IN (${values.map(() => '?').join(', ')}))`, params: values as (string | number)[], exact: true };
  }
  if (target && args.length === 1 && ['startsWith', 'endsWith', 'contains'].includes(fn)) {
    const column = field(target);
    const value = literal(args[0]!);
    if (!column || column.type !== 'string' || typeof value !== 'string') return null;
    if (fn === 'contains') return { sql: `(instr(${column.sql}, ?) > 0)`, params: [value], exact: true };
    if (fn === 'startsWith') return { sql: `(substr(${column.sql}, 1, ?) = ?)`, params: [value.length, value], exact: true };
    return { sql: `(? = '' OR substr(${column.sql}, ?) = ?)`, params: [value, -value.length, value], exact: true };
  }
  return null;
}

function field(expr: Expr): Column | null {
  const path = pathOf(expr);
  return path === null ? null : (COLUMN_FIELDS[path] ?? null);
}

/** True when every vocabulary field the expression reads is filled from the row alone. */
function namesOnlyRowFields(expr: Expr, bound: ReadonlySet<string>): boolean {
  const kind = expr.exprKind;
  switch (kind.case) {
    case 'identExpr':
      return bound.has(kind.value.name) || isRowField(kind.value.name);
    case 'selectExpr': {
      const path = pathOf(expr);
      if (path !== null) return isRowField(path) || (kind.value.testOnly && namesOnlyRowFields(kind.value.operand!, bound));
      return namesOnlyRowFields(kind.value.operand!, bound);
    }
    case 'callExpr':
      return (!kind.value.target || namesOnlyRowFields(kind.value.target, bound)) && kind.value.args.every((a) => namesOnlyRowFields(a, bound));
    case 'listExpr':
      return kind.value.elements.every((e) => namesOnlyRowFields(e, bound));
    case 'structExpr':
      return kind.value.entries.every((e) => (e.keyKind.case !== 'mapKey' || namesOnlyRowFields(e.keyKind.value, bound)) && (!e.value || namesOnlyRowFields(e.value, bound)));
    case 'comprehensionExpr': {
      const c = kind.value;
      const inner = new Set([...bound, c.iterVar, c.iterVar2, c.accuVar].filter(Boolean));
      return (
        namesOnlyRowFields(c.iterRange!, bound) &&
        namesOnlyRowFields(c.accuInit!, bound) &&
        [c.loopCondition, c.loopStep, c.result].every((part) => !part || namesOnlyRowFields(part, inner))
      );
    }
    default:
      return true;
  }
}

function isRowField(path: string): boolean {
  return COLUMN_FIELDS[path] !== undefined || ALSO_FROM_ROW.has(path) || path.startsWith('agent.labels.');
}
