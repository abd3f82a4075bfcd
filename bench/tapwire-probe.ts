// Optional diagnostics preloaded into the tapwire process by the latency bench
// (`node --import <this> dist/cli/cli.js run …` when BENCH_PROBE=1): measures the main
// thread's event-loop delay and garbage-collection pauses. On each SIGUSR2 it appends one
// JSON line (a ProbeSample) to $TAPWIRE_BENCH_PROBE_OUT and starts counting afresh, so the
// bench can attribute stalls to the scenario that just ran. It changes nothing in tapwire.
import { appendFileSync } from 'node:fs';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';

export interface ProbeSample {
  /** Event-loop delay beyond the 1 ms sampling timer, ms. */
  loopDelayMs: { p50: number; p99: number; max: number };
  gc: { count: number; totalMs: number; maxMs: number };
}

const out = process.env.TAPWIRE_BENCH_PROBE_OUT;
if (out) {
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  let gc = { count: 0, totalMs: 0, maxMs: 0 };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gc.count++;
      gc.totalMs += entry.duration;
      gc.maxMs = Math.max(gc.maxMs, entry.duration);
    }
  }).observe({ entryTypes: ['gc'] });
  process.on('SIGUSR2', () => {
    // The histogram counts the sampling interval itself; report only the delay beyond it.
    const beyond = (ns: number): number => Math.max(0, ns / 1e6 - 1);
    const sample: ProbeSample = {
      loopDelayMs: { p50: beyond(loop.percentile(50)), p99: beyond(loop.percentile(99)), max: beyond(loop.max) },
      gc,
    };
    appendFileSync(out, `${JSON.stringify(sample)}\n`);
    loop.reset();
    gc = { count: 0, totalMs: 0, maxMs: 0 };
  });
}
