// The mock's matching rules on their own: canonical bodies (key order and ignored paths do
// not matter), recordings served in recorded order then the last again, and a miss naming
// the first differing part of the nearest recording down to the JSON path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalJson, firstDifference, parsePath } from '../../tools/canonical-json.js';
import { llmKey, mcpKey, RecordingPool } from '../../tools/replay-match.js';
import { structuralDiff } from '../../tools/compare.js';

test('canonical JSON ignores key order and the ignored paths, not values', () => {
  const ignored = [parsePath('metadata'), parsePath('messages.*.name')];
  const a = { model: 'm', metadata: { run: 1 }, messages: [{ role: 'user', content: 'hi', name: 'x' }] };
  const b = { messages: [{ content: 'hi', role: 'user', name: 'y' }], model: 'm', metadata: { run: 2 } };
  assert.equal(canonicalJson(a, ignored), canonicalJson(b, ignored));
  assert.notEqual(canonicalJson(a, ignored), canonicalJson({ ...b, model: 'n' }, ignored));
  assert.equal(firstDifference({ a: [1, { b: 2 }] }, { a: [1, { b: 3 }] }), 'a[1].b');
  assert.equal(firstDifference({ a: 1 }, { a: 1 }), null);
});

test('identical requests are served in recorded order, then the last one again', () => {
  const pool = new RecordingPool<string>();
  const key = mcpKey('tools/call', { name: 'echo', arguments: { msg: 'hi' }, _meta: { progressToken: 1 } });
  pool.add('01A', key, 'first');
  pool.add('01B', mcpKey('tools/call', { arguments: { msg: 'hi' }, name: 'echo', _meta: { progressToken: 7 } }), 'second');
  const take = () => {
    const found = pool.take(mcpKey('tools/call', { name: 'echo', arguments: { msg: 'hi' } }));
    return 'hit' in found ? found.hit : null;
  };
  assert.deepEqual([take(), take(), take()], ['first', 'second', 'second']);
});

test('a miss names the first differing part of the recording that agrees on the most leading parts', () => {
  const pool = new RecordingPool<string>();
  const body = (content: string, extra: Record<string, unknown> = {}) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], ...extra });
  pool.add('01A', llmKey('openai', 'POST /v1/chat/completions', body('hello'), []), 'a');
  pool.add('01B', llmKey('openai', 'POST /v1/chat/completions', { ...body('hello'), model: 'gpt-4o', stream: true }, []), 'b');
  const miss = pool.take(llmKey('openai', 'POST /v1/chat/completions', body('hallo'), []));
  assert.ok('miss' in miss);
  assert.equal(miss.miss.field, 'body.messages[0].content');
  assert.equal(miss.miss.nearest, '01A');
  assert.equal(miss.miss.request, '"hallo"');
  assert.equal(miss.miss.recorded, '"hello"');
  const stream = pool.take(llmKey('openai', 'POST /v1/chat/completions', { ...body('hello'), stream: true }, []));
  assert.ok('miss' in stream);
  assert.equal(stream.miss.field, 'stream');
  const empty = new RecordingPool<string>().take(mcpKey('ping', {}));
  assert.ok('miss' in empty);
  assert.equal(empty.miss.nearest, null);
});

test('the replay diff leaves out ids and timestamps and lists differences in document order', () => {
  const before = { id: 'a', created: 1, choices: [{ message: { content: 'x' } }], usage: { prompt_tokens: 1 } };
  const after = { id: 'b', created: 2, choices: [{ message: { content: 'y' } }], usage: { prompt_tokens: 2 } };
  assert.deepEqual(structuralDiff(before, after), [
    { path: 'choices[0].message.content', before: '"x"', after: '"y"' },
    { path: 'usage.prompt_tokens', before: '1', after: '2' },
  ]);
  assert.deepEqual(structuralDiff(before, after, [['usage']]).map((d) => d.path), ['choices[0].message.content']);
  assert.deepEqual(structuralDiff({ id: 1 }, { id: 2 }), []);
});
