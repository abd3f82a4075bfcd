// What the OpenAI adapter learns from streamed chunks: the generated text of chat and legacy
// completion streams (used to estimate tokens when the provider sends no usage), and the
// finish reason, whatever the chunking of choices.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { openaiAdapter } from '../../protocols/llm/openai.js';
import type { SseEvent } from '../../core/sse.js';
import { emptyFacts } from '../../protocols/llm/usage.js';

function feed(path: string, request: Record<string, unknown>, chunks: unknown[]): ReturnType<typeof emptyFacts> {
  const raw = Buffer.from(JSON.stringify(request));
  const call = openaiAdapter.describe(path, request, raw, { addStreamUsage: true });
  assert.ok(call, `the adapter understands ${path}`);
  const facts = emptyFacts();
  for (const data of [...chunks.map((c) => JSON.stringify(c)), '[DONE]']) {
    const event: SseEvent = { event: null, data, id: null, retry: null, raw: `data: ${data}\n\n` };
    call.observeEvent(event, facts);
  }
  return facts;
}

describe('OpenAI stream facts', () => {
  test('legacy completion chunks: the text of every chunk', () => {
    const facts = feed('/v1/completions', { model: 'gpt-3.5-turbo-instruct', prompt: 'Say hi', stream: true }, [
      { id: 'cmpl-1', model: 'gpt-3.5-turbo-instruct', choices: [{ index: 0, text: 'Hello ', finish_reason: null }] },
      { id: 'cmpl-1', model: 'gpt-3.5-turbo-instruct', choices: [{ index: 0, text: 'world', finish_reason: 'stop' }] },
    ]);
    assert.equal(facts.output_text, 'Hello world');
    assert.deepEqual(facts.finish_reasons, ['stop']);
  });

  test('chat chunks with two choices: each choice kept apart', () => {
    const facts = feed('/v1/chat/completions', { model: 'gpt-4o', messages: [], stream: true, n: 2 }, [
      { id: 'c', model: 'gpt-4o', choices: [{ index: 0, delta: { content: 'A1' } }, { index: 1, delta: { content: 'B1' } }] },
      { id: 'c', model: 'gpt-4o', choices: [{ index: 0, delta: { content: 'A2' }, finish_reason: 'stop' }, { index: 1, delta: { content: 'B2' }, finish_reason: 'length' }] },
    ]);
    assert.equal(facts.output_text, 'A1A2\nB1B2');
    assert.deepEqual(facts.finish_reasons, ['stop', 'length']);
  });
});
