// Test helpers for policies: a policy file that lives as long as a test, and a test sidecar
// judged by one.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { startTestSidecarFor, type TestSidecar, type TestSidecarOptions } from './sidecar.js';
import { tempFile } from './temp-file.js';

/** Writes `rules` (policy YAML) to a file of its own, removed when `t` ends, and returns its path. */
export function writePolicyFile(t: TestContext, rules: string): string {
  return tempFile(t, 'policy.yaml', rules);
}

/**
 * A test sidecar configured by `yaml` (a tapwire.yaml without `policies:`, listen or
 * store.path) and judged by one policy file holding `rules`, written next to its database;
 * stopped and removed when `t` ends (the policy file is removed only after the stop, so the
 * policy watcher sees no change while the sidecar runs).
 */
export async function startWithPolicy(
  t: TestContext,
  yaml: string,
  rules: string,
  env: NodeJS.ProcessEnv = process.env,
  options: Omit<TestSidecarOptions, 'dir'> = {},
): Promise<TestSidecar> {
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-policy-'));
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, rules);
  const config = `policies: [${JSON.stringify(file)}]\n${yaml}`;
  try {
    return await startTestSidecarFor(t, config, env, { ...options, dir });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
