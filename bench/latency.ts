// `npm run bench:latency`: the latency tapwire adds over calling the upstream directly, at a fixed
// open-loop request rate, non-streamed and streamed, with recording on. Runs the mock
// upstream and tapwire as child processes, drives them from this process, checks that
// tapwire recorded every request it was sent, prints the tables and writes
// bench/results/latency-<date>.json and bench/results/README.md. Every child is stopped,
// on failure too. With BENCH_OTLP=down|hanging|accepting a second tapwire, exporting spans
// and metrics to an OTLP endpoint in that state, runs the same load beside the first, to
// show what export adds (results then go to latency-<date>-otlp-<mode>.json). Knobs (env):
// see README_HEAD in report.ts.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openRecordReader } from '../store/open.js';
import { benchMain, RESULTS_DIR } from './bench-main.js';
import { equals } from '../store/record-store.js';
import { loadPool, mergeLoadResults, runLoad, type LoadPlan, type LoadResult } from './load.js';
import { agentRequestBody } from './openai-fixtures.js';
import { otlpMode, startOtlpTarget } from './otlp-target.js';
import { startSidecarProcess, startUpstream, stopChild, stopChildrenOnExit, type SidecarProcess } from './processes.js';
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
  type Target,
} from './report.js';
import { cpuSeconds, machineTicks } from './proc.js';
import { percentiles } from './stats.js';
import type { ProbeSample } from './tapwire-probe.js';

const CHAT_PATH = '/v1/chat/completions';

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, got "${raw}"`);
  return value;
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
  target: Target;
  stream: boolean;
}

/** The scenarios, interleaved; with an OTLP mode, the exporting tapwire's after each plain one. */
function scenariosFor(mode: string | null): Scenario[] {
  return [false, true].flatMap((stream) => {
    const kind = stream ? 'stream' : 'non-stream';
    return [
      { name: `direct ${kind}`, target: 'direct' as const, stream },
      { name: `tapwire ${kind}`, target: 'tapwire' as const, stream },
      ...(mode ? [{ name: `otlp ${mode} ${kind}`, target: 'tapwire-otlp' as const, stream }] : []),
    ];
  });
}

/** What `measured` adds over `base` (both the same stream kind). */
function addedBetween(kind: string, base: ScenarioResult, measured: ScenarioResult): AddedLatency {
  const p99 = measured.latencyMs.p99 - base.latencyMs.p99;
  return {
    kind,
    p50: measured.latencyMs.p50 - base.latencyMs.p50,
    p99,
    firstByteP50: measured.stream ? measured.firstByteMs!.p50 - base.firstByteMs!.p50 : null,
    firstByteP99: measured.stream ? measured.firstByteMs!.p99 - base.firstByteMs!.p99 : null,
    meetsTarget: p99 < TARGET_ADDED_P99_MS,
  };
}

/** Stops a tapwire gracefully (every queued record flushed) and checks it recorded every request it was sent. */
async function checkRecords(sidecar: SidecarProcess, sent: number, streamed: number): Promise<RecordCheck> {
  const tapwireExitCode = await stopChild(sidecar.child, 'SIGTERM', 20_000);
  const counted = await countRecords(sidecar.dbPath);
  return {
    expected: sent,
    recorded: counted.all,
    expectedStreamed: streamed,
    recordedStreamed: counted.streamed,
    recordedOk: counted.ok,
    tapwireExitCode,
    passed: tapwireExitCode === 0 && counted.all === sent && counted.streamed === streamed,
  };
}

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

async function countRecords(dbPath: string): Promise<{ all: number; streamed: number; ok: number }> {
  const reader = await openRecordReader(dbPath);
  try {
    return { all: await reader.count(null), streamed: await reader.count(equals('exchange.streamed', 1)), ok: await reader.count(equals('exchange.status', 'ok')) };
  } finally {
    await reader.close();
  }
}

function main(): Promise<number> {
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
  const otlp = otlpMode(process.env.BENCH_OTLP);
  const SCENARIOS = scenariosFor(otlp);
  if (rate <= 0 || measuredSeconds <= 0) {
    console.error('bench:latency: BENCH_RATE and BENCH_SECONDS must be positive');
    return Promise.resolve(2);
  }
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
    otlp,
  };
  return benchMain('bench:latency', 'tapwire-bench-', async ({ dir, atEnd }) => {
    const probeOut = probeWanted ? join(dir, 'probe.jsonl') : undefined;
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
    const otlpTarget = otlp ? await startOtlpTarget(otlp) : null;
    if (otlpTarget) atEnd(() => otlpTarget.close());
    const otlpDir = join(dir, 'otlp');
    if (otlpTarget) mkdirSync(otlpDir);
    // The same tapwire with telemetry on (no profile or probe: only the export differs).
    const exporting: SidecarProcess | null = otlpTarget
      ? await startSidecarProcess({ dir: otlpDir, upstreamOrigin: upstream.origin, logLevel, nodeFlags: extraNodeFlags, env: {}, otlpEndpoint: otlpTarget.url })
      : null;
    const sidecars: Record<Exclude<Target, 'direct'>, SidecarProcess | null> = { tapwire: sidecar, 'tapwire-otlp': exporting };
    console.log(
      `tapwire ${pkg.version} bench: ${rate} req/s open-loop, ${warmupSeconds} s warm-up + ${measuredSeconds} s measured per scenario; ` +
        `upstream ${upstream.origin}, tapwire ${sidecar.origin}, db ${sidecar.dbPath}` +
        (exporting && otlpTarget ? `; exporting tapwire ${exporting.origin} -> OTLP endpoint ${otlp} at ${otlpTarget.url}` : ''),
    );

    const pools: Record<Target, ReturnType<typeof loadPool>> = {
      direct: loadPool(upstream.origin, 10_000),
      tapwire: loadPool(sidecar.origin, 10_000),
      'tapwire-otlp': loadPool(exporting?.origin ?? sidecar.origin, 10_000),
    };
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
        if (probeOut && scenario.target === 'tapwire') await signalProbe(sidecar, probeOut); // start the probe's interval afresh
        const measured = scenario.target === 'direct' ? null : sidecars[scenario.target];
        const before = {
          tapwire: measured ? cpuSeconds(measured.child.pid) : null,
          upstream: cpuSeconds(upstream.child.pid),
          generator: process.cpuUsage(),
          machine: machineTicks(),
          wall: performance.now(),
        };
        const part = await runLoad(pools[scenario.target], plan);
        const used = cpu.get(scenario)!;
        const machine = machineTicks();
        const generator = process.cpuUsage(before.generator);
        used.wall += (performance.now() - before.wall) / 1000;
        used.tapwire += (measured ? (cpuSeconds(measured.child.pid) ?? Number.NaN) : Number.NaN) - (before.tapwire ?? Number.NaN);
        used.upstream += (cpuSeconds(upstream.child.pid) ?? Number.NaN) - (before.upstream ?? Number.NaN);
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
    await Promise.all(Object.values(pools).map((pool) => pool.close()));

    const scenarios: ScenarioResult[] = [];
    const sent = { tapwire: { all: 0, streamed: 0 }, 'tapwire-otlp': { all: 0, streamed: 0 } };
    for (const scenario of SCENARIOS) {
      const load = mergeLoadResults(parts.get(scenario)!);
      const used = cpu.get(scenario)!;
      if (scenario.target !== 'direct') {
        sent[scenario.target].all += load.sent;
        if (scenario.stream) sent[scenario.target].streamed += load.sent;
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
        tapwireCpuPercent: scenario.target !== 'direct' && Number.isFinite(used.tapwire) ? (used.tapwire / used.wall) * 100 : null,
        upstreamCpuPercent: Number.isFinite(used.upstream) ? (used.upstream / used.wall) * 100 : null,
        generatorCpuPercent: (used.generator / used.wall) * 100,
        machineBusyPercent: Number.isFinite(used.machineBusy) ? (used.machineBusy / used.machineAll) * 100 : null,
        machineStealPercent: Number.isFinite(used.machineSteal) ? (used.machineSteal / used.machineAll) * 100 : null,
        tapwireProbe: probe.length > 0 ? combineProbes(probe) : null,
      });
    }

    // A graceful stop flushes every queued record; only then is the count final. The
    // exporting tapwire's stop waits at most 2 s more for its OTLP endpoint.
    const records = await checkRecords(sidecar, sent.tapwire.all, sent.tapwire.streamed);
    const otlpRecords = exporting ? await checkRecords(exporting, sent['tapwire-otlp'].all, sent['tapwire-otlp'].streamed) : null;
    await stopChild(upstream.child, 'SIGTERM', 5_000);

    const added: AddedLatency[] = [false, true].flatMap((stream) => {
      const kind = stream ? 'stream' : 'non-stream';
      const of = (target: Target): ScenarioResult | undefined => scenarios.find((s) => s.target === target && s.stream === stream);
      const direct = of('direct')!;
      const tapwire = of('tapwire')!;
      const exported = of('tapwire-otlp');
      return [
        addedBetween(kind, direct, tapwire),
        ...(exported ? [addedBetween(`${kind}, exporting to OTLP ${otlp}`, direct, exported), addedBetween(`${kind}, export over no export`, tapwire, exported)] : []),
      ];
    });

    const report: BenchReport = {
      date: startedAt.toISOString().slice(0, 10),
      startedAt: startedAt.toISOString(),
      machine: describeMachine(pkg.version),
      parameters,
      scenarios,
      added,
      records,
      otlpRecords,
      otlpRequestsReceived: otlpTarget?.requests() ?? null,
    };
    const probeText = probeTable(scenarios);
    console.log(
      `\nLatency in ms (scheduled start to last body byte):\n\n${latencyTable(scenarios)}\n\n${addedTable(added)}\n\n` +
        `${probeText ? `${probeText}\n\n` : ''}${recordLine(records)}` +
        (otlpRecords ? `\n${recordLine(otlpRecords, `tapwire exporting to OTLP ${otlp}`)} OTLP endpoint received ${String(report.otlpRequestsReceived)} export requests.` : ''),
    );
    const written = writeResults(RESULTS_DIR, report);
    console.log(`\nwrote ${written.json} and ${written.readme}`);
    if (profileDir) console.log(`tapwire CPU profile written to ${profileDir}`);
    const errors = scenarios.reduce((n, s) => n + s.errorCount, 0);
    if (!records.passed || otlpRecords?.passed === false) console.error(`record check failed; the database and tapwire's log are kept in ${dir}`);
    return records.passed && otlpRecords?.passed !== false && errors === 0;
  });
}

stopChildrenOnExit();
process.exitCode = await main();
