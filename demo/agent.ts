// The demo's scripted agent: one round of work through the sidecar with the real SDK clients
// (openai, @anthropic-ai/sdk, the MCP client, the A2A client). The models decide to call
// tools, the tools run over MCP (one call is refused by a policy), a task is delegated to
// another agent over A2A, and the last answer is streamed. Every call of a round carries the
// round's W3C traceparent (agent-trace.ts), so a round is one trace.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { Role, TaskState } from '@a2a-js/sdk';
import { ClientFactory, ClientFactoryOptions, DefaultAgentCardResolver, JsonRpcTransportFactory } from '@a2a-js/sdk/client';
import { textPart } from './a2a-agent.js';
import { ANTHROPIC_MODEL, OPENAI_MODEL, PROMPTS } from './llm-upstream.js';

/** The sidecar routes the agent's clients are pointed at. */
export const AGENT_ROUTES = { openai: 'openai', anthropic: 'anthropic', docs: 'docs', researcher: 'researcher' } as const;

/** A progress line: what was called and what came back. */
export type Progress = (protocol: 'llm' | 'mcp' | 'a2a', call: string, outcome: string) => void;

const SYSTEM = 'You are the team\'s operations assistant. Use the tools to look things up; never guess file contents.';
const MAX_STEPS = 6;

function toolText(result: Awaited<ReturnType<McpClient['callTool']>>): string {
  const content = (result.content ?? []) as { type: string; text?: string }[];
  return content.map((part) => (part.type === 'text' ? (part.text ?? '') : `[${part.type}]`)).join('\n');
}

function shorten(text: string, max = 60): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** One round of the scripted agent against the sidecar at `sidecarUrl`, every call carrying `traceparent`. Throws when a call fails. */
export async function runRound(sidecarUrl: string, traceparent: string, progress: Progress): Promise<void> {
  const headers = { traceparent };
  const mcp = new McpClient({ name: 'tapwire-demo-agent', version: '1.0.0' });
  await mcp.connect(new StreamableHTTPClientTransport(new URL(`${sidecarUrl}/${AGENT_ROUTES.docs}`), { requestInit: { headers } }));
  try {
    const { tools } = await mcp.listTools();
    progress('mcp', 'tools/list', `${tools.length} tools: ${tools.map((t) => t.name).join(', ')}`);
    const callTool = async (name: string, args: Record<string, unknown>): Promise<string> => {
      const result = await mcp.callTool({ name, arguments: args });
      const text = toolText(result);
      progress('mcp', `tools/call ${name}`, result.isError ? `error: ${shorten(text)}` : shorten(text));
      return text;
    };
    await openAiTask(sidecarUrl, headers, tools, callTool, progress);
    await delegate(sidecarUrl, headers, progress);
    await anthropicTask(sidecarUrl, headers, tools, callTool, progress);
  } finally {
    const transport = mcp.transport as StreamableHTTPClientTransport | undefined;
    await transport?.terminateSession().catch(() => undefined);
    await mcp.close();
  }
}

type CallTool = (name: string, args: Record<string, unknown>) => Promise<string>;

/** OpenAI Chat Completions, not streamed: the model searches, reads, then tries to delete a file. */
async function openAiTask(sidecarUrl: string, headers: Record<string, string>, tools: Tool[], callTool: CallTool, progress: Progress): Promise<void> {
  const openai = new OpenAI({ baseURL: `${sidecarUrl}/${AGENT_ROUTES.openai}/v1`, apiKey: 'sk-demo', defaultHeaders: headers, maxRetries: 0 });
  const messages: OpenAI.ChatCompletionMessageParam[] = [
    { role: 'system', content: SYSTEM },
    { role: 'user', content: PROMPTS.runbook },
  ];
  const offered: OpenAI.ChatCompletionTool[] = tools
    .filter((t) => t.name !== 'get_weather')
    .map((t) => ({ type: 'function', function: { name: t.name, description: t.description ?? '', parameters: t.inputSchema } }));
  for (let step = 0; step < MAX_STEPS; step++) {
    const completion = await openai.chat.completions.create({ model: OPENAI_MODEL, messages, tools: offered, temperature: 0.2 });
    const message = completion.choices[0]?.message;
    if (!message) throw new Error('the OpenAI answer has no choice');
    const calls = (message.tool_calls ?? []).filter((c) => c.type === 'function');
    if (calls.length === 0) {
      progress('llm', `chat ${OPENAI_MODEL}`, `answered: ${shorten(message.content ?? '')}`);
      return;
    }
    progress('llm', `chat ${OPENAI_MODEL}`, `asks for ${calls.map((c) => c.function.name).join(', ')}`);
    messages.push(message);
    for (const call of calls) {
      const result = await callTool(call.function.name, JSON.parse(call.function.arguments) as Record<string, unknown>);
      messages.push({ role: 'tool', tool_call_id: call.id, content: result });
    }
  }
  throw new Error(`the OpenAI conversation did not end within ${MAX_STEPS} steps`);
}

/** A2A: hands a research question to the Research Agent and waits for the finished task. */
async function delegate(sidecarUrl: string, headers: Record<string, string>, progress: Progress): Promise<void> {
  const tracedFetch: typeof fetch = (input, init) => {
    const merged = new Headers(init?.headers);
    for (const [name, value] of Object.entries(headers)) merged.set(name, value);
    return fetch(input, { ...init, headers: merged });
  };
  const factory = new ClientFactory(
    ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
      transports: [new JsonRpcTransportFactory({ fetchImpl: tracedFetch })],
      cardResolver: new DefaultAgentCardResolver({ fetchImpl: tracedFetch }),
    }),
  );
  const client = await factory.createFromUrl(`${sidecarUrl}/${AGENT_ROUTES.researcher}/`);
  const result = await client.sendMessage({
    tenant: '',
    message: {
      messageId: crypto.randomUUID(),
      contextId: '',
      taskId: '',
      role: Role.ROLE_USER,
      parts: [textPart('Find three venues in Lisbon for a team of 12.')],
      metadata: undefined,
      extensions: [],
      referenceTaskIds: [],
    },
    configuration: undefined,
    metadata: undefined,
  });
  if (!('status' in result)) throw new Error('the Research Agent answered with a message, not a task');
  const state = result.status?.state;
  if (state !== TaskState.TASK_STATE_COMPLETED) throw new Error(`the Research Agent's task ended ${String(state)}`);
  const answer = result.artifacts.flatMap((a) => a.parts).map((p) => (p.content?.$case === 'text' ? p.content.value : '')).join(' ');
  progress('a2a', 'SendMessage Research Agent', `task completed: ${shorten(answer)}`);
}

/** Anthropic Messages, streamed: the model asks for the weather, then streams its answer. */
async function anthropicTask(sidecarUrl: string, headers: Record<string, string>, tools: Tool[], callTool: CallTool, progress: Progress): Promise<void> {
  const anthropic = new Anthropic({ baseURL: `${sidecarUrl}/${AGENT_ROUTES.anthropic}`, apiKey: 'sk-ant-demo', defaultHeaders: headers, maxRetries: 0 });
  const messages: Anthropic.MessageParam[] = [{ role: 'user', content: PROMPTS.weather }];
  const offered: Anthropic.Tool[] = tools
    .filter((t) => t.name === 'get_weather')
    .map((t) => ({ name: t.name, description: t.description ?? '', input_schema: t.inputSchema }));
  for (let step = 0; step < MAX_STEPS; step++) {
    const stream = anthropic.messages.stream({ model: ANTHROPIC_MODEL, max_tokens: 512, system: SYSTEM, messages, tools: offered });
    const message = await stream.finalMessage();
    const uses = message.content.filter((block) => block.type === 'tool_use');
    if (uses.length === 0) {
      const text = message.content.map((block) => (block.type === 'text' ? block.text : '')).join('');
      progress('llm', `chat ${ANTHROPIC_MODEL} (streamed)`, `answered: ${shorten(text)}`);
      return;
    }
    progress('llm', `chat ${ANTHROPIC_MODEL} (streamed)`, `asks for ${uses.map((u) => u.name).join(', ')}`);
    messages.push({ role: 'assistant', content: message.content });
    const results: Anthropic.ToolResultBlockParam[] = [];
    for (const use of uses) {
      results.push({ type: 'tool_result', tool_use_id: use.id, content: await callTool(use.name, use.input as Record<string, unknown>) });
    }
    messages.push({ role: 'user', content: results });
  }
  throw new Error(`the Anthropic conversation did not end within ${MAX_STEPS} steps`);
}
