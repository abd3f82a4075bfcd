// Test harness for LLM integration tests: starts the mock LLM server @copilotkit/aimock on an
// ephemeral loopback port, starts a tapwire sidecar per test whose routes point at it, and
// helps compare what an SDK got straight from the mock with what it got through tapwire.
import type { TestContext } from 'node:test';
import { LLMock, type JournalEntry } from '@copilotkit/aimock';
import type { Exchange } from '../../core/exchange.js';
import { BUILT_IN_PRICES, type ProviderName } from '../../protocols/llm/providers.js';
import { startTestSidecarFor, type TestSidecar } from './sidecar.js';

export { LLMock, type JournalEntry };

/**
 * Starts aimock after `setup` registered its fixtures and mounts; stop it with `mock.stop()`.
 * aimock accepts only `apiKeys` (its own `auth` option, answering 401 to any other key), so a
 * request that reached a fixture proves the upstream got one of those exact keys. Its
 * journal cannot show that: it redacts credential headers itself.
 */
export async function startAimock(apiKeys: string[], setup: (mock: LLMock) => void): Promise<LLMock> {
  const mock = new LLMock({ host: '127.0.0.1', port: 0, logLevel: 'silent', auth: { apiKeys } });
  setup(mock);
  await mock.start();
  return mock;
}

/**
 * Starts a sidecar for one test with the given LLM routes (name -> upstream URL, plus extra
 * YAML lines per route) and stops it, removing its database, when the test ends.
 */
export async function startTapwire(
  t: TestContext,
  routes: Record<string, { upstream: string; extra?: string }>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<TestSidecar> {
  return startTestSidecarFor(t, llmRoutesYaml(routes), env);
}

/** The config's `routes:` section for LLM routes (name -> upstream URL, plus extra YAML lines per route). */
export function llmRoutesYaml(routes: Record<string, { upstream: string; extra?: string }>): string {
  return [
    'routes:',
    ...Object.entries(routes).flatMap(([name, r]) => [
      `  ${name}:`,
      '    protocol: llm',
      `    upstream: ${r.upstream}`,
      ...(r.extra ? r.extra.split('\n').map((line) => `    ${line}`) : []),
    ]),
  ].join('\n');
}


/** Runs `call` with a fresh aimock journal and returns its result with the requests upstream saw. */
export async function withJournal<T>(mock: LLMock, call: () => Promise<T>): Promise<{ result: T; upstream: JournalEntry[] }> {
  mock.clearRequests();
  const result = await call();
  return { result, upstream: mock.getRequests() };
}

/** Collects everything an async iterable (an SDK stream) yields. */
export async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of stream) out.push(item);
  return out;
}

/**
 * A deep copy of `value` in which every string matching `pattern` (an id aimock randomises on
 * each call and that no fixture field can pin) becomes `<id-N>`, numbered by first
 * appearance. Two results with the same ids in the same places normalise equal; a result
 * whose ids are mixed up between places does not.
 */
export function canonicalIds<T>(value: T, pattern: RegExp): T {
  const seen = new Map<string, string>();
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string' && pattern.test(v)) {
      let name = seen.get(v);
      if (!name) seen.set(v, (name = `<id-${seen.size + 1}>`));
      return name;
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, item]) => [k, walk(item)]));
    return v;
  };
  return walk(value) as T;
}

/**
 * The cost tapwire must record for a call without cached tokens, computed from the built-in
 * price table the same way the price book does (per-million prices, summed, then scaled).
 */
export function tableCost(provider: ProviderName, model: string, inputTokens: number, outputTokens: number): number {
  const price = BUILT_IN_PRICES[provider][model];
  if (!price) throw new Error(`no built-in price for ${provider} ${model}`);
  return (inputTokens * price.input + outputTokens * price.output) / 1_000_000;
}

const LLM_COLUMNS = [
  'route', 'method', 'status', 'http_status', 'error_code', 'provider', 'operation', 'model', 'response_model',
  'response_id', 'finish_reasons', 'streamed', 'input_tokens', 'output_tokens', 'cache_read_tokens',
  'cache_write_tokens', 'reasoning_tokens', 'tokens_estimated', 'cost_usd',
] as const;

export type LlmColumns = Pick<Exchange, (typeof LLM_COLUMNS)[number]>;

/** The columns of a recorded exchange that describe the LLM call, for one deepEqual. */
export function llmColumns(row: Exchange): LlmColumns {
  return Object.fromEntries(LLM_COLUMNS.map((c) => [c, row[c]])) as LlmColumns;
}
