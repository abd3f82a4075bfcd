// Test harness for provider tests that need a policy: a sidecar with LLM routes to a mock
// upstream and one policy file holding `rules`, both removed when the test ends.
import type { TestContext } from 'node:test';
import { llmRoutesYaml } from './aimock.js';
import { startWithPolicy } from './policy-sidecar.js';
import type { TestSidecar } from './sidecar.js';

/** A sidecar whose LLM routes (name -> upstream and extra YAML lines) are judged by `rules` (policy YAML). */
export async function startTapwireWithPolicy(t: TestContext, routes: Record<string, { upstream: string; extra?: string }>, rules: string): Promise<TestSidecar> {
  return startWithPolicy(t, llmRoutesYaml(routes), rules);
}
