// Scenario 2 of the comparative bench: throughput at saturation with wrk (system package),
// non-streamed chat completions over 32 keep-alive connections. wrk is pinned to one core and
// the upstream and the proxy to the other (taskset), so the ratio to direct says what share
// of a core the proxy leaves to the upstream. The proxy's CPU per 1,000 requests comes from
// /proc. A short unmeasured wrk run warms each peer up first.
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { BenchContext } from './context.js';
import { HEADERS } from './load.js';
import { shortRequestBody } from './openai-fixtures.js';
import { stopAndCheck, TAPWIRE_VARIANTS, type Peer, type PeerName, type RecordCheck, type TapwirePeer } from './peers.js';
import { cpuSeconds } from './proc.js';

export const WRK_BINARY = process.env.BENCH_WRK ?? '/usr/bin/wrk';

export interface SaturationRow {
  peer: PeerName;
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  /** Non-2xx/3xx answers plus socket errors wrk counted. */
  errors: number;
  /** The proxy's CPU per 1,000 requests, ms (null for direct). */
  proxyCpuMsPer1k: number | null;
  upstreamCpuMsPer1k: number | null;
  wrkLatencyP99Ms: number | null;
}

export interface Pinning {
  /** CPU the load generator runs on, and the one upstream and proxy share; null when the machine has one CPU. */
  loadCpu: number | null;
  serverCpu: number | null;
}

interface WrkResult {
  requests: number;
  seconds: number;
  errors: number;
  p99Ms: number | null;
}

function luaScript(peer: Peer): string {
  const lua = (s: string): string => JSON.stringify(s); // a JSON string is a valid Lua string literal here (ASCII, escaped quotes)
  const headers = { ...HEADERS, ...peer.headers };
  return [
    'wrk.method = "POST"',
    `wrk.body = ${lua(shortRequestBody(false).toString('utf8'))}`,
    ...Object.entries(headers).map(([k, v]) => `wrk.headers[${lua(k)}] = ${lua(v)}`),
    '',
  ].join('\n');
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function parseWrk(output: string): WrkResult {
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m),/.exec(output);
  if (!total) throw new Error(`wrk output not understood:\n${output}`);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s|m)$/m.exec(output);
  return {
    requests: Number(total[1]),
    seconds: (Number(total[2]) * UNIT_MS[total[3]!]!) / 1000,
    errors: Number(non2xx?.[1] ?? 0) + (socket ? socket.slice(1).reduce((n, v) => n + Number(v), 0) : 0),
    p99Ms: p99 ? Number(p99[1]) * UNIT_MS[p99[2]!]! : null,
  };
}

function runWrk(cpu: number | null, url: string, script: string, connections: number, seconds: number): Promise<WrkResult> {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', script, url];
  const [command, argv] = cpu === null ? [WRK_BINARY, args] : ['taskset', ['-c', String(cpu), WRK_BINARY, ...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`wrk exited with ${String(code)}:\n${out}`));
      else {
        try {
          resolve(parseWrk(out));
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      }
    });
  });
}

/** Sets the CPU affinity of a process and every thread it has (taskset -a). */
function pin(pid: number | undefined, cpuList: string): void {
  if (pid !== undefined) execFileSync('taskset', ['-a', '-p', '-c', cpuList, String(pid)], { stdio: 'ignore' });
}

export async function runSaturation(ctx: BenchContext): Promise<{ rows: SaturationRow[]; records: RecordCheck[]; pinning: Pinning }> {
  const { size, standing } = ctx;
  const all = cpus().map((_, i) => i);
  const pinning: Pinning = all.length >= 2 ? { loadCpu: all[0]!, serverCpu: all[1]! } : { loadCpu: null, serverCpu: null };
  const allList = `${all[0]}-${all[all.length - 1]}`;
  const rows: SaturationRow[] = [];
  const records: RecordCheck[] = [];
  const tapwires: TapwirePeer[] = [];
  for (const variant of TAPWIRE_VARIANTS) tapwires.push(await ctx.startTapwire('saturation', variant));
  /** The requests each tapwire was sent (its warm-up's and measured run's). */
  const tapwireRequests = new Map<Peer, number>(tapwires.map((t) => [t, 0]));
  const stopped = new Set<TapwirePeer>();
  // wrk closes its connections when its time is up; each run may cut one request per connection.
  const stopTapwire = async (tapwire: TapwirePeer): Promise<void> => {
    stopped.add(tapwire);
    records.push(await stopAndCheck(tapwire, 'saturation', tapwireRequests.get(tapwire)!, 2 * size.wrkConnections));
  };
  try {
    for (const peer of [...Object.values(standing.peers), ...tapwires]) {
      const script = join(ctx.dir, `wrk-${peer.name}.lua`);
      writeFileSync(script, luaScript(peer));
      const url = `${peer.origin}${peer.llmPath}`;
      if (pinning.serverCpu !== null) {
        pin(ctx.upstreamPid, String(pinning.serverCpu));
        pin(peer.pid, String(pinning.serverCpu));
      }
      try {
        const warm = await runWrk(pinning.loadCpu, url, script, size.wrkConnections, size.wrkWarmupSeconds);
        const before = { proxy: cpuSeconds(peer.pid), upstream: cpuSeconds(ctx.upstreamPid) };
        const run = await runWrk(pinning.loadCpu, url, script, size.wrkConnections, size.wrkSeconds);
        const proxyCpu = (cpuSeconds(peer.pid) ?? Number.NaN) - (before.proxy ?? Number.NaN);
        const upstreamCpu = (cpuSeconds(ctx.upstreamPid) ?? Number.NaN) - (before.upstream ?? Number.NaN);
        if (tapwireRequests.has(peer)) tapwireRequests.set(peer, warm.requests + run.requests);
        const per1k = (seconds: number): number | null => (Number.isFinite(seconds) && run.requests > 0 ? (seconds * 1000 * 1000) / run.requests : null);
        rows.push({
          peer: peer.name,
          requests: run.requests,
          seconds: run.seconds,
          requestsPerSecond: run.requests / run.seconds,
          errors: run.errors + warm.errors,
          proxyCpuMsPer1k: peer.pid === undefined ? null : per1k(proxyCpu),
          upstreamCpuMsPer1k: per1k(upstreamCpu),
          wrkLatencyP99Ms: run.p99Ms,
        });
        ctx.log(`  saturation ${peer.name.padEnd(8)} ${(run.requests / run.seconds).toFixed(0)} req/s, ${run.errors} errors`);
      } finally {
        if (pinning.serverCpu !== null) {
          pin(ctx.upstreamPid, allList);
          if (!tapwireRequests.has(peer)) pin(peer.pid, allList);
        }
      }
      // A tapwire stops as soon as it is measured: its backlog (records, exports) must not run
      // on the CPU the next one is measured on.
      const tapwire = tapwires.find((t) => t === peer);
      if (tapwire) await stopTapwire(tapwire);
    }
  } finally {
    for (const tapwire of tapwires) if (!stopped.has(tapwire)) await stopTapwire(tapwire);
  }
  return { rows, records, pinning };
}
