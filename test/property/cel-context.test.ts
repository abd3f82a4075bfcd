// Property-based tests of the CEL context builder and the policy engine's inputs (fast-check):
// for any exchange (live or recorded, any protocol, any field missing or of the wrong type),
// any headers, any request and response body (JSON of any shape, not JSON, not UTF-8) and any
// stream events, building the context never throws, every declared root is present, and
// every rule of the shipped example policies evaluates to true, false or a CEL error value:
// never an exception that would reach the request path.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { isCelError } from '../../policies/cel.js';
import type { ContextSource } from '../../policies/context.js';
import { buildContext } from '../../protocols/cel-context.js';
import { loadPolicyFiles } from '../../policies/load.js';
import { VOCABULARY } from '../../policies/vocabulary.js';

const EXAMPLES = fileURLToPath(new URL('../../../policies/examples/*.yaml', import.meta.url));

const anyJson = fc.jsonValue({ maxDepth: 4 });
const field = fc.oneof(anyJson, fc.string(), fc.integer(), fc.double(), fc.constant(null), fc.constant(undefined));
const jsonRpcBody = fc.record(
  {
    jsonrpc: fc.constant('2.0'),
    id: fc.oneof(fc.integer(), fc.string(), field),
    method: fc.oneof(fc.constantFrom('tools/call', 'tools/list', 'resources/read', 'prompts/get', 'message/send', 'SendMessage', 'tasks/get'), field),
    params: fc.oneof(
      fc.record({ name: field, arguments: field, uri: field, message: fc.oneof(fc.record({ parts: fc.array(fc.record({ text: field, kind: field }), { maxLength: 2 }), taskId: field, contextId: field }), field) }, { requiredKeys: [] }),
      field,
    ),
  },
  { requiredKeys: [] },
);
const body = fc.oneof(
  anyJson.map((v) => JSON.stringify(v) ?? ''),
  jsonRpcBody.map((v) => JSON.stringify(v)),
  fc.record({ model: field, messages: field, tools: field, stream: field, max_tokens: field, input: field }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
  fc.string(),
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
);
const headers = fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), fc.oneof(fc.string(), fc.array(fc.string(), { maxLength: 2 })), { maxKeys: 4 });

const source: fc.Arbitrary<Omit<ContextSource, 'protocols'>> = fc.record({
  exchange: fc.record({
    protocol: fc.constantFrom<'llm' | 'mcp' | 'a2a' | 'http'>('llm', 'mcp', 'a2a', 'http'),
    agent: fc.string(),
    route: fc.string(),
    method: fc.option(fc.string(), { nil: null }),
    target: fc.option(fc.string(), { nil: null }),
    input_tokens: fc.option(fc.oneof(fc.integer(), fc.double()), { nil: null }),
    output_tokens: fc.option(fc.oneof(fc.integer(), fc.double()), { nil: null }),
    cost_usd: fc.option(fc.double(), { nil: null }),
    http_status: fc.option(fc.integer(), { nil: null }),
    started_at: fc.integer(),
    direction: fc.constantFrom<'client_to_server' | 'server_to_client'>('client_to_server', 'server_to_client'),
  }),
  request: fc.option(fc.record({ headers: fc.option(headers, { nil: null }), body: fc.option(body, { nil: null }) }), { nil: null }),
  response: fc.option(fc.record({ headers: fc.option(headers, { nil: null }), body: fc.option(body, { nil: null }) }), { nil: null }),
  events: fc.option(fc.array(fc.record({ data: fc.oneof(fc.string(), anyJson.map((v) => JSON.stringify(v) ?? '')) }), { maxLength: 4 }), { nil: null }),
  agentLabels: fc.dictionary(fc.string(), fc.string(), { maxKeys: 2 }),
  routeUpstream: fc.webUrl(),
  path: fc.string(),
  jwtClaims: fc.option(fc.dictionary(fc.string(), anyJson, { maxKeys: 3 }), { nil: null }),
});

describe('CEL context properties', () => {
  const rules = loadPolicyFiles([EXAMPLES]).flatMap((file) => file.rules);

  test('any exchange builds a full context, and every example rule evaluates to a value', () => {
    assert.ok(rules.length >= 5, 'the example policies were loaded');
    fc.assert(
      fc.property(source, (s) => {
        const bindings = buildContext(s);
        for (const root of Object.keys(VOCABULARY)) assert.ok(root in bindings, `context has ${root}`);
        for (const rule of rules) {
          const result = rule.when.evaluate(bindings);
          assert.ok(typeof result === 'boolean' || isCelError(result), `${rule.name}: ${JSON.stringify(result)}`);
          if (rule.limit?.key) rule.limit.key.evaluate(bindings);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
