// Per-test sidecars for LLM route tests: builds the tapwire.yaml for a few named routes,
// starts the sidecar, and stops it (removing its database) when the test ends.
import type { TestContext } from 'node:test';
import { startTestSidecarFor, type TestSidecar } from './sidecar.js';

export interface RouteSpec {
  upstream: string;
  provider?: 'openai' | 'anthropic';
  /** e.g. { response_ms: 200 } */
  timeouts?: Partial<Record<'connect_ms' | 'response_ms' | 'idle_ms', number>>;
}

export interface RoutesOptions {
  /** Extra top-level YAML (e.g. a `pricing:` or `store:` section). */
  yaml?: string;
}

export function routesYaml(routes: Record<string, RouteSpec>, extra = ''): string {
  const lines = ['routes:'];
  for (const [name, r] of Object.entries(routes)) {
    lines.push(`  ${name}:`, '    protocol: llm', `    upstream: ${r.upstream}`);
    if (r.provider) lines.push(`    provider: ${r.provider}`);
    if (r.timeouts) {
      lines.push('    timeouts:');
      for (const [k, v] of Object.entries(r.timeouts)) lines.push(`      ${k}: ${v}`);
    }
  }
  return extra ? `${lines.join('\n')}\n${extra}` : lines.join('\n');
}

export async function startRoutes(t: TestContext, routes: Record<string, RouteSpec>, options: RoutesOptions = {}): Promise<TestSidecar> {
  return startTestSidecarFor(t, routesYaml(routes, options.yaml));
}


/** The error a promise rejects with; fails the test when it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail, but it succeeded');
}
