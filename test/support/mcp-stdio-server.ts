// A small stdio MCP server (v1 SDK) for the stdio tests, run as `node mcp-stdio-server.js`:
// `echo` answers, `pid` tells which process answered (to see a session's process stop),
// `exit` makes the server exit with a code while that very call is still pending, and
// `kill` makes it kill itself with a signal the same way, and `log` sends a logging
// notification tied to no request (over HTTP it belongs on the standing GET stream), and
// `write_file` writes a file and says so on stderr (a side effect policy tests look for),
// `argv` answers with the arguments the server was started with, and `leak` answers with
// an AWS-shaped key no request carried (for response-phase rules).
import { writeFileSync } from 'node:fs';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const server = new McpServer({ name: 'tapwire-test-stdio', version: '1.0.0' }, { capabilities: { logging: {} } });
server.registerTool('echo', { inputSchema: { text: z.string() } }, ({ text }) => ({ content: [{ type: 'text', text }] }));
server.registerTool('pid', { inputSchema: {} }, () => ({ content: [{ type: 'text', text: String(process.pid) }] }));
server.registerTool('exit', { inputSchema: { code: z.number().int() } }, ({ code }) => process.exit(code));
server.registerTool('kill', { inputSchema: { signal: z.string() } }, ({ signal }) => {
  process.kill(process.pid, signal);
  return new Promise<never>(() => undefined);
});
server.registerTool('log', { inputSchema: { text: z.string() } }, async ({ text }) => {
  await server.server.sendLoggingMessage({ level: 'info', data: text });
  return { content: [{ type: 'text', text: 'logged' }] };
});
server.registerTool('write_file', { inputSchema: { path: z.string(), text: z.string() } }, ({ path, text }) => {
  process.stderr.write(`write_file ${path}\n`);
  writeFileSync(path, text);
  return { content: [{ type: 'text', text: 'written' }] };
});
server.registerTool('argv', { inputSchema: {} }, () => ({ content: [{ type: 'text', text: JSON.stringify(process.argv.slice(2)) }] }));
server.registerTool('leak', { inputSchema: {} }, () => ({ content: [{ type: 'text', text: 'the key is AKIAQWERTYUIOPASDFGH' }] }));
await server.connect(new StdioServerTransport());
process.stderr.write('tapwire-test-stdio ready\n');
