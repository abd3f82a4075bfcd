// One Streamable HTTP session of a command route: its own stdio server process, the client
// messages of each POST written to the server's stdin as lines, and each line the server
// writes sent as an SSE event on the HTTP stream it belongs to: a response on the stream
// of the POST that carried its request, a progress notification on the stream of the
// request whose token it carries, a server request on the stream of the newest pending
// request, anything else on the standing GET stream (dropped when none is open, as the
// MCP SDKs' servers do). Every message is recorded through the tracker. With policies, a
// request the gate refuses is answered on its POST's stream and never written to the
// server, and the server's answers to list requests are filtered before they are sent.
import { decodedHeaders } from '../../core/encoding.js';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PolicyGate } from '../policy-gate.js';
import { AnswerReviews } from './answer-review.js';
import { admitMessage } from './gate.js';
import type { HeaderMap } from '../../core/headers.js';
import { CONNECTION_CLOSED, errorResponse, idKey, type JsonRpcId, type JsonRpcMessage } from '../../core/jsonrpc.js';
import type { Logger } from '../../core/log.js';
import { requestFacts } from './facts.js';
import { LineSplitter, type Line } from '../../core/lines.js';
import { readLine, trackLine } from './stdio-lines.js';
import { describeExit, StdioServerProcess, type ProcessExit, type StdioCommand } from './stdio-process.js';
import type { Carrier, McpSession, McpTracker } from './tracker.js';

export interface StdioSessionContext {
  agent: string;
  routeName: string;
  tracker: McpTracker;
  gate: PolicyGate | null;
  /** Redacts the agent's headers for the record. */
  redact: (headers: IncomingMessage['headers']) => HeaderMap;
  log: Logger;
  /** With no request in flight and no stream open this long, the session ends. */
  idleMs: number;
  /** Called once, when the session ends (from then on its id is unknown). */
  onEnd: (session: StdioHttpSession) => void;
}

/** Why a session ended, recorded on whatever it left unanswered. */
interface EndReason {
  code: string;
  message: string;
}

export const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform' };
const LF = Buffer.from('\n');

/** One JSON-RPC message (one line of JSON) as the SSE event that carries it. */
export function sseMessage(json: string): string {
  return `event: message\ndata: ${json}\n\n`;
}

/** The SSE response of one POST that carried requests; it ends once each has its response. */
export class RequestStream {
  /** Keys (idKey) of the requests this POST carried that have no response yet. */
  readonly waiting = new Set<string>();
  constructor(
    readonly res: ServerResponse,
    readonly headers: HeaderMap,
  ) {}
  get open(): boolean {
    return !this.res.destroyed && !this.res.writableEnded;
  }
}

/**
 * The agent's requests still waiting for an answer, each with the POST stream it goes on and
 * the stream its progress token's notifications go on. Shared by the sessions tapwire serves
 * itself over HTTP (command routes and federated routes).
 */
export class PendingStreams {
  /** Pending requests (idKey) -> the stream their answer goes on, oldest first. */
  private readonly streamOf = new Map<string, RequestStream>();
  /** Progress tokens (idKey) of pending requests -> their stream. */
  private readonly progressStreams = new Map<string, RequestStream>();
  /** Pending requests (idKey) -> their progress token's key. */
  private readonly progressOf = new Map<string, string>();

  /** The request `id` (with `method` and `params`) is answered on `stream`. */
  await(id: JsonRpcId, method: string, params: unknown, stream: RequestStream): void {
    const key = idKey(id);
    stream.waiting.add(key);
    this.streamOf.set(key, stream);
    const token = requestFacts(method, params).progressToken;
    if (token !== null) {
      this.progressStreams.set(idKey(token), stream);
      this.progressOf.set(key, idKey(token));
    }
  }

  /** A request has its answer (or never will): it stops waiting; the stream it was on, if any. */
  settle(key: string): RequestStream | undefined {
    const stream = this.streamOf.get(key);
    this.streamOf.delete(key);
    const token = this.progressOf.get(key);
    if (token !== undefined) this.progressStreams.delete(token);
    this.progressOf.delete(key);
    stream?.waiting.delete(key);
    return stream;
  }

  /** The stream a pending request (idKey) is answered on. */
  streamFor(key: string): RequestStream | undefined {
    return this.streamOf.get(key);
  }

  /** The stream of the request that gave this progress token, if it is still pending. */
  progressStream(token: unknown): RequestStream | undefined {
    return typeof token === 'string' || typeof token === 'number' ? this.progressStreams.get(idKey(token)) : undefined;
  }

  /** The newest stream still open, for a server message related to no request. */
  newestOpen(): RequestStream | undefined {
    return [...this.streamOf.values()].filter((stream) => stream.open).pop();
  }

  /** The agent closed `stream` early: its requests stop waiting. False when it had ended normally. */
  abandon(stream: RequestStream): boolean {
    if (stream.res.writableFinished) return false;
    for (const key of stream.waiting) this.settle(key);
    return true;
  }

  /** The session is over: every stream still open is ended. */
  endAll(): void {
    for (const stream of this.streamOf.values()) if (stream.open) stream.res.end();
    this.streamOf.clear();
    this.progressStreams.clear();
    this.progressOf.clear();
  }
}

/**
 * A session's idleness: it is busy while one of the agent's HTTP responses is open, and after
 * `idleMs` with none open `onIdle` runs (the session ends). Shared like PendingStreams.
 */
export class IdleWatch {
  private busy = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly idleMs: number,
    private readonly onIdle: (idleMs: number) => void,
  ) {
    this.arm();
  }

  /** Counts `res` as activity until it is over; resolves then. */
  hold(res: ServerResponse): Promise<void> {
    this.busy++;
    this.disarm();
    return new Promise((resolve) =>
      res.once('close', () => {
        this.busy--;
        this.arm();
        resolve();
      }),
    );
  }

  /** The session is over: no idle end any more. */
  stop(): void {
    this.stopped = true;
    this.disarm();
  }

  private arm(): void {
    if (this.busy > 0 || this.stopped) return;
    this.timer = setTimeout(() => this.onIdle(this.idleMs), this.idleMs);
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

/** The agent's standing GET stream of a session: at most one open at a time. */
export class StandingStream {
  private current: { res: ServerResponse; headers: HeaderMap } | null = null;

  /** The open stream, or null. */
  get stream(): { res: ServerResponse; headers: HeaderMap } | null {
    return this.current;
  }

  /** Opens it on `res` (counted as the session's activity); false when one is already open. */
  open(res: ServerResponse, sessionId: string, activity: IdleWatch): Promise<void> | false {
    if (this.current && !this.current.res.destroyed) return false;
    const done = activity.hold(res);
    const headers: HeaderMap = { ...SSE_HEADERS, 'mcp-session-id': sessionId };
    res.writeHead(200, headers);
    res.flushHeaders();
    const standing = { res, headers };
    this.current = standing;
    res.once('close', () => {
      if (this.current === standing) this.current = null;
    });
    return done;
  }

  /** The session is over. */
  end(): void {
    if (this.current?.res.writable) this.current.res.end();
  }
}

export class StdioHttpSession {
  /** The Mcp-Session-Id: also the session id of its records. */
  readonly id = randomUUID();
  private readonly server: StdioServerProcess;
  private readonly mcp: McpSession;
  private readonly pending = new PendingStreams();
  private readonly standing = new StandingStream();
  /** Answers the policies review before the agent gets them (list filtering, response-phase rules). */
  private readonly reviews = new AnswerReviews();
  private readonly activity: IdleWatch;
  private endReason: EndReason | null = null;
  private ended = false;
  /** Settles once the process is gone and the session's records are complete. */
  readonly finished: Promise<void>;

  constructor(
    command: StdioCommand,
    private readonly ctx: StdioSessionContext,
  ) {
    this.mcp = ctx.tracker.session(this.id);
    this.server = StdioServerProcess.start(command, 'pipe');
    const lines = new LineSplitter();
    this.server.stdout.on('data', (chunk: Buffer) => {
      for (const line of lines.push(chunk)) this.fromServer(line);
    });
    this.server.stdout.once('end', () => lines.end().forEach((line) => this.fromServer(line)));
    this.logStderr();
    this.finished = this.server.exited.then((exit) => this.onExit(exit));
    this.activity = new IdleWatch(ctx.idleMs, (idleMs) => void this.end('session_idle', `the session was idle for ${idleMs} ms`));
  }

  get pid(): number | undefined {
    return this.server.pid;
  }

  get alive(): boolean {
    return !this.ended && this.endReason === null;
  }

  /**
   * A POST's messages: written to the server, each recorded. With requests among them the
   * answer is an SSE stream that ends when each has its response; else a 202.
   * Resolves when the HTTP response is over.
   */
  post(messages: JsonRpcMessage[], body: Buffer, agentHeaders: IncomingMessage['headers'], res: ServerResponse, claims: Record<string, unknown> | null): Promise<void> {
    const done = this.activity.hold(res);
    const hasRequests = messages.some((m) => m.kind === 'request');
    const headers: HeaderMap = { ...(hasRequests ? SSE_HEADERS : {}), 'mcp-session-id': this.id };
    const stream = hasRequests ? new RequestStream(res, headers) : null;
    // The messages are recorded as read (decoded), so their headers say so.
    const carrier: Carrier = { headers: decodedHeaders(this.ctx.redact(agentHeaders)), httpStatus: hasRequests ? 200 : 202 };
    const single = messages.length === 1 && !body.includes(0x0a) && !body.includes(0x0d);
    const lines: Buffer[] = [];
    /** Answers to the requests the policies refused, sent on this POST's stream. */
    const refusals: string[] = [];
    for (const message of messages) {
      // Stdio carries one message per line and no batches: a one-line body goes as it came.
      const line = single ? body : Buffer.from(JSON.stringify(message.raw));
      let decisions: Carrier['decisions'] = null;
      if (message.kind === 'request' && this.ctx.gate) {
        const admission = admitMessage(this.ctx.gate, { agent: this.ctx.agent, route: this.ctx.routeName, sessionId: this.id, request: message, body: line, headers: agentHeaders, jwtClaims: claims, httpStatus: 200 });
        if ('refusal' in admission) {
          refusals.push(JSON.stringify(admission.refusal));
          continue;
        }
        if (admission.review) this.reviews.expect(message.id, admission.review);
        decisions = admission.decisions;
      }
      lines.push(line, LF);
      const read = { kind: 'message', message } as const;
      if (message.kind === 'request' && stream) this.pending.await(message.id, message.method, message.params, stream);
      trackLine(this.ctx.tracker, this.mcp, 'client_to_server', read, { ...carrier, bytes: line, decisions }, stream);
    }
    res.writeHead(hasRequests ? 200 : 202, headers);
    if (stream) {
      res.flushHeaders();
      res.once('close', () => this.abandon(stream));
      for (const refusal of refusals) res.write(sseMessage(refusal));
      if (stream.waiting.size === 0) res.end();
    } else res.end();
    if (lines.length > 0) this.server.stdin.write(Buffer.concat(lines));
    return done;
  }

  /** Opens the standing GET stream; false when one is already open. */
  openStanding(res: ServerResponse): Promise<void> | false {
    return this.standing.open(res, this.id, this.activity);
  }

  /** Ends the session: its process is stopped; what it left unanswered is recorded with `code`. */
  end(code: string, message: string): Promise<void> {
    if (this.alive) {
      this.endReason = { code, message };
      this.ctx.onEnd(this);
      void this.server.stop();
    }
    return this.finished;
  }

  /** The client closed a POST stream early: its requests are recorded as aborted. */
  private abandon(stream: RequestStream): void {
    if (!this.pending.abandon(stream)) return;
    this.ctx.tracker.failOwned(stream, 'aborted', 'client_aborted', 'the agent closed the connection before the response was complete');
  }

  private fromServer(line: Line): void {
    let read = readLine(line);
    if (read.kind === 'blank') return;
    const destination = read.kind === 'message' ? this.destinationOf(read.message) : null;
    if (read.kind === 'invalid') this.ctx.log.warn({ route: this.ctx.routeName, session: this.id, reason: read.reason }, 'the MCP server wrote a line that is not JSON-RPC; not sent to the agent');
    let carrier: Carrier = { headers: {}, httpStatus: null };
    let bytes = line.bytes;
    if (destination && !destination.res.destroyed) {
      const reviewed = read.kind === 'message' ? this.reviews.answer(read.message.raw) : null;
      if (reviewed?.refused) {
        // A refusal is recorded as the agent receives it: what a response-phase rule blocked is stored nowhere.
        bytes = Buffer.from(reviewed.text);
        read = readLine({ bytes, overflowed: false });
      }
      destination.res.write(sseMessage(reviewed?.text ?? line.bytes.toString('utf8').replace(/\r/g, '')));
      carrier = { headers: destination.headers, httpStatus: 200 };
    }
    trackLine(this.ctx.tracker, this.mcp, 'server_to_client', read, { ...carrier, bytes });
    if (destination instanceof RequestStream && destination.waiting.size === 0 && destination.open) destination.res.end();
  }

  /** The stream a server message goes on, or null when it is dropped. */
  private destinationOf(message: JsonRpcMessage): RequestStream | { res: ServerResponse; headers: HeaderMap } | null {
    if (message.kind === 'response') return message.id === null ? null : (this.pending.settle(idKey(message.id)) ?? null);
    if (message.kind === 'notification') {
      const related = this.pending.progressStream((message.params as { progressToken?: unknown } | undefined)?.progressToken);
      if (related) return related;
    }
    if (message.kind === 'request') {
      const newest = this.pending.newestOpen();
      if (newest) return newest;
    }
    return this.standing.stream;
  }

  /** The process is gone: every request it left unanswered gets a JSON-RPC error on its stream. */
  private onExit(exit: ProcessExit): void {
    this.ended = true;
    this.activity.stop();
    const reason = this.endReason ?? { code: 'server_exited', message: `the MCP server ${describeExit(exit)}` };
    const logged = { route: this.ctx.routeName, session: this.id, exit: describeExit(exit) };
    if (this.endReason) this.ctx.log.debug(logged, 'MCP server stopped');
    else {
      this.ctx.onEnd(this);
      this.ctx.log.warn(logged, 'MCP server exited on its own: session ended');
    }
    const message = `${reason.message} before the MCP server answered`;
    const data = { tapwire_error: reason.code };
    this.ctx.tracker.failPending(this.mcp, 'client_to_server', reason.code, message, (id) => {
      const answer = Buffer.from(JSON.stringify(errorResponse(id, CONNECTION_CLOSED, `tapwire: ${message}`, data)));
      const stream = this.pending.settle(idKey(id));
      if (stream?.open) stream.res.write(sseMessage(answer.toString('utf8')));
      return answer;
    });
    this.pending.endAll();
    this.standing.end();
    this.ctx.tracker.endSession(this.mcp.key, reason.code, reason.message);
  }


  private logStderr(): void {
    const stderr = this.server.stderr;
    if (!stderr) return;
    const lines = new LineSplitter(4096);
    const log = (line: Line): void => {
      const text = line.bytes.toString('utf8').trimEnd();
      if (text) this.ctx.log.info({ route: this.ctx.routeName, session: this.id, stderr: text }, 'MCP server stderr');
    };
    stderr.on('data', (chunk: Buffer) => lines.push(chunk).forEach(log));
    stderr.once('end', () => lines.end().forEach(log));
  }
}
