// The benches' mock upstream, run as its own child process (node:child_process fork) so its
// CPU never shares an event loop with the load generator. It answers
// POST /v1/chat/completions with a canned completion, or an SSE stream written frame by
// frame (one res.write each) with no delay, or `chunkDelayMs` apart when argv[2] sets it,
// of argv[3] content chunks (default 10); and POST /mcp (a JSON-RPC tools/call) with the
// tool's result as application/json. It tells its parent the port it listens on over IPC.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MCP_PATH, toolResultBody } from './mcp-fixtures.js';
import { completionBody, DEFAULT_STREAM_PIECES, streamFrames } from './openai-fixtures.js';

export interface UpstreamReady {
  type: 'ready';
  port: number;
}

const chunkDelayMs = Number(process.argv[2] ?? '0');
const streamPieces = Number(process.argv[3] ?? String(DEFAULT_STREAM_PIECES));
let served = 0;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function writeFrames(res: ServerResponse, frames: string[]): void {
  if (chunkDelayMs <= 0) {
    for (const frame of frames) res.write(frame);
    res.end();
    return;
  }
  let next = 0;
  const writeNext = (): void => {
    if (next === frames.length) {
      res.end();
      return;
    }
    res.write(frames[next++]);
    setTimeout(writeNext, chunkDelayMs);
  };
  writeNext();
}

async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const text = await readBody(req);
  if (req.method === 'POST' && req.url === MCP_PATH) {
    const body = toolResultBody((JSON.parse(text) as { id?: unknown }).id ?? null);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
    return;
  }
  if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: `no route ${req.method ?? ''} ${req.url ?? ''}`, type: 'invalid_request_error' } }));
    return;
  }
  const request = JSON.parse(text) as { stream?: boolean; stream_options?: { include_usage?: boolean } };
  // Fixed-width ids keep every response the same size.
  const id = `chatcmpl-B${String(++served).padStart(28, '0')}`;
  const created = Math.floor(Date.now() / 1000);
  const headers = { 'x-request-id': `req_${String(served).padStart(32, '0')}`, 'openai-processing-ms': '412', 'openai-version': '2020-10-01' };
  if (request.stream === true) {
    res.writeHead(200, { ...headers, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    writeFrames(res, streamFrames(id, created, request.stream_options?.include_usage === true, streamPieces));
    return;
  }
  const body = completionBody(id, created);
  res.writeHead(200, { ...headers, 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
}

const server = createServer((req, res) => {
  answer(req, res).catch((err: unknown) => {
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: String(err), type: 'server_error' } }));
  });
});
server.keepAliveTimeout = 120_000;
server.listen(0, '127.0.0.1', () => {
  const ready: UpstreamReady = { type: 'ready', port: (server.address() as AddressInfo).port };
  process.send?.(ready);
});
// The parent going away (even by SIGKILL) closes the IPC channel: never outlive it.
process.on('disconnect', () => process.exit(0));
