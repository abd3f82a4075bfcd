// The load-time type check (policies/check.ts) against what CEL does at run time, over every
// combination of: operators, functions, methods, indexing, logic and macros
// applied to literals and vocabulary fields of every type, an expression the check refuses
// fails every time it runs (the check never refuses what CEL would run), and one it accepts
// whose operands all have declared types never fails for want of an overload (the check
// catches every such mistake before a policy is loaded).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isCelError, parse, plan } from '@bufbuild/cel';
import { CEL_ENV, compileExpression, ExpressionError } from '../../policies/cel.js';
import { testContext } from '../../policies/testing.js';
import { PROTOCOL_CONTEXTS } from '../../protocols/registry.js';

/** Operands, one or two of each type: CEL text, and whether its type is declared (false: dyn, wire data). */
const OPERANDS: [string, boolean][] = [
  ['1', true], ['2u', true], ['1.5', true], ['"k"', true], ['true', true], ['b"xy"', true], ['null', true], ['[1, "a"]', true], ['{"k": 1}', true],
  ['duration("1h")', true], ['timestamp("2026-01-01T00:00:00Z")', true], ['usage.output_tokens', true], ['usage.cost_usd', true], ['mcp.tool', true],
  ['llm.stream', true], ['now', true], ['llm.messages', true], ['request.headers', true], ['agent', true],
  ['mcp.arguments', false], ['mcp.arguments.path', false], ['mcp.arguments.n', false],
];

const CONTEXT = testContext({
  protocol: 'mcp',
  mcp: { method: 'tools/call', tool: 'read', arguments: { path: '/etc/x', n: 3 } },
  usage: { output_tokens: 1200, cost_usd: 0.5 },
  llm: { messages: [{ role: 'user' }] },
  request: { headers: { 'x-a': '1' }, body: { messages: [{ role: 'user', content: 'hi' }] } },
  response: { status: 200 },
}, PROTOCOL_CONTEXTS);

type Form = (a: string, b: string) => string;
const BINARY: Form[] = [
  ...['+', '-', '*', '/', '%', '<', '<=', '>', '>=', '==', '!=', 'in'].map((op): Form => (a, b) => `(${a}) ${op} (${b})`),
  ...['matches', 'startsWith', 'contains', 'split', 'indexOf', 'getHours'].map((m): Form => (a, b) => `(${a}).${m}(${b})`),
  (a, b) => `(${a})[${b}]`,
];
const UNARY: Form[] = [
  (a) => `-(${a})`,
  (a) => `!(${a})`,
  ...['size', 'int', 'uint', 'double', 'string', 'bytes', 'bool', 'timestamp', 'duration', 'dyn'].map((f): Form => (a) => `${f}(${a})`),
  ...['size', 'lowerAscii', 'trim', 'getHours', 'getFullYear', 'getSeconds'].map((m): Form => (a) => `(${a}).${m}()`),
  (a) => `true && (${a})`,
  (a) => `(${a}) && true`,
  (a) => `false || (${a})`,
  (a) => `(${a}) || false`,
  (a) => `(${a}) ? 1 : 2`,
  (a) => `(${a}).exists(x, true)`,
  (a) => `(${a}).map(x, x)`,
  (a) => `(${a}).field`,
];

/** Runs an expression as CEL does, without tapwire's check. */
function run(source: string): unknown {
  return plan(CEL_ENV, parse(source))(CONTEXT as Parameters<ReturnType<typeof plan>>[0]);
}

describe('the type check against CEL at run time', () => {
  test('refused: it fails when run; accepted with declared operand types: no overload is ever missing', () => {
    let refused = 0;
    let accepted = 0;
    const cases = [
      ...UNARY.flatMap((form) => OPERANDS.map(([a, declared]) => ({ source: form(a, ''), declared }))),
      ...BINARY.flatMap((form) => OPERANDS.flatMap(([a, aDeclared]) => OPERANDS.map(([b, bDeclared]) => ({ source: form(a, b), declared: aDeclared && bDeclared })))),
    ];
    for (const { source, declared } of cases) {
      let problem: ExpressionError | null = null;
      try {
        compileExpression(source);
      } catch (err) {
        if (!(err instanceof ExpressionError)) throw err;
        problem = err;
      }
      const result = run(source);
      if (problem) {
        refused++;
        assert.ok(isCelError(result), `${source}: refused (${problem.message}) but CEL runs it: ${String(result)}`);
      } else {
        accepted++;
        if (declared && isCelError(result)) assert.doesNotMatch(result.message, /no matching overload|no such overload/, `${source}: accepted, but CEL finds no overload`);
      }
    }
    assert.ok(refused > 1000 && accepted > 1000, `both sides exercised: ${refused} refused, ${accepted} accepted`);
  });
});
