// Limits shared through a real redis-server (limits.redis): two sidecars of one team, each in
// front of the same LLM upstream (aimock), hold one request rate and one token budget under 200
// concurrent calls within the bound docs/fleet.md gives; with Redis stopped, on_unavailable
// local keeps counting in the process and deny refuses with the limit's refusal, no call
// hanging, the outage logged once and counted in /_tapwire/metrics, and Redis used again once
// back; with Redis frozen, commands time out and no call is held. Also the counters alone:
// two sidecars' views of one window, counts sliding out, retry-after.
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../core/log.js';
import { SharedLimits } from '../../policies/redis/shared-limits.js';
import { startAimock, type LLMock } from '../support/aimock.js';
import { startRedisFor, type TestRedis } from '../support/redis.js';
import { startWithPolicy } from '../support/policy-sidecar.js';
import type { TestSidecar } from '../support/sidecar.js';

const KEY = 'sk-shared-limits-test';
/** Tokens of one answer: 8 in, 5 out. */
const CALL_TOKENS = 13;

/** A sidecar of team "a" counting its limits in `redis`, with `policy` as its one policy file. */
function teamSidecar(t: TestContext, mock: LLMock, redisUrl: string, policy: string, onUnavailable = 'local', log?: Logger): Promise<TestSidecar> {
  const yaml = [
    'agent: { name: worker, labels: { team: a } }',
    'limits:',
    `  redis: { url: "${redisUrl}", on_unavailable: ${onUnavailable}, timeout_ms: 200 }`,
    'routes:',
    `  openai: { protocol: llm, upstream: "${mock.url}", provider: openai }`,
  ].join('\n');
  return startWithPolicy(t, yaml, policy, process.env, log ? { log } : {});
}

/** A logger at info whose messages are kept in `messages`. */
function keptLog(): { log: Logger; messages: string[] } {
  const messages: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done): void {
      for (const line of chunk.toString().split('\n').filter(Boolean)) messages.push((JSON.parse(line) as { msg: string }).msg);
      done();
    },
  });
  return { log: createLogger('info', sink), messages };
}

/** One chat call through `tapwire`: its HTTP status and how long it took. */
async function ask(tapwire: TestSidecar): Promise<{ status: number; ms: number }> {
  const started = Date.now();
  const res = await fetch(`${tapwire.url}/openai/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] }),
  });
  await res.arrayBuffer();
  return { status: res.status, ms: Date.now() - started };
}

/** Runs `total` calls spread over the sidecars, at most `concurrency` in flight at once. */
async function load(sidecars: TestSidecar[], total: number, concurrency: number): Promise<{ status: number; ms: number }[]> {
  const results: { status: number; ms: number }[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      const i = next++;
      results.push(await ask(sidecars[i % sidecars.length]!));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

const count = (results: { status: number }[], status: number): number => results.filter((r) => r.status === status).length;

/** tapwire_limits_redis_* from a scrape of the sidecar's /_tapwire/metrics. */
async function redisMetrics(tapwire: TestSidecar): Promise<{ available: number; outages: number }> {
  const text = await (await fetch(`${tapwire.url}/_tapwire/metrics`)).text();
  const value = (name: string): number => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
  return { available: value('tapwire_limits_redis_available'), outages: value('tapwire_limits_redis_outages_total') };
}

describe('limits shared through Redis', () => {
  let mock: LLMock;
  before(async () => {
    mock = await startAimock([KEY], (m) => m.onMessage(/^hello$/, { content: 'hi there', usage: { prompt_tokens: 8, completion_tokens: 5 } }));
  });
  after(() => mock.stop());

  test('a request rate shared by two sidecars: 200 concurrent calls, at most 50 through and a few more', async (t) => {
    const redis = await startRedisFor(t);
    const policy = 'rules:\n  - { name: team-rate, when: \'protocol == "llm"\', action: limit, limit: { requests: 50, per: 1h, key: agent.labels.team } }\n';
    const sidecars = [await teamSidecar(t, mock, redis.url, policy), await teamSidecar(t, mock, redis.url, policy)];
    const results = await load(sidecars, 200, 200);
    const through = count(results, 200);
    t.diagnostic(`request rate 50: ${through} of 200 concurrent calls let through`);
    assert.equal(through + count(results, 429), 200);
    // Alone, each sidecar would let 50 through (100 in all); shared, the overshoot is the other
    // sidecar's calls counted in Redis but not yet in this one's mirror (docs/fleet.md).
    assert.ok(through >= 50 && through <= 60, `${through} calls let through`);
  });

  test('a token budget shared by two sidecars: 200 calls, 20 in flight, the spend within the budget plus the calls in flight', async (t) => {
    const redis = await startRedisFor(t);
    const budget = 50 * CALL_TOKENS;
    const policy = `rules:\n  - { name: team-budget, when: 'protocol == "llm"', action: limit, limit: { tokens: ${budget}, per: 1h, key: agent.labels.team } }\n`;
    const sidecars = [await teamSidecar(t, mock, redis.url, policy), await teamSidecar(t, mock, redis.url, policy)];
    const concurrency = 20;
    const results = await load(sidecars, 200, concurrency);
    const spent = count(results, 200) * CALL_TOKENS;
    t.diagnostic(`token budget ${budget}: ${spent} tokens spent by ${count(results, 200)} of 200 calls, ${concurrency} in flight`);
    assert.equal(count(results, 200) + count(results, 429), 200);
    assert.ok(spent >= budget, `the budget is used: ${spent}`);
    // A call is charged when its answer is recorded: the calls already in flight when the
    // budget fills still complete (as with one sidecar), plus the mirrors' lag.
    assert.ok(spent <= budget + (concurrency + 5) * CALL_TOKENS, `${spent} tokens spent`);
  });

  test('Redis stopped, on_unavailable local: limits count in the process, no call hangs, the outage logged once and counted; Redis used again once back', async (t) => {
    const redis = await startRedisFor(t);
    const policy = 'rules:\n  - { name: team-rate, when: \'protocol == "llm"\', action: limit, limit: { requests: 5, per: 1h, key: agent.labels.team } }\n';
    const { log, messages } = keptLog();
    const tapwire = await teamSidecar(t, mock, redis.url, policy, 'local', log);
    assert.equal(count(await load([tapwire], 3, 1), 200), 3, 'three of five counted in Redis');
    await redis.stop();
    const during = await load([tapwire], 8, 4);
    assert.ok(Math.max(...during.map((r) => r.ms)) < 1000, `no call waits on Redis: ${during.map((r) => r.ms).join(',')} ms`);
    // Counted locally from zero: five more go through, then the local window refuses.
    assert.deepEqual([count(during, 200), count(during, 429)], [5, 3]);
    assert.deepEqual(await redisMetrics(tapwire), { available: 0, outages: 1 });
    await restartAndWait(redis, tapwire);
    // Redis is empty again (no persistence): counting there starts afresh.
    assert.equal(count(await load([tapwire], 6, 1), 200), 5);
    const transitions = messages.filter((m) => m.includes('Redis'));
    assert.deepEqual(transitions, ['limits counted in Redis', 'Redis unavailable: limits counted in this process until it is back', 'Redis reachable again: limits counted in Redis']);
  });

  test('Redis frozen (no answers, connection open): calls are not held, commands time out, Redis counts as unavailable until it answers again', async (t) => {
    const redis = await startRedisFor(t);
    const policy = 'rules:\n  - { name: team-rate, when: \'protocol == "llm"\', action: limit, limit: { requests: 1000, per: 1h, key: agent.labels.team } }\n';
    const tapwire = await teamSidecar(t, mock, redis.url, policy);
    assert.equal((await ask(tapwire)).status, 200);
    redis.pause();
    const started = Date.now();
    const during: { status: number; ms: number }[] = [];
    // Calls for a second: the first commands wait for Redis's answer (timeout_ms 200), the calls do not.
    while (Date.now() - started < 1000) during.push(...(await load([tapwire], 4, 4)));
    redis.resume();
    assert.equal(count(during, 200), during.length);
    // A call held until a command timed out would take timeout_ms (200) at least.
    assert.ok(Math.max(...during.map((r) => r.ms)) < 200, `no call waits on Redis: the slowest took ${Math.max(...during.map((r) => r.ms))} ms`);
    let metrics = await redisMetrics(tapwire);
    assert.equal(metrics.outages, 1, 'a command timed out: Redis unavailable');
    for (let i = 0; i < 100 && metrics.available !== 1; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      metrics = await redisMetrics(tapwire);
    }
    assert.deepEqual(metrics, { available: 1, outages: 1 }, 'answered a probe: in use again');
  });

  test('Redis stopped, on_unavailable deny: calls under the limit are refused with its 429 at once; allowed again once Redis is back', async (t) => {
    const redis = await startRedisFor(t);
    const policy = 'rules:\n  - { name: team-rate, when: \'protocol == "llm"\', action: limit, limit: { requests: 100, per: 1h, key: agent.labels.team } }\n';
    const tapwire = await teamSidecar(t, mock, redis.url, policy, 'deny');
    assert.equal((await ask(tapwire)).status, 200);
    await redis.stop();
    const during = await load([tapwire], 6, 3);
    assert.deepEqual(during.map((r) => r.status), [429, 429, 429, 429, 429, 429]);
    assert.ok(Math.max(...during.map((r) => r.ms)) < 1000, `no call waits on Redis: ${during.map((r) => r.ms).join(',')} ms`);
    await restartAndWait(redis, tapwire);
    assert.equal((await ask(tapwire)).status, 200);
  });
});

/** Starts Redis again and waits until the sidecar uses it (it reconnects every second). */
async function restartAndWait(redis: TestRedis, tapwire: TestSidecar): Promise<void> {
  await redis.start();
  let metrics = { available: 0, outages: 0 };
  for (let i = 0; i < 100 && metrics.available !== 1; i++) {
    metrics = await redisMetrics(tapwire);
    if (metrics.available !== 1) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.deepEqual(metrics, { available: 1, outages: 1 });
}

describe('the shared counters themselves (SharedLimits against redis-server)', () => {
  const settings = (url: string) => ({ url, on_unavailable: 'local' as const, timeout_ms: 200, sync_ms: 0, prefix: 'test:' });
  /** Lets the reads and counts sent so far come back. */
  const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

  test("two sidecars' counters: one's counts refuse the other's calls; counts slide out of the window; retry-after from the oldest count", async (t) => {
    const redis = await startRedisFor(t);
    const log = createLogger('silent');
    const [one, other] = [await SharedLimits.open(settings(redis.url), log), await SharedLimits.open(settings(redis.url), log)];
    t.after(async () => {
      await one.close();
      await other.close();
    });
    const rule = { name: 'r', kind: 'tokens' as const, windowMs: 10_000 };
    const [a, b] = [one.counters(rule), other.counters(rule)];
    a.add('team', 1_000, 30);
    a.add('team', 4_000, 70);
    assert.equal(a.retryAfter('team', 4_000, 100, 1), 10, 'its own counts on their way already count (how long for: a whole window, until Redis answers)');
    await settle();
    assert.equal(a.retryAfter('team', 4_000, 100, 1), 7, 'answered: full until the count at 1 s leaves at 11 s');
    assert.equal(b.retryAfter('team', 5_000, 100, 1), null, "a first look: the other's counts are not known yet");
    await settle();
    assert.equal(b.retryAfter('team', 5_000, 100, 1), 6, 'read from Redis: full until the count at 1 s leaves at 11 s');
    await settle();
    assert.equal(b.retryAfter('team', 11_000, 100, 1), 1, 'decided on the copy read at 5 s (erring on the safe side), and read again');
    await settle();
    assert.equal(b.retryAfter('team', 11_000, 100, 1), null, 'read again: the count at 1 s has left, the next call fits (30 freed)');
    await settle();
    assert.equal(b.retryAfter('team', 11_000, 100, 31), 3, '70 still used: 31 more fit only once the count at 4 s leaves');
    const other2 = other.counters({ ...rule, name: 'another-rule' });
    assert.equal(other2.retryAfter('team', 11_000, 1, 1), null, 'another rule counts apart');
  });
});
