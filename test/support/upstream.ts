// Scripted upstreams for tests that need a provider to misbehave or to answer with exact
// bytes: a small node:http server on 127.0.0.1 whose handler decides what happens (answer,
// hang, cut the connection), and an address where nothing listens.
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface ScriptedUpstream {
  url: string;
  /** Every request the upstream received, body fully read, in arrival order. */
  requests: ReceivedRequest[];
  /** Stops listening and cuts every connection still open (hanging requests included). */
  close(): Promise<void>;
}

export type UpstreamHandler = (req: ReceivedRequest, res: ServerResponse) => void | Promise<void>;

/** startUpstream for one test: closed when the test ends. */
export async function upstreamFor(t: { after(fn: () => Promise<void>): void }, handler: UpstreamHandler): Promise<ScriptedUpstream> {
  const server = await startUpstream(handler);
  t.after(() => server.close());
  return server;
}

export async function startUpstream(handler: UpstreamHandler): Promise<ScriptedUpstream> {
  const requests: ReceivedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const received: ReceivedRequest = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks) };
      requests.push(received);
      Promise.resolve(handler(received, res)).catch((err: unknown) => {
        res.destroy(err instanceof Error ? err : new Error(String(err)));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    async close(): Promise<void> {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** An http URL on 127.0.0.1 where nothing listens: a port the OS just handed out, then closed. */
export async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

/** Sends SSE response headers the way providers do (chunked, no content-length). */
export function startEventStream(res: ServerResponse, extraHeaders: Record<string, string> = {}): void {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...extraHeaders });
  res.flushHeaders();
}

/** One SSE event as a provider writes it: optional `event:` line, one `data:` line, blank line. */
export function sseEvent(data: unknown, event?: string): string {
  const text = typeof data === 'string' ? data : JSON.stringify(data);
  return `${event ? `event: ${event}\n` : ''}data: ${text}\n\n`;
}

/** Resolves once `condition` holds, checking every few milliseconds; fails after `limitMs`. */
export async function until(condition: () => boolean, what: string, limitMs = 5000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
