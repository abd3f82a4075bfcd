// The demo's MCP server, made with @modelcontextprotocol/sdk and served over Streamable HTTP
// on 127.0.0.1: a small document store with `search`, `read_file`, `get_weather` and the
// destructive `delete_file` (which policies/examples/tool-safety.yaml refuses).
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

const FILES: Record<string, string> = {
  'runbooks/on-call.md': [
    '# On-call runbook',
    '',
    '1. Acknowledge the page within 5 minutes.',
    '2. Escalate to the platform rotation (#platform-oncall), then to the incident commander.',
    '3. Open an incident document from the template and post its link in #incidents.',
    '4. After the incident, write the timeline while it is fresh.',
  ].join('\n'),
  'runbooks/on-call.old.md': '# On-call runbook (2023)\n\nEscalate to the infrastructure team lead by phone.',
  'notes/offsite.md': 'Team offsite in Lisbon, 12 people, two days.',
};

function text(value: string): { content: { type: 'text'; text: string }[] } {
  return { content: [{ type: 'text', text: value }] };
}

/** A fresh McpServer with the demo's tools (one per session, as the SDK serves them). */
function buildServer(files: Map<string, string>): McpServer {
  const mcp = new McpServer({ name: 'demo-docs', version: '1.0.0' });
  mcp.registerTool(
    'search',
    { description: 'Searches the team documents for a phrase; returns the matching paths', inputSchema: { query: z.string() } },
    ({ query }) => {
      const words = query.toLowerCase().split(/\s+/).filter(Boolean);
      const hits = [...files.entries()].filter(([path, body]) => words.some((w) => `${path} ${body}`.toLowerCase().includes(w))).map(([path]) => path);
      return text(hits.length > 0 ? hits.join('\n') : 'no match');
    },
  );
  mcp.registerTool('read_file', { description: 'Reads a team document', inputSchema: { path: z.string() } }, async ({ path }) => {
    await new Promise((resolve) => setTimeout(resolve, 25)); // a document store is not instant
    const body = files.get(path);
    return body === undefined ? { ...text(`no such file: ${path}`), isError: true } : text(body);
  });
  mcp.registerTool('get_weather', { description: 'The weather forecast for a city', inputSchema: { city: z.string() } }, ({ city }) =>
    text(JSON.stringify({ city, temperature_c: 21, conditions: 'sunny', wind_kmh: 14 })),
  );
  mcp.registerTool(
    'delete_file',
    { description: 'Deletes a team document (destructive)', inputSchema: { path: z.string() }, annotations: { destructiveHint: true } },
    ({ path }) => text(files.delete(path) ? `deleted ${path}` : `no such file: ${path}`),
  );
  return mcp;
}

export interface DemoMcpServer {
  /** The MCP endpoint, http://127.0.0.1:<port>/mcp */
  url: string;
  close(): Promise<void>;
}

/** Starts the server: one stateful Streamable HTTP session per client, as the SDK's examples serve it. */
export async function startMcpServer(): Promise<DemoMcpServer> {
  const files = new Map(Object.entries(FILES));
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const server: Server = createServer((req, res) => {
    void (async () => {
      const header = req.headers['mcp-session-id'];
      const sessionId = Array.isArray(header) ? header[0] : header;
      let transport = sessionId ? sessions.get(sessionId) : undefined;
      if (!transport) {
        if (sessionId) {
          res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }));
          return;
        }
        const created: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (id) => void sessions.set(id, created),
          onsessionclosed: (id) => void sessions.delete(id),
        });
        await buildServer(files).connect(created);
        transport = created;
      }
      await transport.handleRequest(req, res);
    })().catch((err: unknown) => res.destroy(err instanceof Error ? err : new Error(String(err))));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    async close(): Promise<void> {
      await Promise.all([...sessions.values()].map((t) => t.close()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
