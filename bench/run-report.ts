// The comparative bench's report: every number of a run, the targets of issues 11 and 23
// (a sidecar's footprint beside the bare pass-through) judged met or not, the Markdown printed at the end and kept in bench/results/README.md, and the JSON
// results file. Rendering only; the numbers come from the scenarios.
import type { BenchSize } from './context.js';
import { PEER_LABELS, type PeerName, type RecordCheck } from './peers.js';
import type { InstallResult } from './install-size.js';
import type { PolicyTiming } from './policy-eval.js';
import { markdownTable, recordChecksTable, writeResultsJson, type Machine } from './report.js';
import { putResultsSection } from './results-readme.js';
import type { LatencyRow } from './scenario-latency.js';
import type { Pinning, SaturationRow } from './scenario-saturation.js';
import type { StartupResult } from './scenario-startup.js';
import type { StoreResult } from './scenario-store.js';
import type { MemoryResult, StreamRow } from './scenario-streaming.js';

export interface Target {
  name: string;
  /** The bar, in words. */
  target: string;
  measured: string;
  met: boolean;
}

export interface RunReport {
  kind: 'tapwire comparative bench';
  quick: boolean;
  date: string;
  startedAt: string;
  durationSeconds: number;
  /** BENCH_NOTE: e.g. that the machine was busy with other work. */
  note: string | null;
  machine: Machine & { loadAverageAtStart: number[]; loadAverageAtEnd: number[] };
  versions: Record<string, string>;
  size: BenchSize;
  peers: Record<PeerName, string>;
  latency: LatencyRow[];
  saturation: { pinning: Pinning; rows: SaturationRow[] };
  streaming: StreamRow[];
  /** tapwire everything on; memoryRecordingOnly and startupRecordingOnly: recording only. */
  memory: MemoryResult;
  memoryRecordingOnly: MemoryResult;
  /** The bare pass-through's RSS before any load. */
  bareIdleBytes: number | null;
  store: StoreResult;
  startup: StartupResult;
  startupRecordingOnly: StartupResult;
  policyEval: PolicyTiming[];
  install: InstallResult;
  records: RecordCheck[];
  targets: Target[];
}

const MB = 1_000_000;
const f = (v: number | null | undefined, digits = 3): string => (v === null || v === undefined || Number.isNaN(v) ? '–' : v.toFixed(digits));
const signed = (v: number, digits = 3): string => `${v >= 0 ? '+' : ''}${v.toFixed(digits)}`;

/** The issue's targets, judged on this run's numbers (latency at the highest rate measured). */
export function judgeTargets(r: Omit<RunReport, 'targets'>): Target[] {
  const targets: Target[] = [];
  const rate = Math.max(...r.size.rates);
  for (const workload of ['llm', 'mcp'] as const) {
    const row = (peer: PeerName): LatencyRow | undefined => r.latency.find((l) => l.workload === workload && l.rate === rate && l.peer === peer);
    const direct = row('direct');
    const tapwire = row('tapwire');
    if (!direct || !tapwire) continue;
    const p50 = tapwire.latencyMs.p50 - direct.latencyMs.p50;
    const p99 = tapwire.latencyMs.p99 - direct.latencyMs.p99;
    const what = workload === 'llm' ? 'chat completion' : 'MCP tools/call';
    targets.push({ name: `p50 added, ${what}, ${rate}/s`, target: '≤ 0.3 ms', measured: `${signed(p50)} ms`, met: p50 <= 0.3 });
    targets.push({ name: `p99 added, ${what}, ${rate}/s`, target: '≤ 1.5 ms', measured: `${signed(p99)} ms`, met: p99 <= 1.5 });
  }
  const sat = (peer: PeerName): SaturationRow | undefined => r.saturation.rows.find((s) => s.peer === peer);
  const node = sat('node');
  const tapwireSat = sat('tapwire');
  if (node && tapwireSat) {
    const share = tapwireSat.requestsPerSecond / node.requestsPerSecond;
    targets.push({ name: 'saturation vs bare Node pass-through', target: '≥ 70%', measured: `${(share * 100).toFixed(0)}% (${tapwireSat.requestsPerSecond.toFixed(0)} vs ${node.requestsPerSecond.toFixed(0)} req/s)`, met: share >= 0.7 });
  }
  const stream = (peer: PeerName): StreamRow | undefined => r.streaming.find((s) => s.peer === peer);
  const sDirect = stream('direct');
  const sNode = stream('node');
  const sTapwire = stream('tapwire');
  if (sDirect && sNode && sTapwire) {
    const nodeAdded = sNode.firstEventMs.p99 - sDirect.firstEventMs.p99;
    const added = sTapwire.firstEventMs.p99 - sDirect.firstEventMs.p99;
    targets.push({ name: 'time to first event added, p99', target: `≤ pass-through's + 1 ms (${f(nodeAdded + 1)} ms)`, measured: `${signed(added)} ms`, met: added <= nodeAdded + 1 });
    targets.push({ name: 'streamed events not batched', target: `${sTapwire.events} chunks per stream, as direct`, measured: `${f(sTapwire.chunksP50, 0)} (direct ${f(sDirect.chunksP50, 0)})`, met: sTapwire.chunksP50 >= sDirect.chunksP50 });
  }
  const m = r.memory;
  targets.push({ name: `RSS under ${m.streams} concurrent streams`, target: '≤ 150 MB', measured: `${f((m.peakBytes ?? NaN) / MB, 1)} MB`, met: m.peakBytes !== null && m.peakBytes <= 150 * MB });
  targets.push({ name: 'RSS idle', target: '≤ 80 MB', measured: `${f((m.idleBytes ?? NaN) / MB, 1)} MB`, met: m.idleBytes !== null && m.idleBytes <= 80 * MB });
  targets.push({ name: 'exchanges committed to SQLite', target: '≥ 20,000/s', measured: `${r.store.exchangesPerSecond.toFixed(0)}/s`, met: r.store.exchangesPerSecond >= 20_000 });
  targets.push({ name: 'start-up to first proxied request, p50', target: '≤ 300 ms', measured: `${f(r.startup.firstProxiedMs.p50, 0)} ms`, met: r.startup.firstProxiedMs.p50 <= 300 });
  for (const timing of r.policyEval.filter((t) => t.label.startsWith('decision'))) {
    targets.push({ name: `policy ${timing.label}, median`, target: '< 50 µs', measured: `${timing.median_us.toFixed(1)} µs`, met: timing.median_us < 50 });
  }
  targets.push(...footprintTargets(r));
  const failed = r.records.filter((c) => !c.passed);
  targets.push({ name: 'one exchange recorded per request, every scenario', target: `${r.records.length} databases`, measured: failed.length === 0 ? 'all exact' : `${failed.length} off: ${failed.map((c) => c.scenario).join(', ')}`, met: failed.length === 0 });
  return targets;
}

/** One row of issue 23's table: the bare pass-through, tapwire recording only, tapwire everything on, and the bar for everything on. */
interface FootprintRow {
  what: string;
  bare: number | null;
  recording: number | null;
  tapwire: number | null;
  /** The bar for everything on, from bare's value (an absolute bar ignores it). */
  bar: (bare: number) => number;
  /** Higher is better (throughput) or lower is better. */
  higherIsBetter: boolean;
  barText: string;
  unit: string;
  digits: number;
}

function footprintRows(r: Omit<RunReport, 'targets'>): FootprintRow[] {
  const rate = Math.max(...r.size.rates);
  const sat = (peer: PeerName): SaturationRow | undefined => r.saturation.rows.find((s) => s.peer === peer);
  const lat = (peer: PeerName): number | null => {
    const direct = r.latency.find((l) => l.workload === 'llm' && l.rate === rate && l.peer === 'direct');
    const row = r.latency.find((l) => l.workload === 'llm' && l.rate === rate && l.peer === peer);
    return direct && row ? row.latencyMs.p50 - direct.latencyMs.p50 : null;
  };
  const firstEvent = (peer: PeerName): number | null => r.streaming.find((s) => s.peer === peer)?.firstEventMs.p99 ?? null;
  const mb = (bytes: number | null): number | null => (bytes === null ? null : bytes / MB);
  const rows: FootprintRow[] = [
    { what: 'saturation, req/s (one core)', bare: sat('node')?.requestsPerSecond ?? null, recording: sat('recording')?.requestsPerSecond ?? null, tapwire: sat('tapwire')?.requestsPerSecond ?? null, bar: (b) => 0.8 * b, higherIsBetter: true, barText: '≥ 0.8× bare', unit: '', digits: 0 },
    { what: 'proxy CPU-ms per 1k requests at saturation', bare: sat('node')?.proxyCpuMsPer1k ?? null, recording: sat('recording')?.proxyCpuMsPer1k ?? null, tapwire: sat('tapwire')?.proxyCpuMsPer1k ?? null, bar: (b) => 1.25 * b, higherIsBetter: false, barText: '≤ 1.25× bare', unit: ' ms', digits: 0 },
    { what: `added p50 at ${rate}/s over direct (chat completion)`, bare: lat('node'), recording: lat('recording'), tapwire: lat('tapwire'), bar: (b) => b + 0.05, higherIsBetter: false, barText: '≤ bare + 0.05 ms', unit: ' ms', digits: 3 },
    { what: 'stream time to first event, p99', bare: firstEvent('node'), recording: firstEvent('recording'), tapwire: firstEvent('tapwire'), bar: (b) => b + 1, higherIsBetter: false, barText: '≤ bare + 1 ms', unit: ' ms', digits: 2 },
    { what: 'RSS idle', bare: mb(r.bareIdleBytes), recording: mb(r.memoryRecordingOnly.idleBytes), tapwire: mb(r.memory.idleBytes), bar: () => 60, higherIsBetter: false, barText: '≤ 60 MB', unit: ' MB', digits: 1 },
    { what: `RSS, ${r.memory.streams} concurrent streams`, bare: null, recording: mb(r.memoryRecordingOnly.peakBytes), tapwire: mb(r.memory.peakBytes), bar: () => 150, higherIsBetter: false, barText: '≤ 150 MB', unit: ' MB', digits: 1 },
    { what: 'start to first proxied request, p50', bare: null, recording: r.startupRecordingOnly.firstProxiedMs.p50, tapwire: r.startup.firstProxiedMs.p50, bar: () => 250, higherIsBetter: false, barText: '≤ 250 ms', unit: ' ms', digits: 0 },
  ];
  return rows;
}

/** Issue 23's targets, for tapwire everything on: each against the bare pass-through of the same run, or an absolute bar. */
function footprintTargets(r: Omit<RunReport, 'targets'>): Target[] {
  const targets: Target[] = [];
  for (const row of footprintRows(r)) {
    const relative = row.barText.includes('bare');
    if (row.tapwire === null || (relative && row.bare === null)) continue;
    const bar = row.bar(row.bare ?? 0);
    const met = row.higherIsBetter ? row.tapwire >= bar : row.tapwire <= bar;
    const against = relative ? ` (bar ${f(bar, row.digits)}${row.unit})` : '';
    targets.push({ name: `footprint: ${row.what}, everything on`, target: row.barText, measured: `${f(row.tapwire, row.digits)}${row.unit}${against}`, met });
  }
  return targets;
}

/** Issue 23's table: each row for the bare pass-through and both tapwires, and the production install. */
export function footprintTable(r: RunReport): string {
  const cell = (v: number | null, row: FootprintRow): string => {
    if (v === null) return '–';
    const ratio = row.bare !== null && row.barText.includes('×') ? ` (${(v / row.bare).toFixed(2)}×)` : '';
    return `${f(v, row.digits)}${row.unit}${ratio}`;
  };
  const install = r.install;
  return [
    markdownTable(
      ['', PEER_LABELS.node, PEER_LABELS.recording, PEER_LABELS.tapwire, 'target (everything on)'],
      footprintRows(r).map((row) => [row.what, cell(row.bare, row), cell(row.recording, row), cell(row.tapwire, row), row.barText]),
    ),
    '',
    `Production install (\`npm pack\`, installed with production dependencies only): ${f(install.nodeModulesBytes / MB, 1)} MB under node_modules in ${install.packages} packages, ` +
      `tarball ${f(install.tarballBytes / 1000, 0)} kB; \`tapwire run\` from it ${install.runAnswered ? 'answered' : 'DID NOT answer'}; \`tapwire demo\` exited ${String(install.demoExitCode)}: "${install.demoMessage}".`,
  ].join('\n');
}

function latencyTables(r: RunReport): string[] {
  const out: string[] = [];
  for (const workload of ['llm', 'mcp'] as const) {
    for (const rate of r.size.rates) {
      const rows = r.latency.filter((l) => l.workload === workload && l.rate === rate);
      const direct = rows.find((l) => l.peer === 'direct');
      if (!direct) continue;
      out.push(`${workload === 'llm' ? 'Non-streamed chat completion' : 'MCP tools/call'} at ${rate} req/s (ms, from the scheduled send time):`, '');
      out.push(
        markdownTable(
          ['peer', 'ok', 'errors', 'p50', 'p90', 'p99', 'added p50', 'added p99', 'proxy CPU'],
          rows.map((l) => [
            PEER_LABELS[l.peer],
            String(l.ok),
            String(l.measuredSent - l.ok),
            f(l.latencyMs.p50),
            f(l.latencyMs.p90),
            f(l.latencyMs.p99),
            l.peer === 'direct' ? '–' : signed(l.latencyMs.p50 - direct.latencyMs.p50),
            l.peer === 'direct' ? '–' : signed(l.latencyMs.p99 - direct.latencyMs.p99),
            l.proxyCpuPercent === null ? '–' : `${l.proxyCpuPercent.toFixed(0)}%`,
          ]),
        ),
        '',
      );
    }
  }
  return out;
}

export function markdown(r: RunReport): string {
  const m = r.machine;
  const s = r.size;
  const direct = r.saturation.rows.find((x) => x.peer === 'direct');
  const sDirect = r.streaming.find((x) => x.peer === 'direct');
  const pin = r.saturation.pinning;
  return [
    `## ${r.quick ? 'Quick run' : 'Run'}, ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC`,
    '',
    ...(r.note ? [`**${r.note}**`, ''] : []),
    `- Machine: ${m.cpu}, ${m.cpuCount} CPUs, ${m.memoryGiB} GiB, ${m.os}; load average ${m.loadAverageAtStart.map((v) => v.toFixed(2)).join(' ')} at the start, ${m.loadAverageAtEnd.map((v) => v.toFixed(2)).join(' ')} at the end.`,
    `- Versions: ${Object.entries(r.versions).map(([k, v]) => `${k} ${v}`).join(', ')}.`,
    `- Took ${r.durationSeconds.toFixed(0)} s. tapwire "everything on": recording to SQLite, 10 policy rules, spans and metrics exported over OTLP/HTTP to a local endpoint that accepts and discards; "recording only": the defaults (recording, no policies, no export). A fresh tapwire per scenario.`,
    `- Upstream: a mock OpenAI and MCP server (node:http, one process); requests ~300 B, answers ~1 KB.`,
    '',
    '### Targets',
    '',
    markdownTable(['target', 'bar', 'measured', 'met'], r.targets.map((t) => [t.name, t.target, t.measured, t.met ? 'met' : 'NOT MET'])),
    '',
    '### Footprint of one sidecar (issue 23)',
    '',
    footprintTable(r),
    '',
    '### 1. Added latency, open loop',
    '',
    `${s.latencySeconds} s measured per peer (after ${s.latencyWarmupSeconds} s warm-up), in ${s.latencyRounds} interleaved rounds; load from a separate process.`,
    '',
    ...latencyTables(r),
    '### 2. Throughput at saturation (wrk)',
    '',
    `wrk, 1 thread, ${s.wrkConnections} connections, ${s.wrkSeconds} s (after ${s.wrkWarmupSeconds} s unmeasured), non-streamed chat completions; ` +
      (pin.loadCpu === null ? 'not pinned (one CPU).' : `wrk on CPU ${pin.loadCpu}, upstream and proxy on CPU ${pin.serverCpu}.`),
    '',
    markdownTable(
      ['peer', 'req/s', '× direct', 'proxy CPU-ms / 1k', 'upstream CPU-ms / 1k', 'wrk p99 ms', 'errors'],
      r.saturation.rows.map((x) => [
        PEER_LABELS[x.peer],
        x.requestsPerSecond.toFixed(0),
        direct ? (x.requestsPerSecond / direct.requestsPerSecond).toFixed(2) : '–',
        f(x.proxyCpuMsPer1k, 0),
        f(x.upstreamCpuMsPer1k, 0),
        f(x.wrkLatencyP99Ms, 2),
        String(x.errors),
      ]),
    ),
    '',
    '### 3. Streaming',
    '',
    `${s.streamConcurrency} concurrent streams × ${s.streamRounds} rounds per peer after one unmeasured round, ${r.streaming[0]?.events ?? '?'} events ${s.streamEventDelayMs} ms apart (ms, from the send). ` +
      'The unmeasured round is a fresh tapwire\'s first requests: its first-event p99 is shown apart.',
    '',
    markdownTable(
      ['peer', 'ok', 'first event p50', 'first event p99', 'added p99', 'total p50', 'total p99', 'chunks per stream', 'first round: first event p99'],
      r.streaming.map((x) => [
        PEER_LABELS[x.peer],
        `${x.ok}/${x.sent}`,
        f(x.firstEventMs.p50, 2),
        f(x.firstEventMs.p99, 2),
        sDirect && x.peer !== 'direct' ? signed(x.firstEventMs.p99 - sDirect.firstEventMs.p99, 2) : '–',
        f(x.totalMs.p50, 1),
        f(x.totalMs.p99, 1),
        `${f(x.chunksP50, 0)} of ${x.events}`,
        f(x.firstRoundFirstEventMs.p99, 2),
      ]),
    ),
    '',
    '### 4–7. Memory, store, start-up, policy evaluation',
    '',
    `- tapwire RSS: ${f((r.memory.idleBytes ?? NaN) / MB, 1)} MB idle (fresh, 1 s after start); ${f((r.memory.peakBytes ?? NaN) / MB, 1)} MB at the peak of ${r.memory.streams} concurrent streams ` +
      `(${r.memory.ok} ok); ${f((r.memory.afterBytes ?? NaN) / MB, 1)} MB 2 s after them.`,
    `- Store: ${r.store.committed.toLocaleString('en-US')} exchanges (copies of a recorded chat completion, ${r.store.templateBodyBytes} B of bodies each) committed through tapwire's recorder in ` +
      `${r.store.seconds.toFixed(1)} s: ${r.store.exchangesPerSecond.toFixed(0)} exchanges/s sustained; database ${f(r.store.dbBytes / MB, 1)} MB, ` +
      `${r.store.committed === 1_000_000 ? '' : 'extrapolated linearly to '}${f(r.store.dbBytesPer1M / MB, 0)} MB per 1M exchanges; ` +
      `RSS of the recording process after all of them: ${f(r.store.rssBytes / MB, 1)} MB.`,
    `- tapwire recording only, RSS: ${f((r.memoryRecordingOnly.idleBytes ?? NaN) / MB, 1)} MB idle; ${f((r.memoryRecordingOnly.peakBytes ?? NaN) / MB, 1)} MB at the peak of ${r.memoryRecordingOnly.streams} concurrent streams ` +
      `(${r.memoryRecordingOnly.ok} ok); ${f((r.memoryRecordingOnly.afterBytes ?? NaN) / MB, 1)} MB 2 s after them. The bare pass-through: ${f((r.bareIdleBytes ?? NaN) / MB, 1)} MB before any load.`,
    `- Start-up to the first proxied request: p50 ${f(r.startup.firstProxiedMs.p50, 0)} ms, max ${f(r.startup.firstProxiedMs.max, 0)} ms over ${r.startup.runs} runs; ` +
      `recording only p50 ${f(r.startupRecordingOnly.firstProxiedMs.p50, 0)} ms, max ${f(r.startupRecordingOnly.firstProxiedMs.max, 0)} ms.`,
    `- Policy evaluation: ${r.policyEval.map((t) => `${t.label} median ${t.median_us.toFixed(1)} µs (p99 ${t.p99_us.toFixed(1)})`).join('; ')}.`,
    '',
    '### Records',
    '',
    recordChecksTable(r.records),
    '',
  ].join('\n');
}

/** Writes the JSON results file; for a full run, also its section of README.md. */
export function writeRunResults(dir: string, report: RunReport): string {
  const file = writeResultsJson(dir, 'bench', report);
  if (!report.quick) putResultsSection(dir, `bench ${report.date}`, markdown(report));
  return file;
}
