// Test harness for replay, mock and export: records real SDK traffic through a real sidecar
// (openai and @anthropic-ai/sdk against aimock, the v1 MCP SDK client and server, the A2A
// SDK client and agent), each scenario a function of the base URL so the same client code
// can run again against `tapwire mock` or after a replay. What each scenario returns is what
// the client observed.
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Progress } from '@modelcontextprotocol/sdk/types.js';
import type { Task } from '@a2a-js/sdk';
import { collect, startAimock, type LLMock } from './aimock.js';
import { connectClient, startStreamableServer, type McpHttpServer } from './mcp.js';
import { collect as collectA2a, sendRequest, startA2aAgent, v1Client, type A2aAgent } from './a2a.js';
import { startTestSidecar, type TestSidecar } from './sidecar.js';

export const OPENAI_KEY = 'sk-replay-openai-1111';
export const ANTHROPIC_KEY = 'sk-ant-replay-2222';
export const OPENAI_MODEL = 'gpt-4o-mini';
export const ANTHROPIC_MODEL = 'claude-haiku-4-5';

export interface Peers {
  llm: LLMock;
  mcp: McpHttpServer;
  a2a: A2aAgent;
  /** The routes of a sidecar in front of the peers: openai, anthropic (credentials from the env), tools (mcp), planner (a2a). */
  yaml: string;
  env: NodeJS.ProcessEnv;
  close(): Promise<void>;
}

function buildMcpServer(): McpServer {
  const mcp = new McpServer({ name: 'replay-fixture', version: '1.0.0' });
  mcp.registerTool('echo', { description: 'Echoes its message', inputSchema: { msg: z.string() } }, ({ msg }) => ({
    content: [{ type: 'text', text: `echo: ${msg}` }],
  }));
  mcp.registerTool('count', { description: 'Reports progress twice', inputSchema: {} }, async (_args, extra) => {
    const token = extra._meta?.progressToken;
    if (token !== undefined) {
      for (const progress of [1, 2]) await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress, total: 2 } });
    }
    // The v1 client handles a notification a microtask after it arrives: give it time before the result.
    await new Promise((resolve) => setTimeout(resolve, 20));
    return { content: [{ type: 'text', text: 'counted to 2' }] };
  });
  return mcp;
}

/** Starts the three kinds of peers; credentials for the LLM routes come from the env the config interpolates. */
export async function startPeers(): Promise<Peers> {
  const llm = await startAimock([OPENAI_KEY, ANTHROPIC_KEY], (m) => {
    m.onMessage(/^chat plain$/, { content: 'Plain answer.', usage: { prompt_tokens: 11, completion_tokens: 3 } });
    m.onMessage(/^chat stream$/, { content: 'A streamed answer in several chunks.', usage: { prompt_tokens: 13, completion_tokens: 7 } });
    m.onMessage(/^claude plain$/, { content: 'Claude says hello.', usage: { input_tokens: 21, output_tokens: 4 } });
    m.onMessage(/^claude stream$/, { content: 'Claude streams an answer.', usage: { input_tokens: 23, output_tokens: 5 } });
  });
  const mcp = await startStreamableServer(buildMcpServer);
  const a2a = await startA2aAgent();
  const yaml = [
    'routes:',
    '  openai:',
    '    protocol: llm',
    `    upstream: ${llm.url}`,
    '    provider: openai',
    '    headers:',
    '      authorization: "Bearer ${REPLAY_OPENAI_KEY}"',
    '  anthropic:',
    '    protocol: llm',
    `    upstream: ${llm.url}`,
    '    provider: anthropic',
    '    headers:',
    '      authorization: "Bearer ${REPLAY_ANTHROPIC_KEY}"',
    '  tools:',
    '    protocol: mcp',
    `    upstream: ${mcp.origin}`,
    '  planner:',
    '    protocol: a2a',
    `    upstream: ${a2a.origin}`,
  ].join('\n');
  return {
    llm,
    mcp,
    a2a,
    yaml,
    env: { ...process.env, REPLAY_OPENAI_KEY: OPENAI_KEY, REPLAY_ANTHROPIC_KEY: ANTHROPIC_KEY },
    close: once(() => Promise.all([llm.stop(), mcp.close(), a2a.close()]).then(() => undefined)),
  };
}

/** The openai SDK and @anthropic-ai/sdk, plain and streamed, against `base` (a sidecar or a mock). */
export async function llmScenario(base: string) {
  // The agent holds no real key: the sidecar's config supplies it (the mock needs none).
  const openai = new OpenAI({ baseURL: `${base}/openai/v1`, apiKey: 'agent-has-no-key', maxRetries: 0 });
  const anthropic = new Anthropic({ baseURL: `${base}/anthropic`, apiKey: 'agent-has-no-key', maxRetries: 0 });
  const chat = await openai.chat.completions.create({ model: OPENAI_MODEL, messages: [{ role: 'user', content: 'chat plain' }] });
  const chatStream = await collect(await openai.chat.completions.create({ model: OPENAI_MODEL, messages: [{ role: 'user', content: 'chat stream' }], stream: true }));
  const message = await anthropic.messages.create({ model: ANTHROPIC_MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'claude plain' }] });
  const messageStream = await collect(
    await anthropic.messages.create({ model: ANTHROPIC_MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'claude stream' }], stream: true }),
  );
  return { chat, chatStream, message, messageStream };
}

/** The v1 MCP SDK client over Streamable HTTP: tools/list, a call, a call with progress. */
export async function mcpScenario(url: string) {
  const connected = await connectClient('streamable', url);
  try {
    const tools = await connected.client.listTools();
    const echo = await connected.client.callTool({ name: 'echo', arguments: { msg: 'hi' } });
    const progress: Progress[] = [];
    const count = await connected.client.callTool({ name: 'count', arguments: {} }, undefined, { onprogress: (p) => progress.push(p) });
    return { server: connected.client.getServerVersion(), tools, echo, count, progress };
  } finally {
    await connected.close(true);
  }
}

/** The A2A v1.0 SDK client (JSON-RPC): a task, a streamed task, then the first task read back. */
export async function a2aScenario(routeUrl: string) {
  const client = await v1Client(routeUrl, 'JSONRPC');
  const task = (await client.sendMessage(sendRequest('plan a trip'))) as Task;
  const streamed = await collectA2a(client.sendMessageStream(sendRequest('stream the plan')));
  const again = await client.getTask({ tenant: '', id: task.id, historyLength: undefined });
  return { task, streamed, again };
}

/** `fn`, run at most once: later calls get the first call's promise. */
function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  return () => (running ??= fn());
}

export interface Recorded {
  peers: Peers;
  sidecar: TestSidecar;
  dbPath: string;
  live: {
    llm: Awaited<ReturnType<typeof llmScenario>>;
    mcp: Awaited<ReturnType<typeof mcpScenario>>;
    a2a: Awaited<ReturnType<typeof a2aScenario>>;
  };
  /** Stops the peers and removes the database. */
  close(): Promise<void>;
}

/**
 * Records every scenario through a sidecar and stops it (flushing the record); the peers stay
 * up (for replays) until close(). `agentYaml`: config placed before the routes (an `agent:` section).
 */
export async function recordTraffic(agentYaml = ''): Promise<Recorded> {
  const peers = await startPeers();
  const sidecar = await startTestSidecar(`${agentYaml}${peers.yaml}`, peers.env);
  const close = async (): Promise<void> => {
    await sidecar.stop();
    sidecar.cleanup();
    await peers.close();
  };
  try {
    const live = {
      llm: await llmScenario(sidecar.url),
      mcp: await mcpScenario(`${sidecar.url}/tools/mcp`),
      a2a: await a2aScenario(`${sidecar.url}/planner/`),
    };
    await sidecar.stop();
    return { peers, sidecar, dbPath: sidecar.dbPath, live, close };
  } catch (err) {
    await close();
    throw err;
  }
}
