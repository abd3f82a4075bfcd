// Keeping an MCP client waiting while its request is held for approval. A Streamable HTTP
// POST whose client accepts an SSE answer gets one once the hold lasts a keep-alive interval:
// then, every interval, a progress notification when the request carried a progressToken
// (SDK clients with resetTimeoutOnProgress wait on), an SSE comment otherwise (which keeps
// proxies and idle timeouts from closing the connection). Once the stream is open, whatever
// answers the call afterwards (the upstream's answer, or tapwire's refusal) goes on it: an SSE
// answer as it comes, a JSON body as one `message` event. The record keeps the upstream's
// answer as it sent it; the keep-alive events are not recorded.
import type { ServerResponse } from 'node:http';
import type { JsonRpcRequest } from '../jsonrpc-gate.js';
import type { KeepAlive } from '../policy-gate.js';
import { requestFacts } from './facts.js';
import { SSE_HEADERS, sseMessage } from './stdio-session.js';

/** True when the client takes an SSE answer to its POST (Streamable HTTP clients say so in Accept). */
export function acceptsSse(accept: string | string[] | undefined): boolean {
  return [accept ?? ''].flat().some((value) => value.includes('text/event-stream'));
}

/** The keep-alive of `request`, held on `res`, every `intervalMs`. */
export function heldStream(res: ServerResponse, request: JsonRpcRequest, rule: string, intervalMs: number): KeepAlive {
  const token = requestFacts(request.method, request.params).progressToken;
  let timer: NodeJS.Timeout | null = null;
  let ticks = 0;
  const tick = (): void => {
    if (res.writableEnded || res.destroyed) return;
    if (!res.headersSent) {
      res.writeHead(200, SSE_HEADERS);
      continueAsSse(res);
    }
    ticks++;
    const message = `waiting for a person to approve this call (tapwire rule ${rule})`;
    if (token === null) res.write(`: ${message}\n\n`);
    else res.write(sseMessage(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: token, progress: ticks, message } })));
  };
  return {
    start() {
      timer = setInterval(tick, intervalMs);
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = null;
    },
  };
}

/**
 * Makes `res`, whose SSE head is sent, take a second answer's head and body: the head is
 * dropped (the stream's is out); an SSE body passes as it comes; any other body is gathered
 * and sent as one `message` event when it ends. The forwarding and refusal code write to
 * `res` as they would to a fresh response: this is the one place that knows it is not.
 */
function continueAsSse(res: ServerResponse): void {
  const write = res.write.bind(res) as (chunk: string | Buffer) => boolean;
  const end = res.end.bind(res) as (chunk?: string | Buffer) => ServerResponse;
  let gathered: Buffer[] | null = null;
  res.writeHead = ((_status: number, headers?: Record<string, unknown>) => {
    const type = headers ? Object.entries(headers).find(([name]) => name.toLowerCase() === 'content-type')?.[1] : undefined;
    gathered = typeof type === 'string' && type.startsWith('text/event-stream') ? null : [];
    return res;
  }) as ServerResponse['writeHead'];
  res.flushHeaders = () => undefined;
  res.write = ((chunk: string | Buffer) => {
    if (gathered === null) return write(chunk);
    gathered.push(Buffer.from(chunk));
    return true;
  }) as ServerResponse['write'];
  res.end = ((chunk?: string | Buffer | (() => void)) => {
    if (chunk !== undefined && typeof chunk !== 'function') res.write(chunk);
    if (gathered && gathered.length > 0) write(sseMessage(Buffer.concat(gathered).toString('utf8').replace(/\r?\n/g, '')));
    return end();
  }) as ServerResponse['end'];
}
