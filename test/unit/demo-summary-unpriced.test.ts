// The demo summary's cost column: calls whose model has no price are counted apart, never
// folded into the sum as $0.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatSummary, type DemoSummary, type ProtocolTotals } from '../../demo/summary.js';

function totals(protocol: string, cost_usd: number, unpriced: number): ProtocolTotals {
  return { protocol, exchanges: 3, errors: 0, denied: 0, flagged: 0, input_tokens: 30, output_tokens: 9, cost_usd, unpriced };
}

function summary(unpriced: number): DemoSummary {
  return { protocols: [totals('llm', 0.0012, unpriced)], total: totals('total', 0.0012, unpriced), policyEvents: [], slowest: [] };
}

describe('demo summary costs', () => {
  test('unpriced LLM calls are shown next to the priced sum, with a note saying their cost is unknown', () => {
    const text = formatSummary(summary(2), 'tapwire.db');
    assert.match(text, /^ {2}llm +3 +0 +0 +0 +30 +9 +\$0\.001200 \+ 2 unpriced$/m);
    assert.match(text, /2 LLM call\(s\) used a model without a price: their cost is unknown, not \$0/);
  });

  test('when every call is priced, the cost is the sum alone', () => {
    const text = formatSummary(summary(0), 'tapwire.db');
    assert.match(text, /^ {2}llm +3 +0 +0 +0 +30 +9 +\$0\.001200$/m);
    assert.doesNotMatch(text, /unpriced|without a price/);
  });
});
