// Issue 23 (one sidecar's footprint): `tapwire run` loads the CEL engine (@bufbuild/cel, and
// @bufbuild/protobuf under it) only when the config names policy files. Each case runs the
// CLI as a process with a loader hook that records every specifier it resolves
// (test/support/record-resolutions.ts), on tsc's unbundled tree: in the bundle the packages
// are inlined, and no resolution would show them. One call goes through to a real upstream
// (aimock), so the path a call takes is loaded too, not only the start.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { startAimock, type LLMock } from '../support/aimock.js';
import { startTapwireProcess } from '../support/tapwire-process.js';

const KEY = 'sk-lazy-cel-test';
/** tsc's build of the CLI (dist/cli/cli.js), beside this test's dist/test/integration/. */
const UNBUNDLED_CLI = fileURLToPath(new URL('../../cli/cli.js', import.meta.url));
const RECORDER = fileURLToPath(new URL('../support/record-resolutions.js', import.meta.url));

describe('tapwire run loads CEL only for a config with policy files', () => {
  let mock: LLMock;
  const dirs: string[] = [];
  before(async () => {
    mock = await startAimock([KEY], (m) => m.onMessage(/^hello$/, { content: 'Hello back.' }));
  });
  after(async () => {
    await mock.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Runs the sidecar with `yaml` (plus an openai route to aimock), makes one chat call with
   * `model` through it, stops it, and returns what the agent got and every specifier resolved.
   */
  async function runOnce(yaml: string[], model = 'gpt-4o-mini', dir = mkdtempSync(join(tmpdir(), 'tapwire-lazy-cel-'))): Promise<{ answer: string | null; refused: string | null; resolved: string[] }> {
    dirs.push(dir);
    const resolvedLog = join(dir, 'resolved.txt');
    const tapwire = await startTapwireProcess(dir, [...yaml, 'log: { level: warn }', 'routes:', '  openai:', '    protocol: llm', `    upstream: ${mock.url}`].join('\n'), {
      cli: UNBUNDLED_CLI,
      node: ['--import', RECORDER],
      env: { ...process.env, TAPWIRE_RESOLVED_LOG: resolvedLog },
    });
    const openai = new OpenAI({ baseURL: `${tapwire.url}/openai/v1`, apiKey: KEY, maxRetries: 0 });
    let answer: string | null = null;
    let refused: string | null = null;
    try {
      const completion = await openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'hello' }] });
      answer = completion.choices[0]?.message.content ?? null;
    } catch (err) {
      if (!(err instanceof OpenAI.APIError)) throw err;
      refused = err.message;
    } finally {
      tapwire.child.kill('SIGTERM');
      await tapwire.exited;
    }
    return { answer, refused, resolved: existsSync(resolvedLog) ? readFileSync(resolvedLog, 'utf8').split('\n').filter(Boolean) : [] };
  }

  const celPackages = (resolved: string[]): string[] => [...new Set(resolved.filter((s) => /^@bufbuild\/(cel|protobuf)(\/|$)/.test(s)))].sort();

  test('without policies: the call goes through, and neither @bufbuild/cel nor @bufbuild/protobuf is resolved', async () => {
    const { answer, resolved } = await runOnce([]);
    assert.equal(answer, 'Hello back.');
    // The hook saw the sidecar's own packages: an empty list would prove nothing.
    assert.ok(resolved.includes('undici'), `the hook recorded ${resolved.length} specifiers, without undici`);
    assert.deepEqual(celPackages(resolved), []);
  });

  test('with a policy file: its rules apply, and @bufbuild/cel is resolved', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapwire-lazy-cel-'));
    const policy = join(dir, 'policy.yaml');
    writeFileSync(policy, 'rules:\n  - name: no-gpt-4o\n    when: llm.model == "gpt-4o"\n    action: deny\n');
    const allowed = await runOnce([`policies: [${JSON.stringify(policy)}]`], 'gpt-4o-mini', dir);
    assert.equal(allowed.answer, 'Hello back.');
    assert.ok(celPackages(allowed.resolved).includes('@bufbuild/cel'), `resolved: ${celPackages(allowed.resolved).join(', ')}`);
    const denied = await runOnce([`policies: [${JSON.stringify(policy)}]`], 'gpt-4o', mkdtempSync(join(tmpdir(), 'tapwire-lazy-cel-')));
    assert.equal(denied.answer, null);
    assert.match(denied.refused ?? '', /no-gpt-4o/);
  });
});
