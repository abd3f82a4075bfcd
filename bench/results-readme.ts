// bench/results/README.md: a fixed head (what the files are, the knobs) and one dated
// section per run, each between `<!-- <key> -->` markers and replaced when the same key is
// written again. Shared by the comparative bench (run.ts) and the latency deep dive (latency.ts).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const HEAD = `# Benchmark results

\`npm run bench\` (bench/run.ts, the comparative bench: tapwire against direct calls, a bare Node
pass-through, nginx and the Portkey gateway) writes \`bench-<date>.json\` with every number of the
run and puts its summary below; \`npm run bench -- --quick\` writes \`bench-<date>-quick.json\` only.
bench/README.md describes the method and what was found.

\`npm run bench:latency\` (bench/latency.ts, one tapwire against direct calls, optionally beside one
exporting to an OTLP endpoint that is down, hanging or accepting) writes \`latency-<date>.json\`.
Its knobs: \`BENCH_RATE\` (req/s, default 500), \`BENCH_SECONDS\` (measured seconds per scenario,
default 15), \`BENCH_WARMUP_SECONDS\` (default 3), \`BENCH_ROUNDS\` (interleaved slices, default 5),
\`BENCH_PROBE=1\` (event-loop delay and GC inside tapwire), \`BENCH_CHUNK_DELAY_MS\` (upstream delay
between stream events), \`BENCH_INCLUDE_USAGE=1\` (agent asks for stream usage itself),
\`BENCH_LOG_LEVEL\`, \`BENCH_PROFILE=<dir>\` (tapwire runs with \`--cpu-prof\` into that directory;
summarise with \`node dist/bench/cpuprofile-summary.js <file> [top] [--skip <seconds>]\`),
\`BENCH_TAPWIRE_CLI\` (the entry tapwire runs from, default the package's \`bin\`; \`dist/cli/cli.js\`,
the unbundled build, gives profiles that name tapwire's files), \`BENCH_TAPWIRE_NODE_FLAGS\`,
\`BENCH_OTLP=down|hanging|accepting\` (results to \`latency-<date>-otlp-<mode>.json\`).
\`npm run bench:policy\` writes \`policy-eval-<date>.json\`.
`;

/** Puts `section` between the markers of `key` in dir/README.md (newest keys first). Returns the path. */
export function putResultsSection(dir: string, key: string, section: string): string {
  const readme = join(dir, 'README.md');
  const start = `<!-- ${key} -->`;
  const end = `<!-- /${key} -->`;
  const block = `${start}\n${section.trimEnd()}\n${end}\n`;
  const previous = existsSync(readme) ? readFileSync(readme, 'utf8') : '';
  const firstSection = previous.indexOf('<!-- ');
  let sections = firstSection === -1 ? '' : previous.slice(firstSection);
  const from = sections.indexOf(start);
  const to = sections.indexOf(end);
  if (from !== -1 && to > from) sections = sections.slice(0, from) + block + sections.slice(to + end.length + 1);
  else sections = `${block}\n${sections}`;
  writeFileSync(readme, `${HEAD}\n${sections.trimEnd()}\n`);
  return readme;
}
