// Reporting for the latency deep dive (latency.ts): the machine description, the Markdown
// tables printed to stdout and written to bench/results/README.md (one section per date,
// replaced on rerun), and the JSON results file.
import { cpus, totalmem, platform, release } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { putResultsSection } from './results-readme.js';
import { join } from 'node:path';
import type { RecordCheck as PeerRecordCheck } from './peers.js';
import type { Percentiles } from './stats.js';
import type { ProbeSample } from './tapwire-probe.js';

export const TARGET_ADDED_P99_MS = 1;

export interface Machine {
  os: string;
  cpu: string;
  cpuCount: number;
  memoryGiB: number;
  node: string;
  tapwire: string;
}

export interface BenchParameters {
  rate: number;
  warmupSeconds: number;
  measuredSeconds: number;
  /** The measured seconds are split into this many interleaved slices per scenario. */
  rounds: number;
  chunkDelayMs: number;
  /** Whether the agent's streamed requests ask for usage themselves (else tapwire adds and strips it). */
  agentAsksForUsage: boolean;
  flushIntervalMs: string;
  tapwireLogLevel: string;
  requestBytes: { nonStream: number; stream: number };
  /** BENCH_OTLP: the state of the OTLP endpoint a second, exporting tapwire sends to; null without. */
  otlp: string | null;
}

/** Where a scenario's requests go: the upstream, tapwire, or tapwire exporting to OTLP (BENCH_OTLP). */
export type Target = 'direct' | 'tapwire' | 'tapwire-otlp';

export interface ScenarioResult {
  name: string;
  target: Target;
  stream: boolean;
  sent: number;
  measuredSent: number;
  ok: number;
  errorCount: number;
  errors: Record<string, number>;
  warmupErrors: number;
  achievedRate: number;
  responseBytesPerRequest: number;
  latencyMs: Percentiles;
  firstByteMs: Percentiles | null;
  startLagMs: Percentiles;
  /** CPU the tapwire process used during the scenario, in % of one core (Linux only). */
  tapwireCpuPercent: number | null;
  upstreamCpuPercent: number | null;
  /** CPU of this process (the load generator), in % of one core. */
  generatorCpuPercent: number;
  /** All CPUs of the machine: busy and stolen by the hypervisor, in % of all CPU time (Linux only). */
  machineBusyPercent: number | null;
  machineStealPercent: number | null;
  /** tapwire's event-loop delay and GC during the scenario, when BENCH_PROBE=1. */
  tapwireProbe: ProbeSample | null;
}

export interface AddedLatency {
  /** e.g. `non-stream` (tapwire over direct), `stream, export over no export`. */
  kind: string;
  p50: number;
  p99: number;
  firstByteP50: number | null;
  firstByteP99: number | null;
  meetsTarget: boolean;
}

export interface RecordCheck {
  expected: number;
  recorded: number;
  expectedStreamed: number;
  recordedStreamed: number;
  recordedOk: number;
  tapwireExitCode: number | null;
  passed: boolean;
}

export interface BenchReport {
  date: string;
  startedAt: string;
  machine: Machine;
  parameters: BenchParameters;
  scenarios: ScenarioResult[];
  added: AddedLatency[];
  records: RecordCheck;
  /** The exporting tapwire's record check (BENCH_OTLP runs). */
  otlpRecords: RecordCheck | null;
  /** Export requests the OTLP endpoint received (BENCH_OTLP runs; 0 when it is down). */
  otlpRequestsReceived: number | null;
}

export function describeMachine(tapwireVersion: string): Machine {
  const cores = cpus();
  return {
    os: `${platform()} ${release()}`,
    cpu: cores[0]?.model.trim() ?? 'unknown',
    cpuCount: cores.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    tapwire: tapwireVersion,
  };
}

const ms = (v: number | null | undefined): string => (v === null || v === undefined || Number.isNaN(v) ? '–' : v.toFixed(3));
const pct = (v: number | null): string => (v === null ? '–' : `${v.toFixed(0)}%`);
const signedMs = (v: number | null): string => (v === null ? '–' : `${v >= 0 ? '+' : ''}${v.toFixed(3)}`);

/** A Markdown table, first column left-aligned, the others right-aligned. */
export function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** The record checks as a table: each scenario's requests against what the database holds. */
export function recordChecksTable(records: readonly PeerRecordCheck[]): string {
  return markdownTable(
    ['records', 'requests', 'recorded', 'ok', 'exit', 'exact'],
    records.map((c) => [c.scenario, String(c.sent), String(c.recorded), String(c.ok), String(c.exitCode), c.passed ? 'yes' : 'NO']),
  );
}

/** Writes a results file, `<name>-<date>.json` (`-quick` for a quick run), and returns its path. */
export function writeResultsJson(dir: string, name: string, report: { date: string; quick: boolean }): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}-${report.date}${report.quick ? '-quick' : ''}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}

export function latencyTable(scenarios: ScenarioResult[]): string {
  return markdownTable(
    ['scenario', 'sent', 'ok', 'errors', 'req/s', 'p50', 'p90', 'p99', 'p99.9', 'max', '1st byte p50', '1st byte p99', 'gen lag p99', 'tapwire CPU'],
    scenarios.map((s) => [
      s.name,
      String(s.measuredSent),
      String(s.ok),
      String(s.errorCount),
      s.achievedRate.toFixed(1),
      ms(s.latencyMs.p50),
      ms(s.latencyMs.p90),
      ms(s.latencyMs.p99),
      ms(s.latencyMs.p999),
      ms(s.latencyMs.max),
      ms(s.firstByteMs?.p50),
      ms(s.firstByteMs?.p99),
      ms(s.startLagMs.p99),
      s.tapwireCpuPercent === null ? '–' : `${s.tapwireCpuPercent.toFixed(0)}%`,
    ]),
  );
}

export function addedTable(added: AddedLatency[]): string {
  return markdownTable(
    ['added', 'p50', 'p99', '1st byte p50', '1st byte p99', `target p99 < ${TARGET_ADDED_P99_MS} ms`],
    added.map((a) => [a.kind, signedMs(a.p50), signedMs(a.p99), signedMs(a.firstByteP50), signedMs(a.firstByteP99), a.meetsTarget ? 'met' : 'MISSED']),
  );
}

/** tapwire's own event-loop delay and GC per tapwire scenario (BENCH_PROBE=1 runs only). */
export function probeTable(scenarios: ScenarioResult[]): string | null {
  const probed = scenarios.filter((s) => s.tapwireProbe);
  if (probed.length === 0) return null;
  return markdownTable(
    ['inside tapwire', 'loop delay p50', 'loop delay p99', 'loop delay max', 'GCs', 'GC total ms', 'GC max ms'],
    probed.map((s) => {
      const p = s.tapwireProbe!;
      return [s.name, ms(p.loopDelayMs.p50), ms(p.loopDelayMs.p99), ms(p.loopDelayMs.max), String(p.gc.count), ms(p.gc.totalMs), ms(p.gc.maxMs)];
    }),
  );
}

export function recordLine(r: RecordCheck, who = 'tapwire'): string {
  return (
    `Records: ${who} was sent ${r.expected} requests (warm-up included; ${r.expectedStreamed} streamed) and recorded ` +
    `${r.recorded} (${r.recordedStreamed} streamed, ${r.recordedOk} ok); exit code ${String(r.tapwireExitCode)}: ` +
    (r.passed ? 'every request recorded.' : 'MISMATCH — the record is incomplete or tapwire did not stop cleanly.')
  );
}

export function markdownSection(report: BenchReport): string {
  const m = report.machine;
  const p = report.parameters;
  const errors = report.scenarios.filter((s) => s.errorCount > 0).map((s) => `${s.name}: ${JSON.stringify(s.errors)}`);
  return [
    `## Latency, ${report.date}${p.otlp ? `, OTLP endpoint ${p.otlp}` : ''}`,
    '',
    `Aim: < ${TARGET_ADDED_P99_MS} ms added at p99 at 500 req/s.`,
    '',
    `- Machine: ${m.cpu}, ${m.cpuCount} CPUs, ${m.memoryGiB} GiB, ${m.os}; Node ${m.node}; tapwire ${m.tapwire}`,
    `- Run started ${report.startedAt}`,
    `- Open-loop load at ${p.rate} req/s: ${p.warmupSeconds} s warm-up then ${p.measuredSeconds} s measured per scenario, ` +
      `in ${p.rounds} interleaved rounds; latency from each request's scheduled start to its last body byte ` +
      '(coordinated omission corrected). "gen lag" is how late the load generator itself started requests.',
    `- Processes: load generator (undici Pool, keep-alive), mock OpenAI upstream (forked child), ` +
      `tapwire (\`node dist/bundle/cli.js run --config …\`, package.json's bin), all on 127.0.0.1.`,
    `- Requests: ${p.requestBytes.nonStream} B chat completion; streamed ${p.requestBytes.stream} B, ` +
      (p.agentAsksForUsage
        ? 'asking for usage itself (stream_options.include_usage).'
        : 'not asking for usage, so tapwire adds stream_options.include_usage upstream and strips the usage chunk back out.'),
    `- Upstream: canned completion with usage; streams of 12 events + [DONE] (+ usage chunk when asked), ` +
      (p.chunkDelayMs > 0 ? `${p.chunkDelayMs} ms between events.` : 'written back to back with no delay.'),
    `- CPU (% of one core) tapwire / upstream / load generator, and machine busy % of all ${m.cpuCount} CPUs: ` +
      report.scenarios
        .map((s) => `${s.name} ${pct(s.tapwireCpuPercent)} / ${pct(s.upstreamCpuPercent)} / ${pct(s.generatorCpuPercent)}, machine ${pct(s.machineBusyPercent)}`)
        .join('; ') +
      '.',
    `- Recording on: SQLite in a temp dir, flush interval ${p.flushIntervalMs}; tapwire log level ${p.tapwireLogLevel}, logs to a file.`,
    ...(p.otlp
      ? [
          `- OTLP export (BENCH_OTLP=${p.otlp}): a second tapwire, the same but for spans and metrics (every second) exported ` +
            `to an OTLP/HTTP endpoint that is ${p.otlp === 'down' ? 'down (nothing listens on its port)' : p.otlp === 'hanging' ? 'hanging (accepts, never answers)' : 'accepting (answers 200)'}, ` +
            `gets the same load in the same interleaved rounds; it received ${String(report.otlpRequestsReceived)} export requests.`,
        ]
      : []),
    '',
    'Latency in ms:',
    '',
    latencyTable(report.scenarios),
    '',
    addedTable(report.added),
    '',
    ...(probeTable(report.scenarios) ? [probeTable(report.scenarios)!, ''] : []),
    recordLine(report.records),
    ...(report.otlpRecords ? ['', recordLine(report.otlpRecords, `tapwire exporting to OTLP ${p.otlp}`)] : []),
    ...(errors.length > 0 ? ['', `Errors: ${errors.join('; ')}`] : []),
    '',
  ].join('\n');
}

/** Writes latency-<date>.json and puts this date's section into README.md. Returns the paths. */
export function writeResults(dir: string, report: BenchReport): { json: string; readme: string } {
  mkdirSync(dir, { recursive: true });
  const key = report.parameters.otlp ? `${report.date}-otlp-${report.parameters.otlp}` : report.date;
  const json = join(dir, `latency-${key}.json`);
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  return { json, readme: putResultsSection(dir, `latency ${key}`, markdownSection(report)) };
}
