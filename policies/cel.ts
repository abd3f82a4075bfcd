// CEL on @bufbuild/cel: the environment every expression runs in (the strings extension,
// and `timestamp(int)` read as Unix seconds, which 0.6.1 reads as milliseconds), and
// compiling an expression once: parsed, checked (check.ts: names, bounds and types, with
// the column inside the expression) and planned.
import { celEnv, celFunc, CelScalar, isCelError, objectType, parse, plan, type CelEnv, type CelResult } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import { timestampFromMs, TimestampSchema } from '@bufbuild/protobuf/wkt';
import { bracketProblem } from './brackets.js';
import { checkExpression, EXPRESSION_LIMITS, ExpressionError, type Kind } from './check.js';
import { PROTOCOL_ROOTS, RESPONSE_ONLY, type Phase } from './vocabulary.js';

export { EXPRESSION_LIMITS, ExpressionError };

/** `timestamp(1700000000)` is that many seconds after the epoch, as the CEL spec says. */
const timestampFromSeconds = celFunc('timestamp', [CelScalar.INT], objectType(TimestampSchema), (seconds) => timestampFromMs(Number(seconds) * 1000));

export const CEL_ENV: CelEnv = celEnv({ funcs: [...strings, timestampFromSeconds] });

export type Bindings = Record<string, unknown>;

export interface CompiledExpression {
  readonly source: string;
  /** The top-level variables it names. */
  readonly roots: ReadonlySet<string>;
  /** The kind of value it gives, as far as the check can tell ("dyn": only evaluating it tells). */
  readonly kind: Kind;
  /** The protocols it can apply to (null: any), from the protocol-specific variables it names. */
  readonly protocols: ReadonlySet<string> | null;
  /** True when it names response or usage fields. */
  readonly needsResponse: boolean;
  evaluate(bindings: Bindings): CelResult;
}

/** Parses, checks and plans an expression; throws ExpressionError with the offset of the problem. */
export function compileExpression(source: string): CompiledExpression {
  if (source.length > EXPRESSION_LIMITS.chars) {
    throw new ExpressionError(`the expression is ${source.length} characters long; the limit is ${EXPRESSION_LIMITS.chars}`, EXPRESSION_LIMITS.chars);
  }
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(source);
  } catch (err) {
    // The parser reports an unclosed bracket where it gave up, often far from the bracket.
    const brackets = bracketProblem(source);
    if (brackets) throw new ExpressionError(`syntax error: ${brackets.message}`, brackets.offset);
    const e = err as Error & { location?: { start?: { offset?: number } } };
    const message = e.message.replace(/^<input>:\d+:\d+: /, '');
    throw new ExpressionError(`syntax error: ${message}`, e.location?.start?.offset ?? 0);
  }
  const positions = parsed.sourceInfo?.positions ?? {};
  const { roots, kind } = checkExpression(parsed.expr, CEL_ENV, (expr) => positions[String(expr.id)] ?? 0);
  const program = plan(CEL_ENV, parsed);
  const protocolRoots = [...roots].filter((r) => PROTOCOL_ROOTS[r] !== undefined).map((r) => PROTOCOL_ROOTS[r]!);
  return {
    source,
    roots,
    kind,
    protocols: protocolRoots.length > 0 ? new Set(protocolRoots) : null,
    needsResponse: [...roots].some((r) => RESPONSE_ONLY.has(r)),
    evaluate: (bindings) => program(bindings as Parameters<typeof program>[0]),
  };
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
