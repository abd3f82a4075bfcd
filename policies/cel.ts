// CEL on @bufbuild/cel: the environment every expression runs in (the strings extension,
// and `timestamp(int)` read as Unix seconds, which 0.6.1 reads as milliseconds), compiling an
// expression once, and the load-time check that walks its AST and rejects variables, fields
// and functions outside the vocabulary, with the column inside the expression.
import { celEnv, celFunc, CelScalar, isCelError, objectType, parse, plan, type CelEnv, type CelResult } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import { timestampFromMs, TimestampSchema } from '@bufbuild/protobuf/wkt';
import { PROTOCOL_ROOTS, RESPONSE_ONLY, VOCABULARY, type Field, type Phase } from './vocabulary.js';

/** `timestamp(1700000000)` is that many seconds after the epoch, as the CEL spec says. */
const timestampFromSeconds = celFunc('timestamp', [CelScalar.INT], objectType(TimestampSchema), (seconds) => timestampFromMs(Number(seconds) * 1000));

export const CEL_ENV: CelEnv = celEnv({ funcs: [...strings, timestampFromSeconds] });

/** A problem in an expression, at a 1-based column of the expression text. */
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

type Expr = ReturnType<typeof parse>['expr'];

export type Bindings = Record<string, unknown>;

export interface CompiledExpression {
  readonly source: string;
  /** The top-level variables it names. */
  readonly roots: ReadonlySet<string>;
  /** The protocols it can apply to (null: any), from the protocol-specific variables it names. */
  readonly protocols: ReadonlySet<string> | null;
  /** True when it names response or usage fields. */
  readonly needsResponse: boolean;
  evaluate(bindings: Bindings): CelResult;
}

/**
 * Bounds on an expression, so evaluation cost is bounded by what the exchange holds: its
 * size, its AST, and how deeply comprehensions (exists, all, map, filter) nest, each level
 * of which multiplies the cost by the length of the list it walks.
 */
export const EXPRESSION_LIMITS = { chars: 4096, nodes: 1000, comprehensionDepth: 2 } as const;

/** Parses, checks and plans an expression; throws ExpressionError with the offset of the problem. */
export function compileExpression(source: string): CompiledExpression {
  if (source.length > EXPRESSION_LIMITS.chars) {
    throw new ExpressionError(`the expression is ${source.length} characters long; the limit is ${EXPRESSION_LIMITS.chars}`, EXPRESSION_LIMITS.chars);
  }
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(source);
  } catch (err) {
    const e = err as Error & { location?: { start?: { offset?: number } } };
    const message = e.message.replace(/^<input>:\d+:\d+: /, '');
    throw new ExpressionError(`syntax error: ${message}`, e.location?.start?.offset ?? 0);
  }
  const positions = parsed.sourceInfo?.positions ?? {};
  const offsetOf = (expr: Expr): number => positions[String(expr.id)] ?? 0;
  const roots = new Set<string>();
  const size = { nodes: 0 };
  checkExpr(parsed.expr, { bound: new Set(), roots, offsetOf, size, depth: 0 });
  const program = plan(CEL_ENV, parsed);
  const protocolRoots = [...roots].filter((r) => PROTOCOL_ROOTS[r] !== undefined).map((r) => PROTOCOL_ROOTS[r]!);
  return {
    source,
    roots,
    protocols: protocolRoots.length > 0 ? new Set(protocolRoots) : null,
    needsResponse: [...roots].some((r) => RESPONSE_ONLY.has(r)),
    evaluate: (bindings) => program(bindings as Parameters<typeof program>[0]),
  };
}

/** The declared field at a select chain like mcp.tool, or what is wrong with it. */
type Resolved = { field: Field; path: string } | null;

interface Walk {
  bound: ReadonlySet<string>;
  roots: Set<string>;
  offsetOf: (e: Expr) => number;
  /** Nodes seen so far in the whole expression. */
  size: { nodes: number };
  /** Comprehensions enclosing this node. */
  depth: number;
}

function checkExpr(expr: Expr, walk: Walk): Resolved {
  const { bound, roots, offsetOf } = walk;
  if (++walk.size.nodes > EXPRESSION_LIMITS.nodes) {
    throw new ExpressionError(`the expression has more than ${EXPRESSION_LIMITS.nodes} parts; split it into several rules`, offsetOf(expr));
  }
  const kind = expr.exprKind;
  switch (kind.case) {
    case 'identExpr': {
      const name = kind.value.name;
      if (bound.has(name)) return null;
      const field = VOCABULARY[name];
      if (field === undefined) {
        throw new ExpressionError(`unknown variable "${name}" (known: ${Object.keys(VOCABULARY).join(', ')})`, offsetOf(expr));
      }
      roots.add(name);
      return { field, path: name };
    }
    case 'selectExpr': {
      const operand = checkExpr(kind.value.operand!, walk);
      if (!operand) return null;
      // The parser places a select at its dot: point at the field name after it.
      return selectField(operand, kind.value.field, offsetOf(expr) + 1);
    }
    case 'callExpr': {
      const { function: name, target, args } = kind.value;
      // Operators the parser generates (_&&_, @in, !_ ...) are always there.
      if (!/^[_@!]/.test(name) && !CEL_ENV.funcs.find(name)) {
        throw new ExpressionError(`unknown function "${name}"`, offsetOf(expr));
      }
      if (target) checkExpr(target, walk);
      for (const arg of args) checkExpr(arg, walk);
      return null;
    }
    case 'listExpr':
      for (const element of kind.value.elements) checkExpr(element, walk);
      return null;
    case 'structExpr':
      for (const entry of kind.value.entries) {
        if (entry.keyKind.case === 'mapKey') checkExpr(entry.keyKind.value, walk);
        if (entry.value) checkExpr(entry.value, walk);
      }
      return null;
    case 'comprehensionExpr': {
      const c = kind.value;
      if (walk.depth + 1 > EXPRESSION_LIMITS.comprehensionDepth) {
        throw new ExpressionError(`comprehensions (exists, all, map, filter) nest more than ${EXPRESSION_LIMITS.comprehensionDepth} deep`, offsetOf(expr));
      }
      checkExpr(c.iterRange!, walk);
      checkExpr(c.accuInit!, walk);
      const inner: Walk = { ...walk, bound: new Set([...bound, c.iterVar, c.iterVar2, c.accuVar].filter(Boolean)), depth: walk.depth + 1 };
      for (const part of [c.loopCondition, c.loopStep, c.result]) if (part) checkExpr(part, inner);
      return null;
    }
    default:
      return null;
  }
}

function selectField(operand: NonNullable<Resolved>, name: string, offset: number): Resolved {
  const { field, path } = operand;
  if (typeof field === 'object') {
    const child = field[name];
    if (child === undefined) {
      throw new ExpressionError(`${path} has no field "${name}" (fields: ${Object.keys(field).join(', ')})`, offset);
    }
    return { field: child, path: `${path}.${name}` };
  }
  if (field === 'map' || field === 'dyn') return null; // wire data: any key may be there
  throw new ExpressionError(`${path} is a ${field === 'list' ? 'list' : field} and has no field "${name}"`, offset);
}

/** True only for a result that is exactly the boolean true (a CelError is an object, and truthy). */
export function matched(result: CelResult): boolean {
  return result === true;
}

export { isCelError };

/** The phase a rule belongs in, and whether its expression can be evaluated there. */
export function phaseProblem(expr: CompiledExpression, phase: Phase): string | null {
  if (phase === 'request' && expr.needsResponse) {
    const named = [...expr.roots].filter((r) => RESPONSE_ONLY.has(r)).join(' and ');
    return `names ${named}, which only the response phase knows: add "phase: response"`;
  }
  return null;
}
