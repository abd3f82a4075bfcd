// What `tapwire demo` does: starts real upstreams (an MCP server, an A2A agent, an LLM
// upstream speaking the OpenAI and Anthropic formats) on loopback, the sidecar with the
// example policies, and a scripted agent using the official SDK clients through it; then
// prints a summary read from the database. Loaded only when the demo runs (command.ts).
import { join, relative, resolve } from 'node:path';
import { ConfigError, configSchema, type Config } from '../config/config.js';
import { createLogger } from '../core/log.js';
import { PACKAGE_ROOT } from '../core/package.js';
import { startSidecar, type Sidecar } from '../proxy/sidecar.js';
import { openRecordReader } from '../store/open.js';
import { startA2aAgent, type DemoA2aAgent } from './a2a-agent.js';
import { AGENT_ROUTES, runRound, type Progress } from './agent.js';
import { AgentTracer } from './agent-trace.js';
import { startLlmUpstream } from './llm-upstream.js';
import { startMcpServer, type DemoMcpServer } from './mcp-server.js';
import { FOREVER_PAUSE_MS, type DemoOptions } from './options.js';
import { formatSummary, readSummary } from './summary.js';

/** The demo agent's name, recorded on every exchange. */
const DEMO_AGENT = 'demo-agent';
/** policies/examples/, shipped with tapwire. */
const EXAMPLE_POLICIES = join(PACKAGE_ROOT, 'policies', 'examples');

interface Upstreams {
  llm: { url: string; stop(): Promise<void> };
  mcp: DemoMcpServer;
  a2a: DemoA2aAgent;
}

/** The sidecar's config: one route per upstream, the example policies, telemetry when asked. */
function demoConfig(upstreams: Upstreams, options: DemoOptions): Config {
  const parsed = configSchema.safeParse({
    listen: options.listen,
    agent: { name: DEMO_AGENT, labels: { team: 'platform' } },
    store: { path: options.db },
    log: { level: 'warn' },
    routes: {
      [AGENT_ROUTES.openai]: { protocol: 'llm', provider: 'openai', upstream: upstreams.llm.url },
      [AGENT_ROUTES.anthropic]: { protocol: 'llm', provider: 'anthropic', upstream: upstreams.llm.url },
      [AGENT_ROUTES.docs]: { protocol: 'mcp', upstream: upstreams.mcp.url },
      [AGENT_ROUTES.researcher]: { protocol: 'a2a', upstream: upstreams.a2a.origin },
    },
    policies: [join(EXAMPLE_POLICIES, '*.yaml')],
    telemetry: options.otlp ? { endpoint: options.otlp } : {},
  });
  if (parsed.success) return parsed.data;
  // Only the options can be wrong here: name them as the user typed them.
  const flag: Record<string, string> = { listen: '--listen', store: '--db', telemetry: '--otlp' };
  const problems = parsed.error.issues.map((issue) => `${flag[String(issue.path[0])] ?? issue.path.join('.')}: ${issue.message}`);
  throw new ConfigError(problems.join('\n'));
}

async function startUpstreams(): Promise<Upstreams> {
  const [llm, mcp, a2a] = await Promise.all([startLlmUpstream(), startMcpServer(), startA2aAgent()]);
  return { llm, mcp, a2a };
}

function progressPrinter(out: NodeJS.WritableStream, round: () => number): Progress {
  return (protocol, call, outcome) => out.write(`  ${String(round()).padStart(3)}  ${protocol.padEnd(4)} ${call.padEnd(34)} ${outcome}\n`);
}

/** Stops on the first SIGINT/SIGTERM (after the round in progress); a second one exits at once. */
function stopSignal(): { stopped: () => boolean; pause: (ms: number) => Promise<void>; dispose: () => void } {
  let stopped = false;
  let wake: (() => void) | null = null;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopped) {
      process.stderr.write(`tapwire demo: second ${signal}, exiting without the summary\n`);
      process.exit(1);
    }
    stopped = true;
    process.stderr.write(`tapwire demo: ${signal}, finishing the round in progress, then stopping\n`);
    wake?.();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    stopped: () => stopped,
    pause: (ms) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      }),
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** Runs the demo; resolves to the exit code. */
export async function runDemo(options: DemoOptions): Promise<number> {
  const out = process.stdout;
  const since = Date.now();
  const upstreams = await startUpstreams();
  let sidecar: Sidecar | null = null;
  const signals = stopSignal();
  const tracer = new AgentTracer(DEMO_AGENT, options.otlp);
  let failure = false;
  let rounds = 0;
  try {
    const config = demoConfig(upstreams, options);
    sidecar = await startSidecar(config, createLogger(config.log.level, process.stderr));
    const header = [
      `tapwire demo: sidecar on ${sidecar.url}, recording to ${config.store.path}, agent "${DEMO_AGENT}"`,
      `  upstreams on 127.0.0.1: LLM (OpenAI and Anthropic formats) ${upstreams.llm.url}, MCP server ${upstreams.mcp.url}, A2A agent ${upstreams.a2a.origin}`,
      `  policies: ${join(relativeOrAbsolute(EXAMPLE_POLICIES), '*.yaml')}${options.otlp ? `; OTLP export to ${options.otlp}` : ''}`,
    ];
    if (options.forever) header.push(`  generating traffic every ${FOREVER_PAUSE_MS / 1000} s until SIGINT or SIGTERM (Ctrl-C)`);
    out.write(`${header.join('\n')}\n\n`);
    const progress = progressPrinter(out, () => rounds);
    do {
      rounds++;
      try {
        const url = sidecar.url;
        await tracer.round((traceparent) => runRound(url, traceparent, progress));
        out.write(`  ${String(rounds).padStart(3)}  round done\n`);
      } catch (err) {
        out.write(`  ${String(rounds).padStart(3)}  round failed: ${(err as Error).message}\n`);
        if (!options.forever) failure = true;
      }
      if (options.forever && !signals.stopped()) await signals.pause(FOREVER_PAUSE_MS);
    } while (options.forever && !signals.stopped());
  } finally {
    // The sidecar first: it lets the last calls finish, then flushes the record and telemetry.
    await sidecar?.close();
    if (sidecar && sidecar.recorder.getStats().failed > 0) failure = true;
    await Promise.all([upstreams.llm.stop(), upstreams.mcp.close(), upstreams.a2a.close(), tracer.close(2000)]);
    signals.dispose();
  }
  const reader = await openRecordReader(options.db);
  try {
    out.write(`\n${formatSummary(await readSummary(reader, DEMO_AGENT, since), options.db)}`);
  } finally {
    await reader.close();
  }
  out.write(nextSteps(options.db));
  return failure ? 1 : 0;
}

function relativeOrAbsolute(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith('..') ? resolve(path) : rel || '.';
}

/** `text` as one shell word: as is when it is plain, else in single quotes. */
function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

/** Commands to try on the demo's record, as run from the clone (`npx tapwire`, the package's own bin). */
function nextSteps(dbPath: string): string {
  const db = shellWord(dbPath);
  const policies = shellWord(join(relativeOrAbsolute(EXAMPLE_POLICIES), '*.yaml'));
  const steps: [command: string, why: string][] = [
    [`npx tapwire tui --db ${db}`, 'explore every exchange, its bodies and events'],
    [`npx tapwire policy test ${policies} --db ${db}`, 'what each example rule decided on this traffic'],
    [`npx tapwire export --format jsonl --db ${db} --filter 'exchange.status == "denied"'`, 'the refused calls as JSON lines (the record itself is plain SQLite)'],
    ['docker compose up --build', 'this demo with Grafana, Tempo and Prometheus (docs/demo.md)'],
  ];
  return ['', 'What to run next:', ...steps.flatMap(([command, why]) => [`  # ${why}`, `  ${command}`]), ''].join('\n');
}
