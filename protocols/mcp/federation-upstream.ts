// The client side of a federated route: one connection per member server and agent
// session, over the member route's own transport. An HTTP member is spoken to as a
// Streamable HTTP client through its route's undici pool (POST per message, the answer as
// JSON or an SSE stream, a standing GET stream for what the server sends on its own, DELETE
// at the end); a command member is its own stdio server process, one JSON-RPC message per
// line. Every message the server sends is handed to `onMessage`, with what carried it.
import { setTimeout as delay } from 'node:timers/promises';
import { errors as undiciErrors } from 'undici';
import type { Exchange } from '../../core/exchange.js';
import type { HeaderMap } from '../../core/headers.js';
import { classify, type JsonRpcId, type JsonRpcMessage } from '../../core/jsonrpc.js';
import type { Logger } from '../../core/log.js';
import type { Route } from '../route.js';
import { SseParser } from '../../core/sse.js';
import { LineSplitter, type Line } from '../../core/lines.js';
import { readLine } from './stdio-lines.js';
import { describeExit, StdioServerProcess, type StdioCommand } from './stdio-process.js';

/** What carried a server's message: the HTTP response's headers and status, and the id of the request whose POST stream it came on. */
export interface Arrival {
  headers: HeaderMap;
  httpStatus: number | null;
  /** The JSON-RPC id of the request whose POST response carried it (HTTP members); null on a GET stream or stdio. */
  via: JsonRpcId | null;
}

export interface UpstreamHandlers {
  onMessage(message: JsonRpcMessage, bytes: Buffer, arrival: Arrival): void;
  /** The connection can carry nothing more (the process exited, the session is gone). */
  onClosed(reason: string): void;
}

export interface UpstreamConnection {
  /** The headers a message is sent with (for the record; credentials are redacted by the caller). */
  readonly sentHeaders: HeaderMap;
  /** True when a request's answer comes within send() (HTTP): one still unanswered once send() resolved never will be. */
  readonly answersWithinSend: boolean;
  /**
   * Sends one message. Resolves once it was delivered and, for a request over HTTP, its
   * POST response is over (whatever it carried went to onMessage); rejects with the reason
   * it could not be delivered. `traceparent` names the message's span to an HTTP server;
   * `record` is the message's exchange on the server's route (what a server tapwire runs
   * itself records its own work under).
   */
  send(message: Record<string, unknown>, traceparent?: string, record?: Exchange): Promise<void>;
  /** After initialize: the session's negotiated protocol version (HTTP members send it on every request). */
  initialized(protocolVersion: string | null): void;
  close(): Promise<void>;
}

const SSE = /^text\/event-stream/i;

/** How long after a server ended its GET stream it is opened again. */
const RELISTEN_MS = 1000;

function header(headers: HeaderMap, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A short, clear reason for a failed HTTP call to a member. */
function httpFailure(route: Route, err: unknown): string {
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const code = e.code ?? e.cause?.code ?? '';
  if (err instanceof undiciErrors.HeadersTimeoutError || code === 'UND_ERR_HEADERS_TIMEOUT') return `no response within ${route.config.timeouts.response_ms} ms`;
  if (code === 'ECONNREFUSED') return `cannot reach ${route.upstream.origin}: ECONNREFUSED`;
  return `${route.upstream.origin} failed: ${code || e.message || String(err)}`;
}

/** A member with an upstream URL, spoken to over Streamable HTTP. */
export class HttpUpstream implements UpstreamConnection {
  readonly answersWithinSend = true;
  private sessionId: string | null = null;
  private protocolVersion: string | null = null;
  private readonly aborts = new AbortController();
  private closed = false;

  constructor(
    private readonly route: Route,
    private readonly handlers: UpstreamHandlers,
    private readonly log: Logger,
  ) {}

  get sentHeaders(): HeaderMap {
    const headers: HeaderMap = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'accept-encoding': 'identity' };
    if (this.sessionId) headers['mcp-session-id'] = this.sessionId;
    if (this.protocolVersion) headers['mcp-protocol-version'] = this.protocolVersion;
    for (const [name, value] of Object.entries(this.route.config.headers)) headers[name.toLowerCase()] = value;
    return headers;
  }

  initialized(protocolVersion: string | null): void {
    this.protocolVersion = protocolVersion;
    void this.listen();
  }

  async send(message: Record<string, unknown>, traceparent?: string): Promise<void> {
    const via = message.method !== undefined && message.id !== undefined ? (message.id as JsonRpcId) : null;
    let response;
    try {
      response = await this.route.pool.request({
        method: 'POST',
        path: this.route.basePath || '/',
        headers: traceparent ? { ...this.sentHeaders, traceparent } : this.sentHeaders,
        body: JSON.stringify(message),
        signal: this.aborts.signal,
      });
    } catch (err) {
      throw new Error(httpFailure(this.route, err));
    }
    const headers = response.headers as HeaderMap;
    const sessionId = header(headers, 'mcp-session-id');
    if (sessionId && !this.sessionId) this.sessionId = sessionId;
    if (response.statusCode === 404 && this.sessionId) {
      await response.body.dump();
      this.handlers.onClosed('the server no longer knows the session (HTTP 404)');
      throw new Error('the server no longer knows the session (HTTP 404)');
    }
    if (response.statusCode >= 300) {
      const text = (await response.body.text().catch(() => '')).slice(0, 300);
      throw new Error(`${this.route.upstream.origin} answered HTTP ${response.statusCode}${text ? `: ${text}` : ''}`);
    }
    const arrival: Arrival = { headers, httpStatus: response.statusCode, via };
    try {
      if (SSE.test(header(headers, 'content-type') ?? '')) await this.readEvents(response.body, arrival);
      else {
        const body = Buffer.from(await response.body.arrayBuffer());
        if (body.length > 0) this.deliver(body, arrival);
      }
    } catch (err) {
      throw new Error(`the answer from ${this.route.upstream.origin} was cut: ${(err as Error).message}`);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.aborts.abort();
    if (!this.sessionId) return;
    // The server may keep state per session: tell it the session is over, as SDK clients do.
    const headers = this.sentHeaders;
    delete headers['content-type'];
    await this.route.pool
      .request({ method: 'DELETE', path: this.route.basePath || '/', headers })
      .then((r) => r.body.dump())
      .catch(() => undefined);
  }

  /** The standing GET stream: what the server sends outside any request (list_changed, its own requests). */
  private async listen(): Promise<void> {
    while (!this.closed) {
      const headers = this.sentHeaders;
      headers.accept = 'text/event-stream';
      delete headers['content-type'];
      try {
        const response = await this.route.pool.request({ method: 'GET', path: this.route.basePath || '/', headers, signal: this.aborts.signal, bodyTimeout: 0 });
        if (response.statusCode !== 200 || !SSE.test(header(response.headers as HeaderMap, 'content-type') ?? '')) {
          // 405: the server offers no such stream.
          await response.body.dump();
          return;
        }
        await this.readEvents(response.body, { headers: response.headers as HeaderMap, httpStatus: 200, via: null });
        // The server ended the stream: open it again, a moment later so a server that keeps ending it costs little.
        await delay(RELISTEN_MS, undefined, { signal: this.aborts.signal });
      } catch (err) {
        if (!this.closed) this.log.debug({ route: this.route.name, err }, 'federated route: the GET stream of a server ended');
        return;
      }
    }
  }

  private async readEvents(body: AsyncIterable<Buffer>, arrival: Arrival): Promise<void> {
    const parser = new SseParser();
    for await (const chunk of body) {
      for (const event of parser.push(chunk)) if (event.data !== '') this.deliver(Buffer.from(event.data), arrival);
    }
  }

  private deliver(bytes: Buffer, arrival: Arrival): void {
    let value: unknown;
    try {
      value = JSON.parse(bytes.toString('utf8')) as unknown;
    } catch {
      this.log.warn({ route: this.route.name }, 'federated route: a server sent something that is not JSON; ignored');
      return;
    }
    const messages = Array.isArray(value) ? value.map(classify) : [classify(value)];
    for (const message of messages) {
      if (message.kind === 'invalid') this.log.warn({ route: this.route.name, reason: message.reason }, 'federated route: a server sent something that is not JSON-RPC; ignored');
      else this.handlers.onMessage(message, messages.length === 1 ? bytes : Buffer.from(JSON.stringify(message.raw)), arrival);
    }
  }
}

/** A member with a command: its own stdio server process. */
export class StdioUpstream implements UpstreamConnection {
  readonly sentHeaders: HeaderMap = {};
  readonly answersWithinSend = false;
  private readonly server: StdioServerProcess;
  private exited: string | null = null;

  constructor(
    private readonly name: string,
    command: StdioCommand,
    private readonly handlers: UpstreamHandlers,
    private readonly log: Logger,
  ) {
    this.server = StdioServerProcess.start(command, 'pipe');
    const lines = new LineSplitter();
    const arrival: Arrival = { headers: {}, httpStatus: null, via: null };
    const read = (line: Line): void => {
      const read = readLine(line);
      if (read.kind === 'message') this.handlers.onMessage(read.message, line.bytes, arrival);
      else if (read.kind === 'invalid') this.log.warn({ route: name, reason: read.reason }, 'federated route: a server wrote a line that is not JSON-RPC; ignored');
    };
    this.server.stdout.on('data', (chunk: Buffer) => lines.push(chunk).forEach(read));
    this.server.stderr?.on('data', (chunk: Buffer) => this.log.debug({ route: name, stderr: chunk.toString('utf8').trimEnd() }, 'MCP server stderr'));
    void this.server.exited.then((exit) => {
      this.exited = `the MCP server ${describeExit(exit)}`;
      this.handlers.onClosed(this.exited);
    });
  }

  initialized(): void {}

  send(message: Record<string, unknown>): Promise<void> {
    if (this.exited) return Promise.reject(new Error(this.exited));
    return new Promise((resolve, reject) => {
      this.server.stdin.write(`${JSON.stringify(message)}\n`, (err) => (err ? reject(new Error(`cannot write to ${this.name}: ${err.message}`)) : resolve()));
    });
  }

  async close(): Promise<void> {
    await this.server.stop();
  }
}
