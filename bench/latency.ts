// `npm run bench`: the latency tapwire adds over calling the upstream directly, at a fixed
// open-loop request rate, non-streamed and streamed, with recording on. Runs the mock
// upstream and tapwire as child processes, drives them from this process, checks that
// tapwire recorded every request it was sent, prints the tables and writes
// bench/results/latency-<date>.json and bench/results/README.md. Every child is stopped,
// on failure too. Knobs (env): see README_HEAD in report.ts.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { openDatabase } from '../store/db.js';
import { loadPool, mergeLoadResults, runLoad, type LoadPlan, type LoadResult } from './load.js';
import { agentRequestBody } from './openai-fixtures.js';
import { killAllChildren, startSidecarProcess, startUpstream, stopChild, type SidecarProcess } from './processes.js';
import {
  addedTable,
  describeMachine,
  latencyTable,
  probeTable,
  recordLine,
  TARGET_ADDED_P99_MS,
  writeResults,
  type AddedLatency,
  type BenchParameters,
  type BenchReport,
  type RecordCheck,
  type ScenarioResult,
} from './report.js';
import { percentiles } from './stats.js';
import type { ProbeSample } from './tapwire-probe.js';

/** The temp dir of the run in progress, removed if the bench is interrupted. */
let removeOnSignal: string | null = null;

const RESULTS_DIR = fileURLToPath(new URL('../../bench/results/', import.meta.url));
const CHAT_PATH = '/v1/chat/completions';

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, got "${raw}"`);
  return value;
}

/** CPU seconds (user + system) a process has used so far, from /proc; null off Linux. */
function cpuSeconds(child: ChildProcess): number | null {
  try {
    const stat = readFileSync(`/proc/${String(child.pid)}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticksPerSecond = 100; // USER_HZ on Linux
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  } catch {
    return null;
  }
}

/** Machine-wide CPU ticks (all CPUs) from /proc/stat: busy (user+nice+system+irq+softirq), all, stolen by the hypervisor. */
function machineTicks(): { busy: number; all: number; steal: number } | null {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
    return { busy: user + nice + system + irq + softirq, all: user + nice + system + idle + iowait + irq + softirq + steal, steal };
  } catch {
    return null;
  }
}

/** CPU used during a scenario's slices, summed: seconds per process, ticks for the machine. */
interface CpuUse {
  tapwire: number;
  upstream: number;
  generator: number;
  wall: number;
  machineBusy: number;
  machineSteal: number;
  machineAll: number;
}

interface Scenario {
  name: string;
  target: 'direct' | 'tapwire';
  stream: boolean;
}

const SCENARIOS: Scenario[] = [
  { name: 'direct non-stream', target: 'direct', stream: false },
  { name: 'tapwire non-stream', target: 'tapwire', stream: false },
  { name: 'direct stream', target: 'direct', stream: true },
  { name: 'tapwire stream', target: 'tapwire', stream: true },
];

/** Asks the probe preloaded in tapwire for the interval just ended (and to start a new one). */
async function signalProbe(sidecar: SidecarProcess, file: string): Promise<ProbeSample> {
  const linesBefore = existsSync(file) ? readFileSync(file, 'utf8').split('\n').length : 1;
  sidecar.child.kill('SIGUSR2');
  for (let i = 0; i < 100; i++) {
    await sleep(10);
    const lines = existsSync(file) ? readFileSync(file, 'utf8').split('\n') : [''];
    if (lines.length > linesBefore) return JSON.parse(lines[lines.length - 2]!) as ProbeSample;
  }
  throw new Error('the tapwire probe did not answer SIGUSR2 within 1 s');
}

/** One summary of a scenario's probe intervals: the worst p99 and max, summed GC. */
function combineProbes(samples: ProbeSample[]): ProbeSample {
  return {
    loopDelayMs: {
      p50: Math.max(...samples.map((s) => s.loopDelayMs.p50)),
      p99: Math.max(...samples.map((s) => s.loopDelayMs.p99)),
      max: Math.max(...samples.map((s) => s.loopDelayMs.max)),
    },
    gc: {
      count: samples.reduce((n, s) => n + s.gc.count, 0),
      totalMs: samples.reduce((n, s) => n + s.gc.totalMs, 0),
      maxMs: Math.max(...samples.map((s) => s.gc.maxMs)),
    },
  };
}

function countRecords(dbPath: string): { all: number; streamed: number; ok: number } {
  const db = openDatabase(dbPath, { readonly: true });
  try {
    const row = db
      .prepare("SELECT COUNT(*) AS all_, COALESCE(SUM(streamed = 1), 0) AS streamed, COALESCE(SUM(status = 'ok'), 0) AS ok FROM exchanges")
      .get() as { all_: number; streamed: number; ok: number };
    return { all: row.all_, streamed: row.streamed, ok: row.ok };
  } finally {
    db.close();
  }
}

async function main(): Promise<number> {
  const startedAt = new Date();
  const rate = envNumber('BENCH_RATE', 500);
  const measuredSeconds = envNumber('BENCH_SECONDS', 15);
  const warmupSeconds = envNumber('BENCH_WARMUP_SECONDS', 3);
  const chunkDelayMs = envNumber('BENCH_CHUNK_DELAY_MS', 0);
  const includeUsage = process.env.BENCH_INCLUDE_USAGE === '1';
  const logLevel = process.env.BENCH_LOG_LEVEL || undefined;
  const rounds = Math.max(1, Math.round(envNumber('BENCH_ROUNDS', 5)));
  const sliceWarmupSeconds = 0.2;
  const profileDir = process.env.BENCH_PROFILE || undefined;
  const probeWanted = process.env.BENCH_PROBE === '1';
  const extraNodeFlags = (process.env.BENCH_TAPWIRE_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
  if (rate <= 0 || measuredSeconds <= 0) throw new Error('BENCH_RATE and BENCH_SECONDS must be positive');
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-bench-'));
  removeOnSignal = dir;
  const probeOut = probeWanted ? join(dir, 'probe.jsonl') : undefined;

  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  const bodies = { nonStream: agentRequestBody(false, includeUsage), stream: agentRequestBody(true, includeUsage) };
  const parameters: BenchParameters = {
    rate,
    warmupSeconds,
    measuredSeconds,
    chunkDelayMs,
    rounds,
    agentAsksForUsage: includeUsage,
    flushIntervalMs: 'default (100 ms)',
    tapwireLogLevel: logLevel ?? 'default (info)',
    requestBytes: { nonStream: bodies.nonStream.length, stream: bodies.stream.length },
  };
  let keepDir = false;
  try {
    const upstream = await startUpstream(chunkDelayMs);
    const sidecar: SidecarProcess = await startSidecarProcess({
      dir,
      upstreamOrigin: upstream.origin,
      logLevel,
      nodeFlags: [
        ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
        ...(probeOut ? ['--import', new URL('./tapwire-probe.js', import.meta.url).href] : []),
        ...extraNodeFlags,
      ],
      env: probeOut ? { TAPWIRE_BENCH_PROBE_OUT: probeOut } : {},
    });
    console.log(
      `tapwire ${pkg.version} bench: ${rate} req/s open-loop, ${warmupSeconds} s warm-up + ${measuredSeconds} s measured per scenario; ` +
        `upstream ${upstream.origin}, tapwire ${sidecar.origin}, db ${sidecar.dbPath}`,
    );

    const pools = { direct: loadPool(upstream.origin, 10_000), tapwire: loadPool(sidecar.origin, 10_000) };
    const sliceSeconds = measuredSeconds / rounds;
    const parts = new Map<Scenario, LoadResult[]>(SCENARIOS.map((s) => [s, []]));
    const zeroUse = (): CpuUse => ({ tapwire: 0, upstream: 0, generator: 0, wall: 0, machineBusy: 0, machineSteal: 0, machineAll: 0 });
    const cpu = new Map<Scenario, CpuUse>(SCENARIOS.map((s) => [s, zeroUse()]));
    const probes = new Map<Scenario, ProbeSample[]>(SCENARIOS.map((s) => [s, []]));
    // Rounds interleave the scenarios, so a stall of the machine (a noisy neighbour, a GC in
    // this process) lands on all of them alike instead of on whichever ran at that moment.
    for (let round = 0; round < rounds; round++) {
      for (const scenario of SCENARIOS) {
        const plan: LoadPlan = {
          path: scenario.target === 'direct' ? CHAT_PATH : `/openai${CHAT_PATH}`,
          body: scenario.stream ? bodies.stream : bodies.nonStream,
          stream: scenario.stream,
          includeUsage,
          rate,
          warmupSeconds: round === 0 ? warmupSeconds : sliceWarmupSeconds,
          measuredSeconds: sliceSeconds,
        };
        if (probeOut) await signalProbe(sidecar, probeOut); // start the probe's interval afresh
        const before = {
          tapwire: cpuSeconds(sidecar.child),
          upstream: cpuSeconds(upstream.child),
          generator: process.cpuUsage(),
          machine: machineTicks(),
          wall: performance.now(),
        };
        const part = await runLoad(pools[scenario.target], plan);
        const used = cpu.get(scenario)!;
        const machine = machineTicks();
        const generator = process.cpuUsage(before.generator);
        used.wall += (performance.now() - before.wall) / 1000;
        used.tapwire += (cpuSeconds(sidecar.child) ?? Number.NaN) - (before.tapwire ?? Number.NaN);
        used.upstream += (cpuSeconds(upstream.child) ?? Number.NaN) - (before.upstream ?? Number.NaN);
        used.generator += (generator.user + generator.system) / 1e6;
        used.machineBusy += (machine?.busy ?? Number.NaN) - (before.machine?.busy ?? Number.NaN);
        used.machineSteal += (machine?.steal ?? Number.NaN) - (before.machine?.steal ?? Number.NaN);
        used.machineAll += (machine?.all ?? Number.NaN) - (before.machine?.all ?? Number.NaN);
        parts.get(scenario)!.push(part);
        if (probeOut && scenario.target === 'tapwire') probes.get(scenario)!.push(await signalProbe(sidecar, probeOut));
        const lat = percentiles(part.latencyMs);
        console.log(
          `  round ${round + 1}/${rounds} ${scenario.name.padEnd(18)} p50 ${lat.p50.toFixed(3)} ms, p99 ${lat.p99.toFixed(3)} ms, ` +
            `${part.errorCount} errors (load generator start lag p99 ${percentiles(part.startLagMs).p99.toFixed(3)} ms)`,
        );
        await sleep(200); // let the processes settle between slices
      }
    }
    await Promise.all([pools.direct.close(), pools.tapwire.close()]);

    const scenarios: ScenarioResult[] = [];
    let sentToTapwire = 0;
    let streamedToTapwire = 0;
    for (const scenario of SCENARIOS) {
      const load = mergeLoadResults(parts.get(scenario)!);
      const used = cpu.get(scenario)!;
      if (scenario.target === 'tapwire') {
        sentToTapwire += load.sent;
        if (scenario.stream) streamedToTapwire += load.sent;
      }
      const probe = probes.get(scenario)!;
      scenarios.push({
        name: scenario.name,
        target: scenario.target,
        stream: scenario.stream,
        sent: load.sent,
        measuredSent: load.measuredSent,
        ok: load.measuredOk,
        errorCount: load.errorCount,
        errors: load.errors,
        warmupErrors: load.warmupErrors,
        achievedRate: load.measuredCompleted / (load.measuredWallMs / 1000),
        responseBytesPerRequest: load.measuredOk > 0 ? Math.round(load.responseBytes / load.measuredOk) : 0,
        latencyMs: percentiles(load.latencyMs),
        firstByteMs: scenario.stream ? percentiles(load.firstByteMs) : null,
        startLagMs: percentiles(load.startLagMs),
        tapwireCpuPercent: scenario.target === 'tapwire' && Number.isFinite(used.tapwire) ? (used.tapwire / used.wall) * 100 : null,
        upstreamCpuPercent: Number.isFinite(used.upstream) ? (used.upstream / used.wall) * 100 : null,
        generatorCpuPercent: (used.generator / used.wall) * 100,
        machineBusyPercent: Number.isFinite(used.machineBusy) ? (used.machineBusy / used.machineAll) * 100 : null,
        machineStealPercent: Number.isFinite(used.machineSteal) ? (used.machineSteal / used.machineAll) * 100 : null,
        tapwireProbe: probe.length > 0 ? combineProbes(probe) : null,
      });
    }

    // A graceful stop flushes every queued record; only then is the count final.
    const tapwireExitCode = await stopChild(sidecar.child, 'SIGTERM', 20_000);
    await stopChild(upstream.child, 'SIGTERM', 5_000);
    const counted = countRecords(sidecar.dbPath);
    const records: RecordCheck = {
      expected: sentToTapwire,
      recorded: counted.all,
      expectedStreamed: streamedToTapwire,
      recordedStreamed: counted.streamed,
      recordedOk: counted.ok,
      tapwireExitCode,
      passed: tapwireExitCode === 0 && counted.all === sentToTapwire && counted.streamed === streamedToTapwire,
    };

    const added: AddedLatency[] = [false, true].map((stream) => {
      const direct = scenarios.find((s) => s.target === 'direct' && s.stream === stream)!;
      const tapwire = scenarios.find((s) => s.target === 'tapwire' && s.stream === stream)!;
      const p99 = tapwire.latencyMs.p99 - direct.latencyMs.p99;
      return {
        kind: stream ? 'stream' : 'non-stream',
        p50: tapwire.latencyMs.p50 - direct.latencyMs.p50,
        p99,
        firstByteP50: stream ? tapwire.firstByteMs!.p50 - direct.firstByteMs!.p50 : null,
        firstByteP99: stream ? tapwire.firstByteMs!.p99 - direct.firstByteMs!.p99 : null,
        meetsTarget: p99 < TARGET_ADDED_P99_MS,
      };
    });

    const report: BenchReport = {
      date: startedAt.toISOString().slice(0, 10),
      startedAt: startedAt.toISOString(),
      machine: describeMachine(pkg.version),
      parameters,
      scenarios,
      added,
      records,
    };
    const probeText = probeTable(scenarios);
    console.log(
      `\nLatency in ms (scheduled start to last body byte):\n\n${latencyTable(scenarios)}\n\n${addedTable(added)}\n\n` +
        `${probeText ? `${probeText}\n\n` : ''}${recordLine(records)}`,
    );
    const written = writeResults(RESULTS_DIR, report);
    console.log(`\nwrote ${written.json} and ${written.readme}`);
    if (profileDir) console.log(`tapwire CPU profile written to ${profileDir}`);
    const errors = scenarios.reduce((n, s) => n + s.errorCount, 0);
    if (!records.passed) {
      keepDir = true;
      console.error(`record check failed; the database and tapwire's log are kept in ${dir}`);
    }
    return records.passed && errors === 0 ? 0 : 1;
  } catch (err) {
    keepDir = true;
    console.error(`\nbench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n(temp dir kept: ${dir})`);
    return 1;
  } finally {
    killAllChildren();
    if (!keepDir) rmSync(dir, { recursive: true, force: true });
  }
}

process.on('exit', killAllChildren);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killAllChildren();
    if (removeOnSignal) rmSync(removeOnSignal, { recursive: true, force: true });
    process.exit(130);
  });
}
process.exitCode = await main();
