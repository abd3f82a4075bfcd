// `tapwire replay` under a redact rule: the live answer passes the same redaction as the
// record before it is compared and printed, so an answer that only carries the masked
// e-mail again shows no difference, a real change elsewhere is still reported (masked),
// and nothing the command prints holds the e-mail. A replay the upstream refuses (it is
// gone: 502) makes the command exit 1. Real openai SDK calls against aimock, the real
// command as a child process.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import OpenAI from 'openai';
import { startAimock } from '../support/aimock.js';
import { CLI } from '../support/cli.js';
import { startTestSidecar } from '../support/sidecar.js';
import { openDatabase } from '../../store/sqlite/db.js';

const run = promisify(execFile);
const KEY = 'sk-redaction-replay-3333';
const EMAIL = /[a-z]+@example\.com/;

async function replay(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(process.execPath, [CLI, 'replay', ...args]).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
  );
}

test('replay redacts the live answer like the record: no false difference, no e-mail printed, real differences still shown', async (t) => {
  const llm = await startAimock([KEY], (m) => {
    m.onMessage(/^who do I write to$/, { content: 'Write to bob@example.com today.', usage: { prompt_tokens: 5, completion_tokens: 6 } });
    m.onMessage(/^who knows$/, { content: 'Ask alice@example.com, she knows.', usage: { prompt_tokens: 3, completion_tokens: 6 } });
  });
  let upstreamRunning = true;
  t.after(() => (upstreamRunning ? llm.stop() : undefined));
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-replay-redaction-'));
  writeFileSync(join(dir, 'redact.yaml'), ['rules:', '  - name: mask-emails', '    when: protocol == "llm"', '    action: redact', "    redact: { patterns: ['[a-z]+@example\\.com'] }", ''].join('\n'));
  const yaml = [`policies: [${JSON.stringify(join(dir, 'redact.yaml'))}]`, 'routes:', '  openai:', '    protocol: llm', `    upstream: ${llm.url}`, '    provider: openai', '    headers:', `      authorization: "Bearer ${KEY}"`].join('\n');
  const config = join(dir, 'tapwire.yaml');
  writeFileSync(config, yaml);
  const tapwire = await startTestSidecar(yaml, process.env, { dir });
  t.after(() => tapwire.cleanup());
  const openai = new OpenAI({ baseURL: `${tapwire.url}/openai/v1`, apiKey: 'agent-has-no-key', maxRetries: 0 });
  for (const question of ['who do I write to', 'who knows']) {
    const answer = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: question }] });
    assert.match(answer.choices[0]!.message.content ?? '', EMAIL, 'the agent got the e-mail: redaction masks the record only');
  }
  await tapwire.stop();
  const db = openDatabase(tapwire.dbPath, { readonly: true });
  const [same, changed] = db.prepare("SELECT id FROM exchanges WHERE protocol = 'llm' ORDER BY id").pluck().all() as string[];
  db.close();

  // The second answer changes where no e-mail is; the first comes back as recorded.
  llm.clearFixtures();
  llm.onMessage(/^who do I write to$/, { content: 'Write to bob@example.com today.', usage: { prompt_tokens: 5, completion_tokens: 6 } });
  llm.onMessage(/^who knows$/, { content: 'Ask alice@example.com, he knows.', usage: { prompt_tokens: 3, completion_tokens: 6 } });
  const result = await replay(['--db', tapwire.dbPath, '-c', config, same!, changed!]);
  assert.equal(result.code, 0, result.stderr);
  assert.doesNotMatch(result.stdout + result.stderr, EMAIL);
  const [first, second] = result.stdout.split(/\n(?=\S)/);
  assert.match(first!, new RegExp(`^${same} → \\w{26}  llm openai POST /v1/chat/completions gpt-4o-mini\n  status   200 → 200\n`));
  assert.match(first!, /body {5}same/);
  assert.match(second!, new RegExp(`^${changed} → `));
  assert.match(second!, /body {5}differs:\n {4}choices\[0\]\.message\.content: "Ask \[redacted\], she knows\." → "Ask \[redacted\], he knows\."\n/);

  // The upstream is gone: the sidecar answers 502 where the record has 200, a failed replay.
  await llm.stop();
  upstreamRunning = false;
  const refused = await replay(['--db', tapwire.dbPath, '-c', config, same!]);
  assert.equal(refused.code, 1);
  assert.match(refused.stdout, /status {3}200 → 502 {2}\(failed\)\n/);
  assert.equal(refused.stderr, 'tapwire replay: 1 of 1 replays failed\n');
});
