// Translates the parts of a CEL filter that name recorded row fields into a condition the
// record store pushes down (store/record-store.ts, ROW_FIELDS), so a filter over millions of
// rows is narrowed by the store before any CEL runs. Each row field has the value buildContext
// gives that CEL field from the row, so a translated comparison decides exactly what CEL would.
// What cannot be translated is left to CEL on the candidates: the condition is then a superset.
import { parse } from '@bufbuild/cel';
import { VOCABULARY } from '../policies/vocabulary.js';
import { ROW_FIELDS, type Comparison, type Condition, type RowField } from '../store/record-store.js';

type Expr = ReturnType<typeof parse>['expr'];

export interface Prefilter {
  /** The condition the store pushes down (null when nothing could be translated). */
  where: Condition | null;
  /** True when `where` alone decides the whole expression, so CEL need not run. */
  exact: boolean;
  /** True when every field named is filled from the row, so bodies and events need not be read. */
  rowOnly: boolean;
}

interface Translated {
  condition: Condition;
  exact: boolean;
}

const COMPARISONS: Readonly<Record<string, Comparison>> = { '_==_': '=', '_!=_': '!=', '_<_': '<', '_<=_': '<=', '_>_': '>', '_>=_': '>=' };

/** Fields (besides the row fields) that buildContext fills from the row alone. */
const ALSO_FROM_ROW = new Set(['now', 'exchange.started_at', 'usage.estimated', 'agent.labels', 'route.upstream', 'exchange', 'usage', 'agent', 'route']);

/** The prefilter of an expression already checked by compileExpression. */
export function prefilter(source: string): Prefilter {
  const { expr } = parse(source);
  const translated = translate(expr);
  return {
    where: translated?.condition ?? null,
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

function typeOf(value: string | number): 'string' | 'number' {
  return typeof value === 'string' ? 'string' : 'number';
}

function translate(expr: Expr): Translated | null {
  const kind = expr.exprKind;
  if (kind.case !== 'callExpr') return null;
  const { function: fn, args, target } = kind.value;
  if (fn === '_&&_' || fn === '_||_') {
    const [a, b] = [translate(args[0]!), translate(args[1]!)];
    if (fn === '_&&_') {
      if (!a || !b) return a ? { ...a, exact: false } : b ? { ...b, exact: false } : null;
      return { condition: { op: 'and', left: a.condition, right: b.condition }, exact: a.exact && b.exact };
    }
    // Either side untranslated makes the whole || unknown: keep every row.
    if (!a || !b) return null;
    return { condition: { op: 'or', left: a.condition, right: b.condition }, exact: a.exact && b.exact };
  }
  if (fn === '!_') {
    const inner = translate(args[0]!);
    // NOT of a superset is not a superset: only an exact part can be negated.
    return inner?.exact ? { condition: { op: 'not', condition: inner.condition }, exact: true } : null;
  }
  const op = COMPARISONS[fn];
  if (op === '=' && args.length === 2) {
    const label = labelEquals(args[0]!, args[1]!) ?? labelEquals(args[1]!, args[0]!);
    // Not exact: CEL fails (matches nothing) on a missing label where SQL says false, so it cannot be negated.
    if (label) return { condition: label, exact: false };
  }
  if (op && args.length === 2) {
    let [column, value] = [field(args[0]!), literal(args[1]!)];
    let flipped = op;
    if (!column || value === null) {
      [column, value] = [field(args[1]!), literal(args[0]!)];
      flipped = ({ '<': '>', '<=': '>=', '>': '<', '>=': '<=' } as Readonly<Record<string, Comparison>>)[op] ?? op;
    }
    if (!column || value === null || ROW_FIELDS[column].type !== typeOf(value)) return null;
    return { condition: { op: flipped, field: column, value }, exact: true };
  }
  if (fn === '@in' && args.length === 2) {
    const column = field(args[0]!);
    const list = args[1]!.exprKind;
    if (!column || list.case !== 'listExpr') return null;
    const values = list.value.elements.map(literal);
    if (values.some((v) => v === null || typeOf(v) !== ROW_FIELDS[column].type)) return null;
    return { condition: { op: 'in', field: column, values: values as (string | number)[] }, exact: true };
  }
  if (target && args.length === 1 && (fn === 'startsWith' || fn === 'endsWith' || fn === 'contains')) {
    const column = field(target);
    const value = literal(args[0]!);
    if (!column || ROW_FIELDS[column].type !== 'string' || typeof value !== 'string') return null;
    return { condition: { op: fn, field: column, value }, exact: true };
  }
  return null;
}

/** `agent.labels["key"] == "value"` (or agent.labels.key) as a label condition, or null. */
function labelEquals(side: Expr, other: Expr): Condition | null {
  const value = literal(other);
  if (typeof value !== 'string') return null;
  const kind = side.exprKind;
  if (kind.case === 'callExpr' && kind.value.function === '_[_]' && kind.value.args.length === 2 && pathOf(kind.value.args[0]!) === 'agent.labels') {
    const key = literal(kind.value.args[1]!);
    return typeof key === 'string' ? { op: 'label', key, value } : null;
  }
  const path = pathOf(side);
  return path?.startsWith('agent.labels.') ? { op: 'label', key: path.slice('agent.labels.'.length), value } : null;
}

/** The row field a CEL path names, when its CEL value is the field's. */
function field(expr: Expr): RowField | null {
  const path = pathOf(expr);
  return path !== null && isCelRowField(path) ? path : null;
}

function isCelRowField(path: string): path is RowField {
  return Object.hasOwn(ROW_FIELDS, path) && ROW_FIELDS[path as RowField].cel;
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
  return isCelRowField(path) || ALSO_FROM_ROW.has(path) || path.startsWith('agent.labels.');
}
