// JSON-RPC classification on the wire: requests, notifications, responses, batches, and
// what is not JSON-RPC at all, with the reason a record will carry.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classify, errorResponse, idKey, idText, parseJsonRpc } from '../../core/jsonrpc.js';

describe('JSON-RPC', () => {
  test('tells requests, notifications and responses apart', () => {
    assert.equal(classify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }).kind, 'request');
    assert.equal(classify({ jsonrpc: '2.0', method: 'notifications/initialized' }).kind, 'notification');
    assert.equal(classify({ jsonrpc: '2.0', id: 'a', result: {} }).kind, 'response');
    const error = classify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } });
    assert.deepEqual(error.kind === 'response' && { id: error.id, error: error.error }, {
      id: null,
      error: { code: -32700, message: 'Parse error', data: undefined },
    });
  });

  test('says why something is not JSON-RPC', () => {
    const broken = parseJsonRpc('{"jsonrpc":"2.0",');
    assert.equal(broken.ok, false);
    assert.match(broken.ok ? '' : broken.reason, /^invalid JSON: /);
    assert.deepEqual(parseJsonRpc('[1,2]').ok && parseJsonRpc('[1,2]'), {
      ok: true,
      batch: true,
      messages: [
        { kind: 'invalid', reason: 'not a JSON object', raw: 1 },
        { kind: 'invalid', reason: 'not a JSON object', raw: 2 },
      ],
    });
    assert.deepEqual(parseJsonRpc('{"hello":"world"}'), { ok: false, reason: 'neither a request, a notification nor a response' });
    assert.deepEqual(parseJsonRpc('{"method":"x","id":{}}'), { ok: false, reason: 'request id is neither a string nor a number' });
    assert.deepEqual(parseJsonRpc('[]'), { ok: false, reason: 'empty batch' });
  });

  test('a batch keeps every message in order', () => {
    const parsed = parseJsonRpc('[{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","method":"b"}]');
    assert.ok(parsed.ok);
    assert.equal(parsed.batch, true);
    assert.deepEqual(parsed.messages.map((m) => m.kind), ['request', 'notification']);
  });

  test('ids 1 and "1" are different ids, and are recorded as written', () => {
    assert.notEqual(idKey(1), idKey('1'));
    assert.equal(idText(1), '1');
    assert.equal(idText('1'), '"1"');
    assert.equal(idText(null), null);
  });

  test('error responses are well formed', () => {
    assert.deepEqual(errorResponse(7, -32603, 'boom', { tapwire_error: 'x' }), {
      jsonrpc: '2.0',
      id: 7,
      error: { code: -32603, message: 'boom', data: { tapwire_error: 'x' } },
    });
    assert.deepEqual(errorResponse(null, -32600, 'bad'), { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'bad' } });
  });
});
