// `npm run soak`: the soak test at full size (200 clients, 60 s; `--quick`: the CI size),
// mixed LLM / MCP / A2A traffic through one tapwire process (test/support/soak.ts). Prints
// the outcome, writes it with the machine and date to bench/results/soak-<date>.json, and
// exits 1 when a request failed, a row is missing or doubled, or memory (RSS right after a
// full garbage collection) grew over 20% from just after warm-up to the end.
import { readFileSync, writeFileSync } from 'node:fs';
import { describeMachine } from './report.js';
import { FULL_SOAK, QUICK_SOAK, runSoak, type MemoryGrowth } from '../test/support/soak.js';

/** Memory may grow this much from just after warm-up to the end of the run. */
export const MAX_MEMORY_GROWTH = 0.2;

const quick = process.argv.includes('--quick');
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
const startedAt = new Date().toISOString();
const result = await runSoak(quick ? QUICK_SOAK : FULL_SOAK);
const held = result.failed === 0 && result.mismatches.length === 0 && result.memory.collected.growth <= MAX_MEMORY_GROWTH && result.integrity === 'ok' && result.exitCode === 0;
const mib = (bytes: number): number => Math.round((bytes / 1024 / 1024) * 10) / 10;
const growthMiB = (g: MemoryGrowth): { baseline: number; final: number; growthPercent: number } => ({
  baseline: mib(g.baselineBytes),
  final: mib(g.finalBytes),
  growthPercent: Math.round(g.growth * 1000) / 10,
});
const summary = {
  startedAt,
  machine: describeMachine(pkg.version),
  size: quick ? 'quick' : 'full',
  held,
  clients: result.options.clients,
  seconds: result.options.durationMs / 1000,
  requests: result.requests,
  requestsPerSecond: result.requestsPerSecond,
  failed: result.failed,
  failures: result.failures,
  rows: result.rows,
  mismatches: result.mismatches,
  memoryMiB: {
    afterCollection: growthMiB(result.memory.collected),
    asFound: growthMiB(result.memory.raw),
  },
  integrity: result.integrity,
  exitCode: result.exitCode,
  /** [ms since the start, RSS as found, RSS after a full garbage collection] */
  rssSamplesMiB: result.memory.samples.map(([t, raw, collected]) => [t, mib(raw), mib(collected)]),
};
process.stdout.write(`${JSON.stringify({ ...summary, rssSamplesMiB: `${summary.rssSamplesMiB.length} samples` }, null, 2)}\n`);
if (!quick) {
  const file = new URL(`../../bench/results/soak-${startedAt.slice(0, 10)}.json`, import.meta.url);
  writeFileSync(file, `${JSON.stringify(summary, null, 2)}\n`);
  process.stdout.write(`written to ${file.pathname}\n`);
}
process.exitCode = held ? 0 : 1;
