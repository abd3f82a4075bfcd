// Test harness for federated MCP routes: two v1 SDK servers on Streamable HTTP (alpha: tools
// with sampling and a late-registered tool, a prompt and a resource; beta: a tools/list that
// pages one tool at a time, with a tool name alpha also has) and the YAML of a sidecar that
// federates them with @modelcontextprotocol/server-everything over stdio.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CallToolRequestSchema, ListToolsRequestSchema, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { EVERYTHING } from './mcp-everything.js';

/** What alpha's `ask-model` tool says around the sampled text. */
export const SAMPLED_PREFIX = 'alpha asked the model: ';

/** alpha: search, ask-model (samples the client's model), add-tool (registers `late`: a tools/list_changed), secret; prompt greet; resource alpha://readme. */
export function buildAlpha(): McpServer {
  const mcp = new McpServer({ name: 'alpha', version: '1.0.0' }, { capabilities: { logging: {} }, instructions: 'alpha searches' });
  mcp.registerTool('search', { description: 'Searches alpha', inputSchema: { q: z.string() } }, ({ q }) => ({ content: [{ type: 'text', text: `alpha found ${q}` }] }));
  mcp.registerTool('secret', { description: 'Reads alpha secrets', inputSchema: {} }, () => ({ content: [{ type: 'text', text: 'alpha secret' }] }));
  mcp.registerTool('ask-model', { description: 'Samples the client model', inputSchema: { question: z.string() } }, async ({ question }, extra) => {
    const sampled = await mcp.server.createMessage(
      { messages: [{ role: 'user', content: { type: 'text', text: question } }], maxTokens: 20 },
      { relatedRequestId: extra.requestId },
    );
    return { content: [{ type: 'text', text: `${SAMPLED_PREFIX}${sampled.content.type === 'text' ? sampled.content.text : '?'}` }] };
  });
  mcp.registerTool('add-tool', { description: 'Registers the tool late', inputSchema: {} }, () => {
    // Registering after connect makes the SDK send notifications/tools/list_changed (no related request: the GET stream).
    mcp.registerTool('late', { description: 'Registered late', inputSchema: {} }, () => ({ content: [{ type: 'text', text: 'late' }] }));
    return { content: [{ type: 'text', text: 'added' }] };
  });
  mcp.registerPrompt('greet', { description: 'Greets', argsSchema: { who: z.string() } }, ({ who }) => ({
    messages: [{ role: 'user', content: { type: 'text', text: `Hello, ${who}, from alpha` } }],
  }));
  mcp.registerResource('readme', 'alpha://readme', { mimeType: 'text/plain' }, (uri) => ({ contents: [{ uri: uri.href, text: 'alpha readme' }] }));
  return mcp;
}

const BETA_TOOLS: Tool[] = [
  { name: 'search', description: 'Searches beta', inputSchema: { type: 'object', properties: { q: { type: 'string' } } } },
  { name: 'lookup', description: 'Looks up in beta', inputSchema: { type: 'object', properties: { key: { type: 'string' } } } },
];

/** beta: tools/list pages one tool at a time (cursor = the next index); search and lookup answer with beta's name. */
export function buildBeta(): McpServer {
  const mcp = new McpServer({ name: 'beta', version: '1.0.0' }, { capabilities: { tools: {} } });
  mcp.server.setRequestHandler(ListToolsRequestSchema, (request) => {
    const at = Number(request.params?.cursor ?? '0');
    return { tools: [BETA_TOOLS[at]!], ...(at + 1 < BETA_TOOLS.length ? { nextCursor: String(at + 1) } : {}) };
  });
  mcp.server.setRequestHandler(CallToolRequestSchema, (request) => ({
    content: [{ type: 'text', text: `beta ${request.params.name} ${JSON.stringify(request.params.arguments ?? {})}` }],
  }));
  return mcp;
}

/** A server whose tools/list answers only after `delayMs`: slow enough to count as down. */
export function buildSlowLister(delayMs: number): () => McpServer {
  return () => {
    const mcp = new McpServer({ name: 'slow', version: '1.0.0' }, { capabilities: { tools: {} } });
    mcp.server.setRequestHandler(ListToolsRequestSchema, async () => {
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      return { tools: BETA_TOOLS };
    });
    return mcp;
  };
}

export interface FederationRoutes {
  alpha: string;
  beta: string;
  /** Lines added under the federated route `tools` (e.g. `failure: closed`). */
  federated?: string[];
  /** Top-level YAML lines (e.g. policies). */
  top?: string[];
}

/** routes alpha and beta (HTTP), everything (stdio) and `tools` federating all three. */
export function federationYaml(routes: FederationRoutes): string {
  return [
    ...(routes.top ?? []),
    'routes:',
    '  alpha:',
    '    protocol: mcp',
    `    upstream: ${routes.alpha}`,
    '  beta:',
    '    protocol: mcp',
    `    upstream: ${routes.beta}`,
    '  everything:',
    '    protocol: mcp',
    `    command: ${JSON.stringify(process.execPath)}`,
    `    args: [${JSON.stringify(EVERYTHING)}, stdio]`,
    '  tools:',
    '    protocol: mcp',
    '    servers: [alpha, beta, everything]',
    ...(routes.federated ?? []).map((line) => `    ${line}`),
  ].join('\n');
}
