// The built-in price catalog as a finance team reads it: every entry says where its numbers
// come from (a URL, an ISO date, how it was checked, and for a cross-check the sources that
// agree), and no price is negative or a long-context tier malformed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BUILT_IN_PRICES } from '../../protocols/llm/providers.js';

const entries = Object.entries(BUILT_IN_PRICES).flatMap(([provider, models]) => Object.entries(models).map(([model, price]) => ({ provider, model, price })));

/** A real calendar day written YYYY-MM-DD. */
function isIsoDay(date: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(date) && new Date(`${date}T00:00:00Z`).toISOString().startsWith(date);
}

test('the catalog has entries for every provider that lists prices', () => {
  const priced = new Set(entries.map((e) => e.provider));
  for (const provider of ['openai', 'anthropic', 'gemini', 'vertex_ai', 'azure_openai', 'bedrock', 'groq', 'mistral', 'deepseek', 'openrouter', 'together', 'fireworks']) {
    assert.ok(priced.has(provider), `${provider} has built-in prices`);
  }
});

test('every built-in entry has a source: an https URL, an ISO date, how it was checked', () => {
  for (const { provider, model, price } of entries) {
    const where = `${provider} ${model}`;
    assert.ok(price.source, `${where} has a source`);
    const { url, date, checked, against = [] } = price.source;
    assert.match(url, /^https:\/\/[^\s]+$/, `${where}: url`);
    assert.ok(isIsoDay(date), `${where}: date ${date} is YYYY-MM-DD`);
    assert.ok(['official', 'cross-checked', 'unverified'].includes(checked), `${where}: checked ${checked}`);
    if (checked === 'cross-checked') assert.ok(against.length >= 2, `${where}: a cross-check names at least two sources`);
    assert.ok(!against.includes(url) && new Set(against).size === against.length, `${where}: each source it was checked against is another one`);
    for (const other of against) assert.match(other, /^https:\/\/[^\s]+$/, `${where}: against ${other}`);
  }
});

test('every built-in price is a non-negative number, and a long-context tier starts above some tokens', () => {
  const rates = (o: object): [string, unknown][] => Object.entries(o).filter(([key]) => key !== 'source' && key !== 'long_context' && key !== 'above_input_tokens');
  for (const { provider, model, price } of entries) {
    const where = `${provider} ${model}`;
    assert.ok(Number.isFinite(price.input) && price.input >= 0, `${where}: input`);
    assert.ok(Number.isFinite(price.output) && price.output >= 0, `${where}: output`);
    for (const [key, value] of rates(price)) assert.ok(typeof value === 'number' && Number.isFinite(value) && value >= 0, `${where}: ${key} = ${String(value)}`);
    const tier = price.long_context;
    if (!tier) continue;
    assert.ok(Number.isInteger(tier.above_input_tokens) && tier.above_input_tokens > 0, `${where}: tier threshold`);
    for (const [key, value] of rates(tier)) assert.ok(typeof value === 'number' && Number.isFinite(value) && value >= 0, `${where}: long_context.${key}`);
  }
});
