// The load-time check of a parsed CEL expression: names (variables, fields and functions of
// the vocabulary), bounds (size, comprehension depth) and types. Each node's type is inferred
// from the vocabulary's declared field types and the overloads the CEL environment really
// has, so an operator or function that no overload could serve (`int > string`,
// `size(int)`, `matches` on a number) is rejected here, with its column, instead of failing
// on every call at run time. `dyn` (wire data, bodies, headers) matches anything.
import type { CelEnv, CelType, parse } from '@bufbuild/cel';
import { VOCABULARY, type Field, type Struct } from './vocabulary.js';

/** A problem in an expression, at a 0-based offset of the expression text. */
export class ExpressionError extends Error {
  override readonly name = 'ExpressionError';
  constructor(
    message: string,
    /** 0-based offset into the expression. */
    readonly offset: number,
  ) {
    super(message);
  }
}

/**
 * Bounds on an expression, so evaluation cost is bounded by what the exchange holds: its
 * size, its AST, and how deeply comprehensions (exists, all, map, filter) nest, each level
 * of which multiplies the cost by the length of the list it walks.
 */
export const EXPRESSION_LIMITS = { chars: 4096, nodes: 1000, comprehensionDepth: 2 } as const;

type Expr = ReturnType<typeof parse>['expr'];

/** A CEL type as far as overload resolution needs it (lists and maps hold dyn). */
export type Kind = 'int' | 'uint' | 'double' | 'string' | 'bool' | 'bytes' | 'null' | 'timestamp' | 'duration' | 'list' | 'map' | 'type' | 'dyn' | 'object';

interface Typed {
  kind: Kind;
  /** For a vocabulary variable or field: its path (usage.output_tokens). */
  path?: string;
  /** For a struct of the vocabulary: its declared fields. */
  fields?: Struct;
}

const DYN: Typed = { kind: 'dyn' };
const BOOL: Typed = { kind: 'bool' };

/** Operators the parser generates that the planner implements itself (no overloads in the environment). */
const LOGIC = new Set(['_&&_', '_||_']);

interface Walk {
  env: CelEnv;
  /** Comprehension variables in scope, with their types. */
  bound: ReadonlyMap<string, Typed>;
  roots: Set<string>;
  offsetOf: (e: Expr) => number;
  /** Nodes seen so far in the whole expression. */
  size: { nodes: number };
  /** Comprehensions enclosing this node. */
  depth: number;
}

/** What the check found: the top-level variables an expression names, and the kind of value it gives ("dyn" when only the call tells). */
export interface Checked {
  roots: Set<string>;
  kind: Kind;
}

/** Checks an expression, or throws ExpressionError. */
export function checkExpression(expr: Expr, env: CelEnv, offsetOf: (e: Expr) => number): Checked {
  const roots = new Set<string>();
  const { kind } = typeOf(expr, { env, bound: new Map(), roots, offsetOf, size: { nodes: 0 }, depth: 0 });
  return { roots, kind };
}

function fieldType(field: Field, path: string): Typed {
  return typeof field === 'object' ? { kind: 'map', path, fields: field } : { kind: field, path };
}

function typeOf(expr: Expr, walk: Walk): Typed {
  const { offsetOf } = walk;
  if (++walk.size.nodes > EXPRESSION_LIMITS.nodes) {
    throw new ExpressionError(`the expression has more than ${EXPRESSION_LIMITS.nodes} parts; split it into several rules`, offsetOf(expr));
  }
  const kind = expr.exprKind;
  switch (kind.case) {
    case 'constExpr':
      return { kind: constKind(kind.value.constantKind.case) };
    case 'identExpr': {
      const name = kind.value.name;
      const local = walk.bound.get(name);
      if (local) return local;
      const field = VOCABULARY[name];
      if (field === undefined) {
        throw new ExpressionError(`unknown variable "${name}" (known: ${Object.keys(VOCABULARY).join(', ')})`, offsetOf(expr));
      }
      walk.roots.add(name);
      return fieldType(field, name);
    }
    case 'selectExpr': {
      const operand = typeOf(kind.value.operand!, walk);
      const field = selectField(operand, kind.value.field, nodeOffset(expr, walk));
      return kind.value.testOnly ? BOOL : field;
    }
    case 'callExpr':
      return callType(expr, kind.value, walk);
    case 'listExpr':
      for (const element of kind.value.elements) typeOf(element, walk);
      return { kind: 'list' };
    case 'structExpr':
      for (const entry of kind.value.entries) {
        if (entry.keyKind.case === 'mapKey') typeOf(entry.keyKind.value, walk);
        if (entry.value) typeOf(entry.value, walk);
      }
      return kind.value.messageName ? DYN : { kind: 'map' };
    case 'comprehensionExpr': {
      const c = kind.value;
      if (walk.depth + 1 > EXPRESSION_LIMITS.comprehensionDepth) {
        throw new ExpressionError(`comprehensions (exists, all, map, filter) nest more than ${EXPRESSION_LIMITS.comprehensionDepth} deep`, offsetOf(expr));
      }
      const range = typeOf(c.iterRange!, walk);
      if (!['list', 'map', 'dyn'].includes(range.kind)) {
        throw new ExpressionError(`${describe(range)} cannot be walked by exists, all, map or filter: it is not a list or a map`, nodeOffset(c.iterRange!, walk));
      }
      const accu = typeOf(c.accuInit!, walk);
      const bound = new Map(walk.bound);
      for (const name of [c.iterVar, c.iterVar2]) if (name) bound.set(name, DYN);
      bound.set(c.accuVar, accu);
      const inner: Walk = { ...walk, bound, depth: walk.depth + 1 };
      if (c.loopCondition) typeOf(c.loopCondition, inner);
      if (c.loopStep) typeOf(c.loopStep, inner);
      return c.result ? typeOf(c.result, inner) : DYN;
    }
    default:
      return DYN;
  }
}

/** Where a node starts to the reader: a select's position is its dot, so point at the field name after it. */
function nodeOffset(expr: Expr, walk: Walk): number {
  return walk.offsetOf(expr) + (expr.exprKind.case === 'selectExpr' ? 1 : 0);
}

function constKind(constant: string | undefined): Kind {
  switch (constant) {
    case 'boolValue':
      return 'bool';
    case 'bytesValue':
      return 'bytes';
    case 'doubleValue':
      return 'double';
    case 'int64Value':
      return 'int';
    case 'uint64Value':
      return 'uint';
    case 'stringValue':
      return 'string';
    case 'nullValue':
      return 'null';
    case 'durationValue':
      return 'duration';
    case 'timestampValue':
      return 'timestamp';
    default:
      return 'dyn';
  }
}

function selectField(operand: Typed, name: string, offset: number): Typed {
  const { fields, path } = operand;
  if (fields && path) {
    const child = fields[name];
    if (child === undefined) throw new ExpressionError(`${path} has no field "${name}" (fields: ${Object.keys(fields).join(', ')})`, offset);
    return fieldType(child, `${path}.${name}`);
  }
  if (operand.kind === 'map' || operand.kind === 'dyn') return DYN; // wire data: any key may be there
  throw new ExpressionError(`${describe(operand)} has no fields (".${name}")`, offset);
}

/** "mcp.tool (a string)", or "a string" for a computed value. */
function describe(t: Typed): string {
  const a = `${/^[aeiou]/.test(t.kind) ? 'an' : 'a'} ${t.kind}`;
  return t.path ? `${t.path} (${a})` : a;
}

type Call = Extract<Expr['exprKind'], { case: 'callExpr' }>['value'];

function callType(expr: Expr, call: Call, walk: Walk): Typed {
  const { function: name, target, args } = call;
  const group = walk.env.funcs.find(name);
  // Operators the parser generates (_&&_, _?_:_, _[_], @not_strictly_false ...) are always there.
  if (!/^[_@!]/.test(name) && !group) throw new ExpressionError(`unknown function "${name}"`, walk.offsetOf(expr));
  const targetType = target ? typeOf(target, walk) : undefined;
  const argTypes = args.map((arg) => typeOf(arg, walk));
  /** No overload fits: said at the call, or at the operand (of a logical operator) that does not fit. */
  const mismatch = (culprit?: Expr): ExpressionError => {
    const shown = `${targetType ? `${targetType.kind}.` : ''}(${argTypes.map((t) => t.kind).join(', ')})`;
    const named = [targetType, ...argTypes].filter((t): t is Typed => t?.path !== undefined && t.fields === undefined && (!culprit || t === argTypes[args.indexOf(culprit)]));
    const offset = culprit ? nodeOffset(culprit, walk) : walk.offsetOf(expr);
    return new ExpressionError(`no matching overload for '${name}' applied to '${shown}'${named.length > 0 ? `: ${named.map(describe).join(', ')}` : ''}`, offset);
  };
  if (LOGIC.has(name) || name === '!_' || name === '@not_strictly_false' || name === '_?_:_') {
    // Each condition must be a bool: point at the first that is not.
    const conditions = name === '_?_:_' ? 1 : args.length;
    const culprit = args.slice(0, conditions).find((_, i) => !accepts('bool', argTypes[i]!.kind));
    if (culprit) throw mismatch(culprit);
    if (name !== '_?_:_') return BOOL;
    const [, then, otherwise] = argTypes;
    return then!.kind === otherwise!.kind ? { kind: then!.kind } : DYN;
  }
  if (name === '_[_]') {
    const [container, index] = argTypes;
    if (container!.kind === 'map' || container!.kind === 'dyn') return DYN;
    // @bufbuild/cel also reads a bool as an index (0 or 1): refusing it would refuse what runs.
    if (container!.kind === 'list' && ['int', 'uint', 'double', 'bool', 'dyn'].includes(index!.kind)) return DYN;
    throw mismatch();
  }
  if (!group) return DYN;
  const results = new Set<Kind>();
  for (const overload of group) {
    if ((overload.target === undefined) !== (targetType === undefined) || overload.arguments.length !== argTypes.length) continue;
    if (targetType && !accepts(kindOf(overload.target!), targetType.kind)) continue;
    if (!overload.arguments.every((param, i) => accepts(kindOf(param), argTypes[i]!.kind))) continue;
    results.add(kindOf(overload.result));
  }
  if (results.size === 0) throw mismatch();
  return results.size === 1 ? { kind: [...results][0]! } : DYN;
}

/** True when a value of kind `actual` may be passed where `param` is declared. */
function accepts(param: Kind, actual: Kind): boolean {
  return param === actual || param === 'dyn' || actual === 'dyn';
}

function kindOf(type: CelType): Kind {
  switch (type.kind) {
    case 'list':
      return 'list';
    case 'map':
      return 'map';
    case 'object':
      return type.name === 'google.protobuf.Timestamp' ? 'timestamp' : type.name === 'google.protobuf.Duration' ? 'duration' : 'object';
    case 'scalar':
      return type.name === 'null_type' ? 'null' : type.name;
  }
}
