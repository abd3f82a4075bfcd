// `npm run bench:federation`: what a federated MCP route costs per call. Two v1 SDK servers
// (Streamable HTTP, stateful) and one tapwire, all in this process; a v1 SDK client calls
// tools/list and tools/call one after another (closed loop, no concurrency) straight at
// server a, through the plain route `a`, and through the route `both` federating a and b
// (whose tools/list fans out to both servers), the targets taking turns in 10 rounds.
// Prints the percentiles and writes
// bench/results/federation-<date>.json. Knobs (env): BENCH_CALLS (measured calls per
// operation and target, default 500), BENCH_WARMUP_CALLS (default 50).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';
import { parseConfig } from '../config/config.js';
import { createLogger } from '../core/log.js';
import { startSidecar } from '../proxy/sidecar.js';
import { describeMachine } from './report.js';
import { percentiles, type Percentiles } from './stats.js';
import { RESULTS_DIR } from './bench-main.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

function envCount(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got "${process.env[name]}"`);
  return value;
}

/** A stateful SDK server at <origin>/mcp with `tools` echo tools. */
async function startServer(name: string, tools: number): Promise<{ url: string; server: Server }> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const server = createServer((req, res) => {
    void (async () => {
      const id = req.headers['mcp-session-id'];
      let transport = typeof id === 'string' ? transports.get(id) : undefined;
      if (!transport) {
        const created: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (sid) => void transports.set(sid, created),
        });
        const mcp = new McpServer({ name, version: '1.0.0' });
        for (let i = 0; i < tools; i++) {
          mcp.registerTool(`echo${i}`, { description: `Echoes its text (${name} #${i})`, inputSchema: { text: z.string() } }, ({ text }) => ({ content: [{ type: 'text', text }] }));
        }
        await mcp.connect(created);
        transport = created;
      }
      await transport.handleRequest(req, res);
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`, server };
}

async function connect(url: string): Promise<Client> {
  const client = new Client({ name: 'bench', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

async function sample(calls: number, call: () => Promise<unknown>, into: number[]): Promise<void> {
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    await call();
    into.push(performance.now() - t0);
  }
}

const calls = envCount('BENCH_CALLS', 500);
const warmup = envCount('BENCH_WARMUP_CALLS', 50);
const ROUNDS = 10;
const dir = mkdtempSync(join(tmpdir(), 'tapwire-bench-federation-'));
const a = await startServer('a', 10);
const b = await startServer('b', 10);
const config = parseConfig(
  ['routes:', '  a: { protocol: mcp, upstream: "' + a.url + '" }', '  b: { protocol: mcp, upstream: "' + b.url + '" }', '  both: { protocol: mcp, servers: [a, b] }'].join('\n'),
  'bench.yaml',
  {},
);
config.listen = '127.0.0.1:0';
config.store.path = join(dir, 'tapwire.db');
const sidecar = await startSidecar(config, createLogger('silent'));
const results: Record<string, Record<string, Percentiles>> = {};
try {
  const targets = { direct: a.url, 'route a': `${sidecar.url}/a`, 'federated a+b': `${sidecar.url}/both` };
  const runs = await Promise.all(
    Object.entries(targets).map(async ([target, url]) => {
      const client = await connect(url);
      const tool = target.startsWith('federated') ? 'a_echo0' : 'echo0';
      const operations = { 'tools/list': () => client.listTools(), 'tools/call': () => client.callTool({ name: tool, arguments: { text: 'hello' } }) };
      return { target, client, operations, samples: { 'tools/list': [] as number[], 'tools/call': [] as number[] } };
    }),
  );
  // Targets take turns in rounds, so a busy moment of the machine does not fall on one target only.
  for (const run of runs) for (const call of Object.values(run.operations)) await sample(warmup, call, []);
  for (let round = 0; round < ROUNDS; round++) {
    for (const run of runs) {
      for (const [op, call] of Object.entries(run.operations)) await sample(Math.ceil(calls / ROUNDS), call, run.samples[op as keyof typeof run.samples]);
    }
  }
  for (const run of runs) {
    results[run.target] = { 'tools/list': percentiles(run.samples['tools/list']), 'tools/call': percentiles(run.samples['tools/call']) };
    await run.client.close();
  }
} finally {
  await sidecar.close(2000);
  for (const server of [a.server, b.server]) {
    server.closeAllConnections();
    server.close();
  }
  rmSync(dir, { recursive: true, force: true });
}

const date = new Date().toISOString().slice(0, 10);
const report = {
  date,
  machine: describeMachine(VERSION),
  parameters: { calls, warmup, rounds: ROUNDS, toolsPerServer: 10, loop: 'closed, one call at a time, targets in turn, all in one process, recording on' },
  results,
};
console.log(`calls per operation and target: ${calls} (after ${warmup} warm-up); latency in ms`);
console.log('target          operation   p50     p90     p99     max');
for (const [target, ops] of Object.entries(results)) {
  for (const [op, p] of Object.entries(ops)) {
    console.log(`${target.padEnd(15)} ${op.padEnd(11)} ${[p.p50, p.p90, p.p99, p.max].map((v) => v.toFixed(3).padStart(7)).join(' ')}`);
  }
}
mkdirSync(RESULTS_DIR, { recursive: true });
const file = join(RESULTS_DIR, `federation-${date}.json`);
writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
console.log(`written: ${file}`);
