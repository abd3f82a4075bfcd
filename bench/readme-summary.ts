// Prints the summary README.md's "Benchmarks" section shows, from a results file of
// `npm run bench`, so the README's numbers always come from a file in bench/results/.
// Usage: node dist/bench/readme-summary.js bench/results/bench-<date>.json
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { PEER_LABELS, PEER_NAMES, type PeerName } from './peers.js';
import { footprintTable, type RunReport } from './run-report.js';

const file = process.argv[2];
if (!file) {
  console.error('usage: node dist/bench/readme-summary.js <bench results JSON>');
  process.exit(2);
}
const r = JSON.parse(readFileSync(file, 'utf8')) as RunReport;
const rate = Math.max(...r.size.rates);
const f = (v: number | undefined, digits: number): string => (v === undefined || Number.isNaN(v) ? '–' : v.toFixed(digits));
const signed = (v: number, digits: number): string => `${v >= 0 ? '+' : ''}${f(v, digits)}`;
const added = (workload: 'llm' | 'mcp', peer: PeerName, q: 'p50' | 'p99'): string => {
  const row = r.latency.find((l) => l.workload === workload && l.rate === rate && l.peer === peer);
  const direct = r.latency.find((l) => l.workload === workload && l.rate === rate && l.peer === 'direct');
  if (!row || !direct) return '–';
  return peer === 'direct' ? f(row.latencyMs[q], 2) : signed(row.latencyMs[q] - direct.latencyMs[q], 2);
};
const sat = (peer: PeerName): string => {
  const row = r.saturation.rows.find((s) => s.peer === peer);
  return row ? `${row.requestsPerSecond.toFixed(0)}${row.proxyCpuMsPer1k === null ? '' : ` (${row.proxyCpuMsPer1k.toFixed(0)})`}` : '–';
};
const ttfe = (peer: PeerName): string => {
  const row = r.streaming.find((s) => s.peer === peer);
  const direct = r.streaming.find((s) => s.peer === 'direct');
  if (!row || !direct) return '–';
  return peer === 'direct' ? f(row.firstEventMs.p99, 1) : signed(row.firstEventMs.p99 - direct.firstEventMs.p99, 1);
};
const lines = [
  `From [bench/results/${basename(file)}](bench/results/${basename(file)}) (${r.startedAt.slice(0, 10)}, ${r.machine.cpu}, ${r.machine.cpuCount} CPUs, Node ${r.machine.node}${r.quick ? ', quick run' : ''}).` +
    (r.note ? ` ${r.note}` : ''),
  '',
  `| peer | chat p50 / p99 at ${rate}/s, ms | MCP tools/call p50 / p99, ms | saturation, req/s (CPU-ms per 1k) | first event p99, ms |`,
  '|---|---:|---:|---:|---:|',
  ...PEER_NAMES.map((peer) =>
    `| ${PEER_LABELS[peer]} | ${added('llm', peer, 'p50')} / ${added('llm', peer, 'p99')} | ${peer === 'portkey' ? '–' : `${added('mcp', peer, 'p50')} / ${added('mcp', peer, 'p99')}`} | ${sat(peer)} | ${ttfe(peer)} |`,
  ),
  '',
  'Direct is the absolute time; every other peer shows what it adds over direct.',
  '',
  // Results from before issue 23 have no footprint rows.
  ...(r.memoryRecordingOnly && r.install
    ? ["One sidecar's footprint beside the bare pass-through (issue 23; absolute values, ratios to bare where the bar is one):", '', footprintTable(r), '']
    : []),
  'Targets:',
  '',
  ...r.targets.map((t) => `- ${t.met ? 'met' : '**not met**'}: ${t.name}, ${t.target}: ${t.measured}`),
];
console.log(lines.join('\n'));
