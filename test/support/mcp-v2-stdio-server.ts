// A small stdio MCP server made with the v2 SDK (serveStdio: 2026-07-28 openings and 2025
// ones), run as `node mcp-v2-stdio-server.js`: `echo` answers with its text, `write_file`
// says on stderr that it ran (the side effect policy tests look for).
import { McpServer } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import * as z from 'zod';

serveStdio(() => {
  const server = new McpServer({ name: 'tapwire-test-v2-stdio', version: '2.0.0' });
  server.registerTool('echo', { description: 'Echoes', inputSchema: z.object({ text: z.string() }) }, ({ text }) => ({ content: [{ type: 'text', text }] }));
  server.registerTool('write_file', { description: 'Writes a file', inputSchema: z.object({ path: z.string() }) }, ({ path }) => {
    process.stderr.write(`write_file ${path}\n`);
    return { content: [{ type: 'text', text: 'written' }] };
  });
  return server;
});
process.stderr.write('tapwire-test-v2-stdio ready\n');
