// `node dist/bench/policy-eval.js`: the time one exchange's policy decision takes against
// 50 compiled rules (a realistic mix over the three protocols: models, tools, agents,
// limits, audits), for an LLM call and an MCP tool call, each timed on its own. Context
// building is timed separately (it happens once per exchange, whatever the rule count).
// Target: the decision under 50 µs at the median. Run on its own, it writes
// bench/results/policy-eval-<date>.json; bench/run.ts calls measurePolicyEval().
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { blankExchange } from '../core/exchange.js';
import { buildContext } from '../protocols/cel-context.js';
import { PolicySet } from '../policies/engine.js';
import { parsePolicyFile } from '../policies/file.js';
import { describeMachine } from './report.js';
import { percentiles } from './stats.js';
import { RESULTS_DIR } from './bench-main.js';

export const TARGET_MEDIAN_US = 50;

/** 50 rules: none matches the two exchanges below, so every applicable rule is evaluated. */
function fiftyRules(): string {
  const rules: string[] = [];
  for (let i = 0; i < 10; i++) rules.push(`  - { name: model-${i}, when: 'llm.model.startsWith("blocked-${i}") && agent.name != "planner"', action: deny }`);
  for (let i = 0; i < 10; i++) rules.push(`  - { name: tool-${i}, when: 'mcp.method == "tools/call" && mcp.tool in ["drop_${i}", "rm_${i}"]', action: deny }`);
  for (let i = 0; i < 10; i++) rules.push(`  - { name: agent-${i}, when: 'protocol == "a2a" && a2a.text.contains("forbidden ${i}")', action: deny }`);
  for (let i = 0; i < 10; i++) rules.push(`  - { name: label-${i}, when: 'agent.labels["team"] == "team-${i}" && request.headers["x-tier"] == "free"', action: deny }`);
  for (let i = 0; i < 5; i++) rules.push(`  - { name: max-${i}, when: 'llm.max_tokens > ${100_000 + i}', action: deny }`);
  for (let i = 0; i < 3; i++) rules.push(`  - { name: audit-${i}, when: 'mcp.arguments.path.startsWith("/secret-${i}")', action: audit }`);
  rules.push(`  - { name: rate, when: 'protocol == "mcp" && mcp.method == "tools/call"', action: limit, limit: { requests: 1000000000, per: 1m, key: mcp.tool } }`);
  rules.push(`  - { name: budget, when: 'protocol == "llm"', action: limit, limit: { tokens: 1000000000, per: 1h, key: agent.name } }`);
  return `rules:\n${rules.join('\n')}\n`;
}

export interface PolicyTiming {
  label: string;
  median_us: number;
  p99_us: number;
}

function time(label: string, iterations: number, run: () => unknown): PolicyTiming {
  for (let i = 0; i < 2000; i++) run(); // warm up
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    run();
    samples.push((performance.now() - t0) * 1000);
  }
  const p = percentiles(samples);
  return { label, median_us: Math.round(p.p50 * 100) / 100, p99_us: Math.round(p.p99 * 100) / 100 };
}

/** Times the two decisions (50 rules) and the two context builds, `iterations` each. */
export function measurePolicyEval(iterations: number): PolicyTiming[] {
  const set = new PolicySet([parsePolicyFile(fiftyRules(), 'bench.yaml')]);
  const llmBody = JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 512, messages: [{ role: 'system', content: 'You plan trips.' }, { role: 'user', content: 'Plan a weekend in Lisbon.' }] });
  const llm = { exchange: { ...blankExchange({ agent: 'planner', route: 'openai', protocol: 'llm' }), provider: 'openai', model: 'gpt-4o-mini' }, request: { headers: { 'x-tier': 'pro' }, body: llmBody }, agentLabels: { team: 'search' } };
  const mcpBody = JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'read_file', arguments: { path: '/srv/data/notes.md' } } });
  const mcp = { exchange: { ...blankExchange({ agent: 'planner', route: 'fs', protocol: 'mcp' }), method: 'tools/call' }, request: { headers: {}, body: mcpBody }, agentLabels: { team: 'search' } };
  const llmContext = buildContext(llm);
  const mcpContext = buildContext(mcp);
  let now = Date.now();

  return [
    time('decision, LLM call, 50 rules', iterations, () => set.decide('request', llmContext, now++)),
    time('decision, MCP tools/call, 50 rules', iterations, () => set.decide('request', mcpContext, now++)),
    time('context build, LLM call', iterations, () => buildContext(llm)),
    time('context build, MCP tools/call', iterations, () => buildContext(mcp)),
  ];
}

function main(): void {
  const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 20_000);
  const results = measurePolicyEval(ITERATIONS);
  for (const r of results) console.log(`${r.label.padEnd(36)} median ${r.median_us.toFixed(2).padStart(7)} µs   p99 ${r.p99_us.toFixed(2).padStart(7)} µs`);
  const decisionsOk = results.slice(0, 2).every((r) => r.median_us < TARGET_MEDIAN_US);
  console.log(decisionsOk ? `decisions within the ${TARGET_MEDIAN_US} µs median target` : `decisions OVER the ${TARGET_MEDIAN_US} µs median target`);
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  const date = new Date().toISOString().slice(0, 10);
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `policy-eval-${date}.json`);
  writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), machine: describeMachine(pkg.version), iterations: ITERATIONS, rules: 50, target_median_us: TARGET_MEDIAN_US, results }, null, 2)}\n`);
  console.log(`written to ${file}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main();
