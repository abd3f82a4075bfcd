// A v1 SDK MCP server the way the SDK's own docs serve it: createMcpExpressApp() (express.json()
// reads the body: it undoes gzip, deflate and br, decodes a UTF-16 charset and drops a
// byte-order mark) and a stateless StreamableHTTPServerTransport per POST at /mcp. Its tools
// `rm` and `echo` note each run, so a test sees which calls the server executed.
import type { Server } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import type { AddressInfo } from 'node:net';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

export interface ExpressMcpServer {
  /** http://127.0.0.1:<port>/mcp */
  url: string;
  /** The tools run, by name, in order. */
  ran: string[];
  /** POSTs received. */
  posts: number;
  close(): Promise<void>;
}

export async function startExpressMcpServer(): Promise<ExpressMcpServer> {
  const app = createMcpExpressApp();
  const state: ExpressMcpServer = { url: '', ran: [], posts: 0, close: () => Promise.resolve() };
  app.post('/mcp', (req, res) => {
    state.posts++;
    const mcp = new McpServer({ name: 'tapwire-test-express', version: '1.0.0' });
    mcp.registerTool('rm', { inputSchema: { path: z.string().optional() } }, () => {
      state.ran.push('rm');
      return { content: [{ type: 'text', text: 'removed' }] };
    });
    mcp.registerTool('echo', { inputSchema: { text: z.string().optional() } }, ({ text }) => {
      state.ran.push('echo');
      return { content: [{ type: 'text', text: text ?? '' }] };
    });
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    void mcp
      .connect(transport)
      .then(() => transport.handleRequest(req, res, req.body))
      .catch((err: unknown) => res.destroy(err instanceof Error ? err : new Error(String(err))));
  });
  // What the body parser refuses (an unknown encoding or charset, bad JSON) is answered with
  // its status, without express's default handler printing the error.
  app.use((err: { status?: number; message?: string }, _req: Request, res: Response, _next: NextFunction) => {
    res.status(err.status ?? 500).json({ jsonrpc: '2.0', id: null, error: { code: -32700, message: err.message ?? 'error' } });
  });
  const server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  state.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return state;
}
