// Test harness for provider tests that need a policy: a sidecar with LLM routes to a mock
// upstream and one policy file holding `rules`, both removed when the test ends.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { llmRoutesYaml } from './aimock.js';
import { startTestSidecarFor, type TestSidecar } from './sidecar.js';

/** A sidecar whose LLM routes (name -> upstream and extra YAML lines) are judged by `rules` (policy YAML). */
export async function startTapwireWithPolicy(t: TestContext, routes: Record<string, { upstream: string; extra?: string }>, rules: string): Promise<TestSidecar> {
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-llm-policy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const policy = join(dir, 'policy.yaml');
  writeFileSync(policy, rules);
  const yaml = `policies: [${JSON.stringify(policy)}]\n${llmRoutesYaml(routes)}`;
  return startTestSidecarFor(t, yaml);
}
