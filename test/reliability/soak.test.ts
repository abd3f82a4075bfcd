// The soak test at its --quick size (50 clients for 12 s; `npm run soak` runs 200 for 60 s):
// mixed LLM / MCP / A2A traffic with real SDK clients and peers through one tapwire
// process. No request fails (each kind succeeds direct first), every request has exactly
// one exchange row, tapwire stops cleanly on SIGTERM with a sound database, and its
// memory after warm-up (RSS right after a full garbage collection) grows by no more than 20%.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QUICK_SOAK, runSoak } from '../support/soak.js';

test('soak (quick): mixed traffic, no failure, one row per request, flat memory', async () => {
  const result = await runSoak(QUICK_SOAK);
  assert.ok(result.requests.llm > 0 && result.requests.mcp > 0 && result.requests.a2a > 0, JSON.stringify(result.requests));
  assert.equal(result.failed, 0, result.failures.join('\n'));
  assert.deepEqual(result.mismatches, []);
  assert.equal(result.rows.mcp, result.requests.mcp);
  assert.equal(result.rows.a2a, result.requests.a2a);
  assert.equal(result.rows.llm, result.requests.llm);
  assert.equal(result.integrity, 'ok');
  assert.equal(result.exitCode, 0);
  const { growth } = result.memory.collected;
  assert.ok(growth <= 0.2, `memory grew ${Math.round(growth * 100)}% after warm-up: ${JSON.stringify(result.memory)}`);
});
