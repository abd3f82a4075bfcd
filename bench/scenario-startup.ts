// Scenario 6 of the comparative bench: start-up, from spawning `tapwire run` (everything on,
// and recording only) to the end of the first request it proxied, a non-streamed chat completion sent every
// 2 ms until one gets through. Each run's database must then hold exactly that one exchange.
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'undici';
import type { BenchContext } from './context.js';
import { HEADERS } from './load.js';
import { checkResponse, shortRequestBody } from './openai-fixtures.js';
import { stopAndCheck, tapwirePeer, VARIANT_LABELS, type RecordCheck, type TapwireVariant } from './peers.js';
import { launchSidecarProcess } from './processes.js';
import { percentiles, type Percentiles } from './stats.js';

export interface StartupResult {
  runs: number;
  firstProxiedMs: Percentiles;
}

export async function runStartup(ctx: BenchContext, variant: TapwireVariant = 'tapwire'): Promise<{ result: StartupResult; records: RecordCheck[] }> {
  const body = shortRequestBody(false);
  const samples: number[] = [];
  const records: RecordCheck[] = [];
  for (let run = 0; run < ctx.size.startupRuns; run++) {
    const options = ctx.tapwireOptions(`startup ${run + 1}`, variant);
    const startedAt = performance.now();
    const tapwire = tapwirePeer(await launchSidecarProcess(options), variant);
    for (;;) {
      if (tapwire.sidecar.child.exitCode !== null) throw new Error(`tapwire exited during start-up; see ${tapwire.sidecar.logPath}`);
      if (performance.now() - startedAt > 15_000) throw new Error(`tapwire proxied nothing within 15 s; see ${tapwire.sidecar.logPath}`);
      const client = new Client(tapwire.origin);
      try {
        const answer = await client.request({ method: 'POST', path: tapwire.llmPath, headers: { ...HEADERS, 'content-length': String(body.length) }, body });
        const text = await answer.body.text();
        const wrong = checkResponse(false, false, answer.statusCode, text);
        if (wrong) throw new Error(`tapwire's first answer is wrong: ${wrong}`);
        samples.push(performance.now() - startedAt);
        break;
      } catch (err) {
        if ((err as { code?: string }).code !== 'ECONNREFUSED') throw err;
        await sleep(2);
      } finally {
        await client.destroy();
      }
    }
    records.push(await stopAndCheck(tapwire, `start-up ${run + 1}`, 1));
  }
  const result = { runs: samples.length, firstProxiedMs: percentiles(samples) };
  ctx.log(`  start-up to first proxied request, ${VARIANT_LABELS[variant]}: p50 ${result.firstProxiedMs.p50.toFixed(0)} ms, max ${result.firstProxiedMs.max.toFixed(0)} ms`);
  return { result, records };
}
