// The comparative bench's load generator, a process of its own (forked by load-client.ts) so
// that neither the proxies nor the bench's bookkeeping share its event loop. It runs one job
// at a time on request over IPC, open-loop fixed-rate load (runLoad) or rounds of concurrent
// streams (runStreams), and answers with the raw samples.
import type { Pool } from 'undici';
import { loadPool, runLoad, runStreams, type LoadPlan, type StreamPlan } from './load.js';

export type LoadJob =
  | { type: 'open-loop'; origin: string; plan: Omit<LoadPlan, 'body'> & { body: string } }
  | { type: 'streams'; origin: string; plan: Omit<StreamPlan, 'body' | 'onAllStarted'> & { body: string } };

/** A request unanswered this long fails: it bounds how long an overloaded peer can hold a slice. */
const REQUEST_TIMEOUT_MS = 10_000;
/** Streams get longer: 1,000 opened at once measure memory, and may queue on a busy machine. */
const STREAM_TIMEOUT_MS = 60_000;
const pools = new Map<string, Pool>();

function poolFor(origin: string, connections: number, timeoutMs: number): Pool {
  const key = `${origin} ${connections} ${timeoutMs}`;
  let pool = pools.get(key);
  if (!pool) {
    pool = loadPool(origin, timeoutMs, connections);
    pools.set(key, pool);
  }
  return pool;
}

async function run(job: LoadJob): Promise<unknown> {
  if (job.type === 'open-loop') return runLoad(poolFor(job.origin, 256, REQUEST_TIMEOUT_MS), { ...job.plan, body: Buffer.from(job.plan.body) });
  const pool = poolFor(job.origin, Math.max(256, job.plan.concurrency), STREAM_TIMEOUT_MS);
  return runStreams(pool, { ...job.plan, body: Buffer.from(job.plan.body) });
}

process.on('message', (job: LoadJob) => {
  run(job).then(
    (result) => process.send?.({ ok: true, result }),
    (err: unknown) => process.send?.({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
});
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: true });
