// Property-based tests of the small parsers on tapwire's request path (fast-check): the
// JSON-RPC classifier, the JSON depth guard, the dot-segment check and the token estimate's
// cutting. Whatever the input, they never throw, and each agrees with a plain statement of
// what it must do.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { hasDotSegment } from '../../proxy/inbound.js';
import { MAX_JSON_DEPTH, nestsDeeperThan, parseJson } from '../../core/json-body.js';
import { classify, idKey, idText, parseJsonRpc } from '../../core/jsonrpc.js';
import { MAX_RUN, tokenPieces } from '../../core/tokenizer.js';

function depth(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  const children = Array.isArray(value) ? value : Object.values(value as Record<string, unknown>);
  return 1 + Math.max(0, ...children.map(depth));
}

const jsonRpcish = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.record({ jsonrpc: fc.constant('2.0'), id: fc.oneof(fc.integer(), fc.string(), fc.double(), fc.constant(null), fc.jsonValue({ maxDepth: 1 })), method: fc.oneof(fc.string(), fc.integer()), params: fc.jsonValue({ maxDepth: 2 }), result: fc.jsonValue({ maxDepth: 2 }), error: fc.jsonValue({ maxDepth: 2 }) }, { requiredKeys: [] }),
);

describe('parser properties', () => {
  test('JSON-RPC: any text parses or says why; every message is classified with well-typed fields', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), jsonRpcish.map((v) => JSON.stringify(v)), fc.array(jsonRpcish, { maxLength: 4 }).map((v) => JSON.stringify(v))), (text) => {
        const parsed = parseJsonRpc(text);
        if (!parsed.ok) return assert.equal(typeof parsed.reason, 'string');
        for (const message of parsed.messages) {
          if (message.kind === 'request') {
            assert.equal(typeof message.method, 'string');
            assert.ok(typeof message.id === 'string' || Number.isFinite(message.id));
            assert.equal(typeof idText(message.id), 'string');
          } else if (message.kind === 'notification') assert.equal(typeof message.method, 'string');
          else if (message.kind === 'response') assert.ok(message.error === null || (typeof message.error.code === 'number' && typeof message.error.message === 'string'));
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('JSON-RPC: ids 1 and "1" never share a key; the same id always does', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer(), fc.string()), fc.oneof(fc.integer(), fc.string()), (a, b) => {
        assert.equal(idKey(a) === idKey(b), a === b);
        assert.equal(classify({ jsonrpc: '2.0', id: a, method: 'm' }).kind, 'request');
      }),
    );
  });

  test('the depth guard agrees with the depth of the parsed value, strings and escapes included', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), fc.integer({ min: 0, max: 8 }), (value, limit) => {
        const text = JSON.stringify(value);
        assert.equal(nestsDeeperThan(text, limit), depth(value) > limit);
      }),
      { numRuns: 2000 },
    );
    const deep = `${'['.repeat(MAX_JSON_DEPTH + 1)}${']'.repeat(MAX_JSON_DEPTH + 1)}`;
    assert.throws(() => parseJson(deep), /nested deeper than 512 levels/);
    assert.equal(depth(parseJson(deep.slice(1, -1))), MAX_JSON_DEPTH);
  });

  test('dot segments are found however they are encoded; paths without them pass', () => {
    const segment = fc.string({ minLength: 1, maxLength: 6 }).filter((s) => !/[/\\%?]/.test(s) && s !== '.' && s !== '..');
    const dots = fc.constantFrom('..', '.', '%2e%2e', '%2E.', '.%2e', '%2e', '%252e%252e', '%25252e');
    const slash = fc.constantFrom('/', '%2f', '%2F', '\\', '%5c', '%255c');
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 4 }), fc.array(segment, { maxLength: 4 }), dots, slash, fc.boolean(), (before, after, dot, sep, last) => {
        const clean = `/${[...before, ...after].join('/')}`;
        assert.equal(hasDotSegment(clean), false, clean);
        const traversal = last ? `/${[...before, dot].join('/')}` : `/${before.join('/')}${before.length > 0 ? '/' : ''}${dot}${sep}${after.join('/')}`;
        assert.equal(hasDotSegment(traversal), true, traversal);
      }),
      { numRuns: 2000 },
    );
  });

  test('token pieces are the text, cut into runs the BPE handles in bounded time', () => {
    const text = fc.oneof(fc.string({ maxLength: 6000 }), fc.stringMatching(/^[a-z ]{0,5000}$/), fc.integer({ min: 0, max: 9000 }).map((n) => 'x'.repeat(n) + ' y'));
    fc.assert(
      fc.property(text, (t) => {
        const pieces = tokenPieces(t);
        assert.equal(pieces.join(''), t);
        for (const piece of pieces) {
          assert.ok(piece.length <= 4096, `a piece of ${piece.length}`);
          for (const run of piece.split(/[ \n\r\t]/)) assert.ok(run.length <= MAX_RUN, `a run of ${run.length}`);
        }
      }),
      { numRuns: 500 },
    );
  });
});
