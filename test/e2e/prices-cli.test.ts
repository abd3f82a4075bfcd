// `tapwire prices`, the real CLI: the catalog with each entry's source, date and check, a config's
// `pricing:` entry over a built-in one, and (--db) the recorded LLM calls whose model has no
// price, read from a database a sidecar wrote while the `openai` SDK called aimock; `tapwire
// export` of the same database says how many calls are unpriced. A bad config is one line and
// exit 2.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test, type TestContext } from 'node:test';
import OpenAI from 'openai';
import { startAimock, startTapwire } from '../support/aimock.js';
import { CLI, runCli } from '../support/cli.js';
import { tempFile } from '../support/temp-file.js';

const KEY = 'sk-prices-test-key-5772';

const configFile = (t: TestContext, yaml: string): string => tempFile(t, 'tapwire.yaml', yaml);

test('tapwire prices lists the catalog with sources, and a pricing: entry over the built-in one', (t) => {
  const config = configFile(t, 'routes: {}\npricing:\n  - provider: groq\n    model: llama-3.3-70b-versatile\n    input_per_mtok: 0.5\n    output_per_mtok: 0.7\n');
  const all = runCli(['prices']);
  assert.equal(all.status, 0, all.stderr);
  assert.match(all.stdout, /^gemini +gemini-2\.5-pro +1\.25 +10 +0\.125 +- +>200000: 2\.5\/15 +https:\/\/ai\.google\.dev\/gemini-api\/docs\/pricing \(2026-08-21, cross-checked\)$/m);
  assert.match(all.stdout, /^groq +llama-3\.3-70b-versatile +0\.59 +0\.79 .* https:\/\/groq\.com\/pricing \(2026-08-21, cross-checked\)$/m);
  assert.match(all.stdout, /^anthropic +claude-opus-4-5 +5 +25 +0\.5 +6\.25 +- +https:\/\/platform\.claude\.com\/docs\/en\/about-claude\/pricing \(2026-09-01, official\)$/m);

  const overridden = runCli(['prices', '-c', config, '--provider', 'groq']);
  assert.equal(overridden.status, 0, overridden.stderr);
  assert.match(overridden.stdout, /^groq +llama-3\.3-70b-versatile +0\.5 +0\.7 +- +- +- +pricing: in the config$/m);
  assert.doesNotMatch(overridden.stdout, /^(openai|gemini) /m, '--provider keeps one provider');
});

test('tapwire prices --db names the recorded models without a price and how many calls used them', async (t) => {
  const mock = await startAimock([KEY], (m) => {
    m.onMessage(/^priced$/, { content: 'ok', model: 'gpt-4o-mini', usage: { prompt_tokens: 10, completion_tokens: 2 } });
    m.onMessage(/^unpriced$/, { content: 'ok', model: 'my-finetune-7b', usage: { prompt_tokens: 10, completion_tokens: 2 } });
  });
  t.after(() => mock.stop());
  const tapwire = await startTapwire(t, { openai: { upstream: mock.url } });
  const client = new OpenAI({ baseURL: `${tapwire.url}/openai/v1`, apiKey: KEY, maxRetries: 0 });
  await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'priced' }] });
  for (let i = 0; i < 2; i++) await client.chat.completions.create({ model: 'my-finetune-7b', messages: [{ role: 'user', content: 'unpriced' }] });
  assert.equal((await tapwire.stop()).length, 3, 'three recorded calls');

  const listed = runCli(['prices', '--provider', 'openai', '--db', tapwire.dbPath]);
  assert.equal(listed.status, 0, listed.stderr);
  const unpriced = listed.stdout.split('Recorded models without a price')[1] ?? '';
  assert.match(unpriced, /^openai +my-finetune-7b +2$/m);
  assert.doesNotMatch(unpriced, /gpt-4o-mini/);

  const exported = runCli(['export', '--db', tapwire.dbPath, '--format', 'jsonl']);
  assert.equal(exported.status, 0, exported.stderr);
  assert.match(exported.stderr, /^tapwire: exported LLM calls without a price for their model: 2 \(cost_usd null: unknown, not \$0;/m);
  const lines = exported.stdout.trim().split('\n').map((line) => JSON.parse(line) as { exchange: { model: string; cost_usd: number | null } });
  assert.deepEqual(lines.map((l) => [l.exchange.model, l.exchange.cost_usd === null]).sort(), [['gpt-4o-mini', false], ['my-finetune-7b', true], ['my-finetune-7b', true]]);

  const config = configFile(t, 'routes: {}\npricing:\n  - provider: openai\n    model: my-finetune\n    input_per_mtok: 1\n    output_per_mtok: 2\n');
  const covered = runCli(['prices', '-c', config, '--provider', 'openai', '--db', tapwire.dbPath]);
  assert.match(covered.stdout, /Every recorded LLM call with usage has a price\./);
});

test('a reader that stops early (`tapwire prices | head -1`) ends the command quietly: exit 0, no stack trace', () => {
  // The catalog is larger than a pipe's buffer, so tapwire is still writing when head exits.
  const run = spawnSync('bash', ['-c', 'set -o pipefail; "$0" "$1" prices | head -1', process.execPath, CLI], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(run.stdout, 'USD per million tokens\n');
  assert.equal(run.stderr, '');
  assert.equal(run.status, 0, 'tapwire exited 0 (pipefail gives its status)');
});

test('tapwire prices with a bad config: one line naming the field, exit 2', (t) => {
  const config = configFile(t, 'routes: {}\npricing:\n  - provider: groq\n    model: x\n    input_per_mtok: -1\n    output_per_mtok: 1\n');
  const result = runCli(['prices', '-c', config]);
  assert.equal(result.status, 2);
  assert.match(result.stderr, /tapwire\.yaml:5:\d+: pricing\[0\]\.input_per_mtok/);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
});
