// Cost from the price table: exact and prefix (dated snapshot) matches, cached input priced
// apart, config overrides winning over the built-in table.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PriceBook } from '../../protocols/llm/pricing.js';
import { BUILT_IN_PRICES } from '../../protocols/llm/providers.js';

const usage = (input: number, output: number, cacheRead = 0, cacheWrite = 0) => ({
  input_tokens: input,
  output_tokens: output,
  cache_read_tokens: cacheRead,
  cache_write_tokens: cacheWrite,
  reasoning_tokens: null,
});

describe('PriceBook', () => {
  const book = new PriceBook();

  test('a dated snapshot takes its family price; the longest prefix wins', () => {
    assert.equal(book.lookup('openai', 'gpt-4o-2024-08-06'), BUILT_IN_PRICES.openai['gpt-4o']);
    assert.equal(book.lookup('openai', 'gpt-4o-mini-2024-07-18'), BUILT_IN_PRICES.openai['gpt-4o-mini']);
    assert.equal(book.lookup('anthropic', 'claude-sonnet-4-5-20250929'), BUILT_IN_PRICES.anthropic['claude-sonnet-4-5']);
    assert.equal(book.lookup('openai', 'my-finetune'), null);
  });

  test("Gemini 2.5 Pro above 200k input tokens: the long-context rates, for the whole call", () => {
    const p = BUILT_IN_PRICES.gemini['gemini-2.5-pro']!;
    assert.equal(book.cost('gemini', 'gemini-2.5-pro', usage(200_000, 1000, 100_000)), (100_000 * 1.25 + 100_000 * 0.125 + 1000 * 10) / 1e6);
    assert.equal(book.cost('gemini', 'gemini-2.5-pro', usage(200_001, 1000, 100_000)), (100_001 * 2.5 + 100_000 * 0.25 + 1000 * 15) / 1e6);
    assert.deepEqual(p.long_context, { above_input_tokens: 200_000, input: 2.5, output: 15, cache_read: 0.25 });
    assert.equal(book.lookup('gemini', 'gemini-2.5-flash-lite-preview-09-2025'), BUILT_IN_PRICES.gemini['gemini-2.5-flash-lite']);
  });

  test('cached input is priced at the cache rates, the rest at the input rate', () => {
    const p = BUILT_IN_PRICES.anthropic['claude-haiku-4-5']!;
    const cost = book.cost('anthropic', 'claude-haiku-4-5', usage(1000, 200, 600, 300));
    assert.equal(cost, (100 * p.input + 600 * p.cache_read! + 300 * p.cache_write! + 200 * p.output) / 1e6);
  });

  test('an unknown model has no cost rather than a wrong one', () => {
    assert.equal(book.cost('openai', 'unknown-model', usage(10, 10)), null);
    assert.equal(book.cost('openai', null, usage(10, 10)), null);
  });

  test('a family prices its snapshots only up to a separator: a newer version is unpriced, not the older price', () => {
    assert.equal(book.lookup('openai', 'gpt-5.5-2026-04-24'), BUILT_IN_PRICES.openai['gpt-5.5']);
    assert.equal(book.lookup('openai', 'o1-pro-2025-03-19'), BUILT_IN_PRICES.openai['o1-pro']);
    assert.equal(book.lookup('openai', 'gpt-5.9'), null, 'not gpt-5');
    assert.equal(book.lookup('vertex_ai', 'claude-sonnet-4-5@20250929'), BUILT_IN_PRICES.vertex_ai['claude-sonnet-4-5']);
    assert.equal(book.lookup('bedrock', 'us.anthropic.claude-haiku-4-5-20251001-v1:0'), BUILT_IN_PRICES.bedrock['us.anthropic.claude-haiku-4-5']);
  });

  test("OpenAI above 272k input tokens and Haiku 5.5 above 100k: the tier's rates, cache writes included", () => {
    assert.equal(book.cost('openai', 'gpt-5.4', usage(272_000, 1000, 72_000)), (200_000 * 2.5 + 72_000 * 0.25 + 1000 * 15) / 1e6);
    assert.equal(book.cost('openai', 'gpt-5.4', usage(272_001, 1000, 72_000)), (200_001 * 5 + 72_000 * 0.5 + 1000 * 22.5) / 1e6);
    assert.equal(book.cost('anthropic', 'claude-haiku-5-5', usage(100_001, 10, 50_000, 1)), (50_000 * 0.5 + 50_000 * 0.05 + 1 * 0.625 + 10 * 2.5) / 1e6);
  });

  test('Bedrock: Claude 4.5 and later cost 10% more on regional endpoints than on a global. profile', () => {
    const cost = (model: string) => book.cost('bedrock', model, usage(1_000_000, 1_000_000));
    assert.equal(cost('global.anthropic.claude-sonnet-4-5-20250929-v1:0'), 18);
    assert.equal(cost('us.anthropic.claude-sonnet-4-5-20250929-v1:0'), 19.8);
    assert.equal(cost('anthropic.claude-sonnet-4-5-20250929-v1:0'), 19.8);
    assert.equal(cost('us.anthropic.claude-sonnet-4-20250514-v1:0'), 18, 'Sonnet 4: one price everywhere');
  });

  test('config overrides replace built-in prices and add new models', () => {
    const custom = new PriceBook([
      { provider: 'openai', model: 'gpt-4o', input_per_mtok: 1, output_per_mtok: 2 },
      { provider: 'local', model: 'llama', input_per_mtok: 0.1, output_per_mtok: 0.2, cache_read_per_mtok: 0.01 },
    ]);
    assert.equal(custom.cost('openai', 'gpt-4o-2024-08-06', usage(1_000_000, 1_000_000)), 3);
    assert.equal(custom.cost('local', 'llama-3', usage(1_000_000, 0, 1_000_000)), 0.01);
  });
});
