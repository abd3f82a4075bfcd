// Scenario 1 of the comparative bench: added latency at a fixed open-loop rate. For each
// workload (a non-streamed chat completion, an MCP tools/call) and each rate, every peer gets
// the same schedule, in interleaved rounds so a stall of the machine lands on all of them
// alike. Latency runs from each request's scheduled send time to its last body byte.
import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchContext } from './context.js';
import { mergeLoadResults, type LoadResult } from './load.js';
import { shortRequestBody } from './openai-fixtures.js';
import { stopAndCheck, TAPWIRE_VARIANTS, type Peer, type PeerName, type RecordCheck, type TapwirePeer } from './peers.js';
import { cpuSeconds } from './proc.js';
import { percentiles, type Percentiles } from './stats.js';

export type Workload = 'llm' | 'mcp';

export interface LatencyRow {
  workload: Workload;
  rate: number;
  peer: PeerName;
  measuredSent: number;
  ok: number;
  errors: Record<string, number>;
  achievedRate: number;
  latencyMs: Percentiles;
  /** How late the load generator itself started requests. */
  startLagMs: Percentiles;
  /** The proxy process's CPU while it carried the load, % of one core (null for direct). */
  proxyCpuPercent: number | null;
}

export async function runLatency(ctx: BenchContext): Promise<{ rows: LatencyRow[]; records: RecordCheck[] }> {
  const { size, standing, load } = ctx;
  const rows: LatencyRow[] = [];
  const records: RecordCheck[] = [];
  const llmBody = shortRequestBody(false).toString('utf8');
  for (const workload of ['llm', 'mcp'] as const) {
    for (const rate of size.rates) {
      const name = `latency ${workload} ${rate}/s`;
      const tapwires: TapwirePeer[] = [];
      for (const variant of TAPWIRE_VARIANTS) tapwires.push(await ctx.startTapwire(name, variant));
      const peers: Peer[] = [...Object.values(standing.peers), ...tapwires].filter((p) => workload === 'llm' || p.mcpPath !== null);
      const parts = new Map<Peer, LoadResult[]>(peers.map((p) => [p, []]));
      const cpu = new Map<Peer, { cpu: number; wall: number }>(peers.map((p) => [p, { cpu: 0, wall: 0 }]));
      for (let round = 0; round < size.latencyRounds; round++) {
        for (const peer of peers) {
          const before = { cpu: cpuSeconds(peer.pid), wall: performance.now() };
          const part = await load.openLoop(peer.origin, {
            path: workload === 'llm' ? peer.llmPath : peer.mcpPath!,
            body: llmBody,
            mcp: workload === 'mcp',
            headers: workload === 'llm' ? peer.headers : {},
            stream: false,
            includeUsage: false,
            rate,
            warmupSeconds: round === 0 ? size.latencyWarmupSeconds : 0.2,
            measuredSeconds: size.latencySeconds / size.latencyRounds,
          });
          const used = cpu.get(peer)!;
          used.cpu += (cpuSeconds(peer.pid) ?? Number.NaN) - (before.cpu ?? Number.NaN);
          used.wall += (performance.now() - before.wall) / 1000;
          parts.get(peer)!.push(part);
          const lat = percentiles(part.latencyMs);
          ctx.log(`  ${name} round ${round + 1}/${size.latencyRounds} ${peer.name.padEnd(8)} p50 ${lat.p50.toFixed(3)} p99 ${lat.p99.toFixed(3)} ms, ${part.errorCount} errors${part.errorCount > 0 ? ` ${JSON.stringify(part.errors)}` : ''}`);
          await sleep(100);
        }
      }
      for (const peer of peers) {
        const merged = mergeLoadResults(parts.get(peer)!);
        const used = cpu.get(peer)!;
        rows.push({
          workload,
          rate,
          peer: peer.name,
          measuredSent: merged.measuredSent,
          ok: merged.measuredOk,
          errors: merged.errors,
          achievedRate: merged.measuredCompleted / (merged.measuredWallMs / 1000),
          latencyMs: percentiles(merged.latencyMs),
          startLagMs: percentiles(merged.startLagMs),
          proxyCpuPercent: peer.pid !== undefined && Number.isFinite(used.cpu) ? (used.cpu / used.wall) * 100 : null,
        });
      }
      for (const tapwire of tapwires) {
        const sent = parts.get(tapwire)!.reduce((n, p) => n + p.sent, 0);
        records.push(await stopAndCheck(tapwire, name, sent));
      }
    }
  }
  return { rows, records };
}
