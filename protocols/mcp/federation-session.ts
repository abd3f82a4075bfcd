// One agent session of a federated MCP route: a small MCP server towards the agent (served
// as Streamable HTTP by the bridge in stdio-http.ts) with one upstream session per member
// server behind it (federation-upstream.ts). initialize is answered with the union of the
// servers' capabilities; tools/prompts/resources lists and resource templates are gathered
// from every server (each page with that server's own cursor) into one list, tool and
// prompt names prefixed with the server's route name; a call goes to the server that owns
// the name. What servers send the agent (sampling, elicitation, roots requests, progress,
// list_changed, log messages) reaches it with ids the route hands out, so two servers never
// collide, and the agent's answers go back to the server that asked. Every message is
// recorded twice: the agent-facing exchange on the federated route, and each per-server
// exchange it caused on the server's route with parent_id naming the agent-facing one
// (once for an inline member: an openapi route served on its own, see MemberSpec).
import { decodedHeaders } from '../../core/encoding.js';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PolicyGate } from '../policy-gate.js';
import { reviewedAnswer, type AnswerReview } from './answer-review.js';
import { admitMessage, listFilter } from './gate.js';
import type { FederatedRouteConfig } from '../../config/config.js';
import type { Exchange } from '../../core/exchange.js';
import { VERSION } from '../../core/package.js';
import type { HeaderMap } from '../../core/headers.js';
import { classify, errorResponse, idKey, INTERNAL_ERROR, INVALID_PARAMS, METHOD_NOT_FOUND, type JsonRpcId, type JsonRpcMessage } from '../../core/jsonrpc.js';
import type { Logger } from '../../core/log.js';
import { decodeCursor, encodeCursor, LISTS, NameSpace, oldestVersion, prefixes, unionCapabilities, type Owned } from './federation-names.js';
import type { Arrival, UpstreamConnection, UpstreamHandlers } from './federation-upstream.js';
import type { BridgedSession, SessionFactory } from './stdio-http.js';
import { IdleWatch, PendingStreams, RequestStream, SSE_HEADERS, sseMessage, StandingStream } from './stdio-session.js';
import { formatTraceparent, spanOf, type TraceParent } from '../../core/trace-context.js';
import type { Decision } from '../../policies/decision.js';
import type { Carrier, McpDecisions, McpSession, McpTracker } from './tracker.js';

type Request = Extract<JsonRpcMessage, { kind: 'request' }>;
type Notification = Extract<JsonRpcMessage, { kind: 'notification' }>;
type Response = Extract<JsonRpcMessage, { kind: 'response' }>;
type Json = Record<string, unknown>;

/** JSON-RPC error codes of a federated route (tapwire's range of server errors). */
export const SERVER_UNAVAILABLE = -32050;

/** Messages for the agent kept while it has no stream open to receive them. */
const MAX_BUFFERED = 100;

/** A member server as the route knows it. */
export interface MemberSpec {
  name: string;
  /** Opens a new connection to the server (one per agent session). */
  connect(handlers: UpstreamHandlers): UpstreamConnection;
  /** The server route's tracker: the per-server exchanges are recorded on its route. */
  tracker: McpTracker;
  /**
   * Tapwire itself is this server, and the route is its own (an openapi route served on its
   * own): its messages are not recorded a second time, and what it records of its work
   * hangs on the agent-facing exchange.
   */
  inline?: boolean;
}

export interface FederationContext {
  agent: string;
  routeName: string;
  route: FederatedRouteConfig;
  members: MemberSpec[];
  /** The federated route's own tracker: the agent-facing exchanges. */
  tracker: McpTracker;
  gate: PolicyGate | null;
  redact: (headers: IncomingMessage['headers'] | HeaderMap) => HeaderMap;
  log: Logger;
}

export function federatedSessions(ctx: FederationContext): SessionFactory {
  return (onEnd) => new FederatedSession(ctx, onEnd);
}

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A server did not answer in time (it may still: its session is kept). */
class TimedOut extends Error {}

/** A request of the route to a server that has no answer yet. */
interface Pending {
  /** The id the server got. */
  id: JsonRpcId;
  settle(answer: Response | Error): void;
  /** idKey of the agent's request it serves, to send what the server says meanwhile on that request's stream. */
  agentKey: string | null;
  /** The policies' review of the server's answer, applied before it is recorded; null when none. */
  review: MemberReview | null;
  /** The policies' decisions its per-server record carries: a refusal of its answer; null without a review. */
  decisions: McpDecisions | null;
}

/** A server's answer as the policies' review leaves it (with the server's id), or null when unchanged; a refusal comes with its decision. */
type MemberReview = (answer: Response) => { message: Response; refused: boolean; decision: Decision | null } | null;

/** One member server within one agent session. */
class Member {
  connection: UpstreamConnection | null = null;
  /** Why the server is not usable, or null while it is. */
  down: string | null = 'not connected';
  /** What it answered to initialize. */
  initialized: { protocolVersion: string; capabilities: Json; instructions: string | null } | null = null;
  connecting: Promise<void> | null = null;
  readonly pending = new Map<string, Pending>();
  nextId = 1;
  constructor(
    readonly spec: MemberSpec,
    /** Its per-server exchanges' session in the server route's tracker. */
    readonly session: McpSession,
  ) {}
  get name(): string {
    return this.spec.name;
  }
  offers(capability: string): boolean {
    return this.initialized !== null && isObject(this.initialized.capabilities[capability]);
  }
}

class FederatedSession implements BridgedSession {
  readonly id = randomUUID();
  readonly finished: Promise<void>;
  private finish!: () => void;
  private readonly mcp: McpSession;
  private readonly members: Member[];
  private readonly tools: NameSpace;
  private readonly prompts: NameSpace;
  /** Resource URIs (and URI template prefixes) the servers listed -> the server. */
  private readonly resourceOwners = new Map<string, string>();
  private readonly templateOwners: { prefix: string; server: string }[] = [];
  /** The agent's initialize params, sent to every server (again when one reconnects). */
  private initializeParams: Json = {};
  /** Pending agent requests (idKey) -> the POST stream its answer goes on. */
  private readonly pending = new PendingStreams();
  private readonly standing = new StandingStream();
  private buffered: string[] = [];
  /** Server requests sent to the agent: the id it got (idKey) -> the server and the server's own id. */
  private readonly serverRequests = new Map<string, { member: Member; id: JsonRpcId; connection: UpstreamConnection | null }>();
  /** The other way: `server\nidKey(server's id)` -> the id the agent got. */
  private readonly agentIds = new Map<string, JsonRpcId>();
  private nextAgentId = 1;
  private readonly activity: IdleWatch;
  private ended = false;

  constructor(
    private readonly ctx: FederationContext,
    private readonly onEnd: (session: BridgedSession) => void,
  ) {
    this.finished = new Promise((resolve) => (this.finish = resolve));
    this.mcp = ctx.tracker.session(this.id);
    this.members = ctx.members.map((spec) => new Member(spec, spec.tracker.session(`${this.id}/${ctx.routeName}`, this.id)));
    const names = ctx.members.map((m) => m.name);
    const prefixing = prefixes(ctx.route.prefix ?? 'auto', names.length);
    this.tools = new NameSpace(names, prefixing);
    this.prompts = new NameSpace(names, prefixing);
    this.activity = new IdleWatch(ctx.route.timeouts.session_idle_ms, (idleMs) => void this.end('session_idle', `the session was idle for ${idleMs} ms`));
  }

  get alive(): boolean {
    return !this.ended;
  }

  private get listTimeoutMs(): number {
    return this.ctx.route.list_timeout_ms ?? 10_000;
  }

  post(messages: JsonRpcMessage[], _body: Buffer, agentHeaders: IncomingMessage['headers'], res: ServerResponse, claims: Record<string, unknown> | null): Promise<void> {
    const done = this.activity.hold(res);
    const hasRequests = messages.some((m) => m.kind === 'request');
    const headers: HeaderMap = { ...(hasRequests ? SSE_HEADERS : {}), 'mcp-session-id': this.id };
    const stream = hasRequests ? new RequestStream(res, headers) : null;
    res.writeHead(hasRequests ? 200 : 202, headers);
    if (stream) {
      res.flushHeaders();
      res.once('close', () => this.abandon(stream));
    } else res.end();
    // The messages are recorded as read (decoded), so their headers say so.
    const carrier: Carrier = { headers: decodedHeaders(this.ctx.redact(agentHeaders)), httpStatus: hasRequests ? 200 : 202 };
    for (const message of messages) {
      const bytes = Buffer.from(JSON.stringify(message.raw));
      if (message.kind === 'request' && stream) this.onAgentRequest(message, { ...carrier, bytes }, agentHeaders, claims, stream);
      else if (message.kind === 'notification') this.onAgentNotification(message, { ...carrier, bytes });
      else if (message.kind === 'response') this.onAgentResponse(message, { ...carrier, bytes });
    }
    if (stream && stream.waiting.size === 0 && stream.open) res.end();
    return done;
  }

  openStanding(res: ServerResponse): Promise<void> | false {
    const done = this.standing.open(res, this.id, this.activity);
    if (done === false) return false;
    for (const text of this.buffered) res.write(text);
    this.buffered = [];
    return done;
  }

  async end(code: string, message: string): Promise<void> {
    if (this.ended) return this.finished;
    this.ended = true;
    this.activity.stop();
    this.onEnd(this);
    await Promise.all(this.members.map((m) => this.disconnect(m, message)));
    this.pending.endAll();
    this.standing.end();
    this.ctx.tracker.endSession(this.mcp.key, code, message);
    for (const m of this.members) m.spec.tracker.endSession(m.session.key, code, message);
    this.finish();
    return this.finished;
  }

  // ---- the agent's messages ----

  private onAgentRequest(request: Request, carrier: Carrier & { bytes: Buffer }, agentHeaders: IncomingMessage['headers'], claims: Record<string, unknown> | null, stream: RequestStream): void {
    const key = idKey(request.id);
    this.pending.await(request.id, request.method, request.params, stream);
    const routed = this.route(request);
    let review: AnswerReview | null = null;
    let admitted: McpDecisions | null = null;
    if (this.ctx.gate && !('error' in routed)) {
      // Rules see the message as the server will: its own name for the tool or prompt, and mcp.server.
      const judged = classify({ ...request.raw, params: routed.params }) as Request;
      const admission = admitMessage(this.ctx.gate, {
        agent: this.ctx.agent,
        route: this.ctx.routeName,
        sessionId: this.id,
        request: judged,
        body: Buffer.from(JSON.stringify(judged.raw)),
        headers: agentHeaders,
        jwtClaims: claims,
        httpStatus: 200,
        server: routed.server ?? '',
      });
      if ('refusal' in admission) {
        // Recorded by the gate; the servers never see it.
        this.send(this.pending.settle(key), JSON.stringify(admission.refusal));
        return;
      }
      if (!LISTS[request.method]) review = admission.review;
      admitted = admission.decisions;
    }
    const decisions = admitted;
    // The answer is reviewed once: by the member whose server answered (so the per-server
    // record holds what the agent gets), else here (tapwire's own answer: down, timed out).
    const reviewOnce: AnswerReview | null =
      review &&
      ((answer) => {
        const pending = review;
        review = null;
        return pending ? pending(answer) : null;
      });
    const server = 'error' in routed ? undefined : (routed.server ?? '');
    const exchange = this.ctx.tracker.request(this.mcp, 'client_to_server', request, { ...carrier, decisions, ...(server !== undefined ? { server } : {}) }, stream);
    const memberReview: MemberReview | null = reviewOnce && decisions && server ? (answer) => this.reviewed(reviewOnce, decisions, answer) : null;
    void this.answerOf(request, routed, exchange, key, memberReview)
      .catch((err: unknown) => errorResponse(request.id, INTERNAL_ERROR, `tapwire federated route ${this.ctx.routeName}: ${(err as Error).message}`))
      .then((answer) => this.answer(request.id, (reviewOnce && reviewOnce(answer)) ?? answer));
  }

  /** Where a request goes: to one server (with the params it gets), to all of them, or nowhere (an error). */
  private route(request: Request): { server: string | null; params: unknown } | { error: Json } {
    const params = isObject(request.params) ? request.params : {};
    const unknown = (what: string): { error: Json } => ({
      error: errorResponse(request.id, INVALID_PARAMS, `tapwire federated route ${this.ctx.routeName}: no server has ${what}`),
    });
    const owned = (space: NameSpace, name: unknown, what: string): Owned | { error: Json } =>
      (typeof name === 'string' ? space.resolve(name) : null) ?? unknown(`${what} ${JSON.stringify(name)}`);
    switch (request.method) {
      case 'tools/call':
      case 'prompts/get': {
        const owner = owned(request.method === 'tools/call' ? this.tools : this.prompts, params.name, request.method === 'tools/call' ? 'a tool' : 'a prompt');
        return 'error' in owner ? owner : { server: owner.server, params: { ...params, name: owner.name } };
      }
      case 'resources/read':
      case 'resources/subscribe':
      case 'resources/unsubscribe': {
        const server = typeof params.uri === 'string' ? this.resourceOwner(params.uri) : null;
        return server ? { server, params } : unknown(`a resource ${JSON.stringify(params.uri)} (list resources first)`);
      }
      case 'completion/complete': {
        const ref = isObject(params.ref) ? params.ref : {};
        if (ref.type === 'ref/prompt') {
          const owner = owned(this.prompts, ref.name, 'a prompt');
          return 'error' in owner ? owner : { server: owner.server, params: { ...params, ref: { ...ref, name: owner.name } } };
        }
        const server = typeof ref.uri === 'string' ? this.resourceOwner(ref.uri) : null;
        return server ? { server, params } : unknown(`a resource template ${JSON.stringify(ref.uri)}`);
      }
      default:
        return { server: null, params: request.params };
    }
  }

  private resourceOwner(uri: string): string | null {
    const known = this.resourceOwners.get(uri) ?? this.templateOwners.find((t) => uri.startsWith(t.prefix))?.server;
    return known ?? (this.members.length === 1 ? this.members[0]!.name : null);
  }

  private async answerOf(request: Request, routed: { server: string | null; params: unknown } | { error: Json }, exchange: Exchange, agentKey: string, review: MemberReview | null): Promise<Json> {
    if ('error' in routed) return routed.error;
    const ok = (result: unknown): Json => ({ jsonrpc: '2.0', id: request.id, result });
    if (routed.server !== null) {
      const member = this.members.find((m) => m.name === routed.server)!;
      const answer = await this.forward(member, request.method, routed.params, exchange, agentKey, null, false, review);
      if ('refused' in answer) return errorResponse(request.id, SERVER_UNAVAILABLE, answer.refused, { tapwire_error: 'server_unavailable', server: member.name });
      return { ...answer.raw, id: request.id };
    }
    const list = LISTS[request.method];
    if (list) return this.aggregate(request, list, exchange, agentKey);
    switch (request.method) {
      case 'initialize':
        return ok(await this.initialize(request, exchange));
      case 'ping':
        return ok({});
      case 'logging/setLevel':
        await Promise.all(this.members.filter((m) => m.offers('logging')).map((m) => this.forward(m, request.method, request.params, exchange, agentKey, this.listTimeoutMs)));
        return ok({});
      default:
        return errorResponse(request.id, METHOD_NOT_FOUND, `Method not found: ${request.method} (tapwire federated route ${this.ctx.routeName})`);
    }
  }

  private async initialize(request: Request, exchange: Exchange): Promise<Json> {
    this.initializeParams = isObject(request.params) ? request.params : {};
    await Promise.all(this.members.map((m) => this.connect(m, exchange)));
    const ready = this.members.filter((m) => m.initialized);
    const down = this.members.filter((m) => !m.initialized);
    if (down.length > 0) this.ctx.log.warn({ route: this.ctx.routeName, servers: Object.fromEntries(down.map((m) => [m.name, m.down])) }, 'federated route: servers not available at initialize');
    const requested = typeof this.initializeParams.protocolVersion === 'string' ? this.initializeParams.protocolVersion : '2025-03-26';
    const instructions = ready.filter((m) => m.initialized!.instructions).map((m) => `${m.name}: ${m.initialized!.instructions}`);
    return {
      protocolVersion: oldestVersion(requested, ready.map((m) => m.initialized!.protocolVersion)),
      capabilities: unionCapabilities(ready.map((m) => m.initialized!.capabilities)),
      serverInfo: { name: `tapwire/${this.ctx.routeName}`, version: VERSION },
      ...(instructions.length > 0 ? { instructions: instructions.join('\n\n') } : {}),
    };
  }

  /** Gathers one list from every server that offers it, page by page with each server's own cursor. */
  private async aggregate(request: Request, list: (typeof LISTS)[string], exchange: Exchange, agentKey: string): Promise<Json> {
    const params = isObject(request.params) ? request.params : {};
    const cursors = typeof params.cursor === 'string' ? decodeCursor(params.cursor, this.members.map((m) => m.name)) : null;
    if (typeof params.cursor === 'string' && !cursors) {
      return errorResponse(request.id, INVALID_PARAMS, `Invalid params: cursor ${JSON.stringify(params.cursor)} is not one tapwire gave out`);
    }
    const targets = this.members.filter((m) => !cursors || cursors.has(m.name));
    // A server that is down gets another chance to connect, once per list request.
    await Promise.all(targets.filter((m) => m.down).map((m) => this.connect(m, exchange)));
    const asked = targets.filter((m) => m.down !== null || m.offers(list.capability));
    const answers = await Promise.all(
      asked.map(async (m) => {
        const cursor = cursors?.get(m.name);
        const answer = await this.forward(m, request.method, cursor === undefined ? {} : { cursor }, exchange, agentKey, this.listTimeoutMs);
        if ('refused' in answer) return { member: m, failure: answer.refused };
        if (answer.error) return { member: m, failure: `it answered error ${answer.error.code}: ${answer.error.message}` };
        return { member: m, result: isObject(answer.result) ? answer.result : {} };
      }),
    );
    const failures = answers.filter((a) => a.failure !== undefined).map((a) => ({ server: a.member.name, reason: a.failure }));
    if (failures.length > 0) {
      const text = failures.map((f) => `${f.server} (${f.reason})`).join(', ');
      if (this.ctx.route.failure === 'closed') {
        return errorResponse(request.id, SERVER_UNAVAILABLE, `tapwire federated route ${this.ctx.routeName}: ${request.method} failed: ${failures.length === 1 ? 'server' : 'servers'} ${text} did not answer (failure: closed)`, {
          tapwire_error: 'server_unavailable',
          servers: Object.fromEntries(failures.map((f) => [f.server, f.reason])),
        });
      }
      // The agent learns which servers its list leaves out, before the list itself.
      this.toAgent(this.pending.streamFor(agentKey) ?? null, {
        jsonrpc: '2.0',
        method: 'notifications/message',
        params: { level: 'warning', logger: 'tapwire', data: { message: `tapwire federated route ${this.ctx.routeName}: ${request.method} leaves out ${text}`, missing: failures } },
      }, '');
    }
    const items: unknown[] = [];
    const next = new Map<string, string>();
    for (const answer of answers) {
      if (!answer.result) continue;
      const m = answer.member;
      const filter = this.ctx.gate && listFilter(this.ctx.gate, { agent: this.ctx.agent, route: this.ctx.routeName, sessionId: this.id, request, body: Buffer.alloc(0), headers: {}, httpStatus: 200, server: m.name });
      const result = filter ? (((filter({ result: answer.result }) as { result?: Json } | null)?.result) ?? answer.result) : answer.result;
      const entries = Array.isArray(result[list.field]) ? (result[list.field] as unknown[]) : [];
      for (const entry of entries) {
        if (!isObject(entry)) continue;
        if (list.named && typeof entry.name === 'string') {
          const { exposed, clash } = (list.field === 'tools' ? this.tools : this.prompts).expose(m.name, entry.name);
          if (clash) {
            return errorResponse(request.id, INTERNAL_ERROR, `tapwire federated route ${this.ctx.routeName}: ${list.field} ${JSON.stringify(entry.name)} exists on both ${clash} and ${m.name}; with prefix: never names must be unique (set prefix: auto or always)`, {
              tapwire_error: 'name_clash',
              servers: [clash, m.name],
            });
          }
          items.push({ ...entry, name: exposed });
          continue;
        }
        if (typeof entry.uri === 'string') this.resourceOwners.set(entry.uri, m.name);
        if (typeof entry.uriTemplate === 'string') this.templateOwners.push({ prefix: entry.uriTemplate.split('{', 1)[0]!, server: m.name });
        items.push(entry);
      }
      if (typeof result.nextCursor === 'string') next.set(m.name, result.nextCursor);
    }
    const nextCursor = encodeCursor(next);
    return { jsonrpc: '2.0', id: request.id, result: { [list.field]: items, ...(nextCursor ? { nextCursor } : {}) } };
  }

  private onAgentNotification(message: Notification, carrier: Carrier & { bytes: Buffer }): void {
    const exchange = this.ctx.tracker.notification(this.mcp, 'client_to_server', message, { ...carrier, server: '' });
    if (message.method === 'notifications/initialized') return; // each server got its own when it initialized
    if (message.method === 'notifications/cancelled') {
      const params = isObject(message.params) ? message.params : {};
      const id = params.requestId;
      if (typeof id !== 'string' && typeof id !== 'number') return;
      // The agent cancels its request: each server working on it is told, with the id it got.
      for (const m of this.members) {
        for (const pending of m.pending.values()) {
          if (pending.agentKey === idKey(id)) void this.notify(m, message.method, { ...params, requestId: pending.id }, exchange);
        }
      }
      return;
    }
    for (const m of this.members) if (m.initialized) void this.notify(m, message.method, message.params, exchange);
  }

  private onAgentResponse(message: Response, carrier: Carrier & { bytes: Buffer }): void {
    const target = message.id === null ? undefined : this.serverRequests.get(idKey(message.id));
    this.ctx.tracker.response(this.mcp, 'client_to_server', message, carrier);
    if (!target) return;
    this.serverRequests.delete(idKey(message.id!));
    this.agentIds.delete(`${target.member.name}\n${idKey(target.id)}`);
    const forwarded = { ...message.raw, id: target.id };
    const bytes = Buffer.from(JSON.stringify(forwarded));
    const { member } = target;
    member.spec.tracker.response(member.session, 'client_to_server', classify(forwarded) as Response, { headers: this.sentHeaders(member), bytes, server: member.name });
    // A server that went down since it asked has a new session (or none) that never asked.
    if (member.connection !== target.connection) return;
    target.connection?.send(forwarded).catch((err: unknown) => this.ctx.log.warn({ route: this.ctx.routeName, server: member.name, err: (err as Error).message }, 'federated route: could not pass the agent\'s answer to a server'));
  }

  // ---- the servers ----

  /** Connects and initializes a server (again, when it was down); never throws: a failure leaves it down. */
  private connect(m: Member, parent: Exchange): Promise<void> {
    m.connecting ??= (async () => {
      if (this.ended) return;
      const connection = m.spec.connect({
        onMessage: (message, bytes, arrival) => this.fromServer(m, message, bytes, arrival),
        onClosed: (reason) => {
          if (m.connection === connection) void this.disconnect(m, reason);
        },
      });
      m.connection = connection;
      m.down = null;
      const answer = await this.forward(m, 'initialize', this.initializeParams, parent, null, this.ctx.route.timeouts.connect_ms, true);
      const result = 'refused' in answer || answer.error || !isObject(answer.result) ? null : answer.result;
      if (!result) {
        const reason = 'refused' in answer ? answer.refused : `initialize failed: ${answer.error?.message ?? 'no result'}`;
        await this.disconnect(m, reason);
        return;
      }
      m.initialized = {
        protocolVersion: typeof result.protocolVersion === 'string' ? result.protocolVersion : '2025-03-26',
        capabilities: isObject(result.capabilities) ? result.capabilities : {},
        instructions: typeof result.instructions === 'string' ? result.instructions : null,
      };
      await this.notify(m, 'notifications/initialized', undefined, parent);
      connection.initialized(m.initialized.protocolVersion);
    })().finally(() => (m.connecting = null));
    return m.connecting;
  }

  /** The server can no longer be used: what waits for it fails, its connection is closed. */
  private async disconnect(m: Member, reason: string): Promise<void> {
    const connection = m.connection;
    m.connection = null;
    m.initialized = null;
    m.down = reason;
    for (const pending of m.pending.values()) pending.settle(new Error(reason));
    m.pending.clear();
    await connection?.close();
  }

  private sentHeaders(m: Member): HeaderMap {
    return this.ctx.redact(m.connection?.sentHeaders ?? {});
  }

  /**
   * Sends a request to one server and waits for its answer; `refused` says why there is
   * none (down, timed out, cut). Recorded on the server's route, parent_id `parent`;
   * `review` replaces the answer (see fromServer).
   */
  private async forward(m: Member, method: string, params: unknown, parent: Exchange, agentKey: string | null, timeoutMs: number | null, connecting = false, review: MemberReview | null = null): Promise<Response | { refused: string }> {
    if (!connecting && m.connecting) await m.connecting;
    const connection = m.connection;
    if (!connection || (!connecting && !m.initialized)) return { refused: m.down ?? 'not connected' };
    const id = m.nextId++;
    const message = { jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) };
    const key = idKey(id);
    const owner = {};
    const tracker = m.spec.tracker;
    const headers = this.sentHeaders(m);
    // A reviewed answer's refusal is stamped on the per-server record too.
    const decisions: McpDecisions | null = review ? { request: null, answer: null } : null;
    const child = m.spec.inline
      ? null
      : tracker.request(m.session, 'client_to_server', classify(message) as Request, { headers, bytes: Buffer.from(JSON.stringify(message)), parentId: parent.id, server: m.name, decisions, ...this.traceOf(parent) }, owner);
    const traceparent = child ? this.traceparentOf(child, headers) : undefined;
    let timer: NodeJS.Timeout | undefined;
    const answer = new Promise<Response | Error>((resolve) => {
      m.pending.set(key, { id, settle: resolve, agentKey, review, decisions });
      if (timeoutMs !== null) timer = setTimeout(() => resolve(new TimedOut(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    const sent = connection.send(message, traceparent, child ?? parent).then(
      () => (connection.answersWithinSend ? new Error('its answer ended without a response') : null),
      (err: unknown) => err as Error,
    );
    const outcome = await Promise.race([answer, sent.then((failure) => failure ?? answer)]);
    clearTimeout(timer);
    m.pending.delete(key);
    tracker.release(owner);
    if (!(outcome instanceof Error)) return outcome;
    const timedOut = outcome instanceof TimedOut;
    tracker.failOwned(owner, 'error', timedOut ? 'server_timeout' : 'server_unavailable', outcome.message);
    // A server that cannot take a request, or ends its answer without one, is down until it
    // initializes again; one that is only slow keeps its session (a late answer is recorded as unmatched).
    if (!timedOut && m.connection === connection) await this.disconnect(m, outcome.message);
    return { refused: outcome.message };
  }

  /** Sends a notification to one server, recorded on its route with parent_id `parent`. */
  private async notify(m: Member, method: string, params: unknown, parent: Exchange): Promise<void> {
    const connection = m.connection;
    if (!connection) return;
    const message = { jsonrpc: '2.0', method, ...(params === undefined ? {} : { params }) };
    const headers = this.sentHeaders(m);
    const child = m.spec.inline
      ? null
      : m.spec.tracker.notification(m.session, 'client_to_server', classify(message) as Notification, { headers, bytes: Buffer.from(JSON.stringify(message)), parentId: parent.id, server: m.name, ...this.traceOf(parent) });
    await connection.send(message, child ? this.traceparentOf(child, headers) : undefined, child ?? parent).catch((err: unknown) => this.ctx.log.warn({ route: this.ctx.routeName, server: m.name, err: (err as Error).message }, 'federated route: could not send a notification to a server'));
  }

  /** A per-server message's span continues its agent-facing exchange's. */
  private traceOf(parent: Exchange): { traceParent?: TraceParent } {
    const span = spanOf(parent);
    return span ? { traceParent: span } : {};
  }

  /** The `traceparent` an HTTP server gets for a per-server message: its own span, also kept in its recorded headers (stdio has none). */
  private traceparentOf(child: Exchange, recorded: HeaderMap): string | undefined {
    const span = spanOf(child);
    if (!span || Object.keys(recorded).length === 0) return undefined;
    recorded.traceparent = formatTraceparent(span);
    return recorded.traceparent;
  }

  /** A message a server sent: a response to the route, or a request or notification for the agent. */
  private fromServer(m: Member, message: JsonRpcMessage, bytes: Buffer, arrival: Arrival): void {
    const tracker = m.spec.tracker;
    const carrier: Carrier = { headers: arrival.headers, httpStatus: arrival.httpStatus, bytes, server: m.name };
    if (message.kind === 'response') {
      const pending = message.id === null ? undefined : m.pending.get(idKey(message.id));
      const review = pending?.review ? pending.review(message) : null;
      if (review?.refused && pending?.decisions) pending.decisions.answer = review.decision;
      // A refusal is recorded as the agent receives it: what a response-phase rule blocked is stored nowhere.
      // An inline member's answer is recorded once, on the agent-facing exchange.
      if (!m.spec.inline) {
        if (review?.refused) tracker.response(m.session, 'server_to_client', review.message, { ...carrier, bytes: Buffer.from(JSON.stringify(review.message.raw)) });
        else tracker.response(m.session, 'server_to_client', message, carrier);
      }
      pending?.settle(review?.message ?? message);
      return;
    }
    if (message.kind !== 'request' && message.kind !== 'notification') return;
    const related = arrival.via === null ? null : (m.pending.get(idKey(arrival.via))?.agentKey ?? null);
    if (message.kind === 'request') {
      const agentId = this.nextAgentId++;
      this.serverRequests.set(idKey(agentId), { member: m, id: message.id, connection: m.connection });
      this.agentIds.set(`${m.name}\n${idKey(message.id)}`, agentId);
      const forwarded = { ...message.raw, id: agentId };
      const destination = (related !== null ? this.pending.streamFor(related) : undefined) ?? this.pending.newestOpen() ?? null;
      const exchange = this.toAgent(destination, forwarded, m.name);
      tracker.request(m.session, 'server_to_client', message, { ...carrier, parentId: exchange.id }, null);
      return;
    }
    let forwarded: Json = message.raw;
    const params = isObject(message.params) ? message.params : {};
    if (message.method === 'notifications/cancelled' && (typeof params.requestId === 'string' || typeof params.requestId === 'number')) {
      // The server withdraws a request it sent the agent: named with the id the agent got.
      const agentId = this.agentIds.get(`${m.name}\n${idKey(params.requestId)}`);
      if (agentId !== undefined) forwarded = { ...message.raw, params: { ...params, requestId: agentId } };
    }
    const destination = this.pending.progressStream(params.progressToken) ?? (related !== null ? this.pending.streamFor(related) : undefined) ?? null;
    const exchange = this.toAgent(destination, forwarded, m.name);
    tracker.notification(m.session, 'server_to_client', message, { ...carrier, parentId: exchange.id });
  }

  /**
   * A server's answer as `review` leaves it (see MemberReview). A refusal comes with the
   * decision the review put on the agent-facing request's `decisions`, so the per-server
   * record says denied too.
   */
  private reviewed(review: AnswerReview, decisions: McpDecisions, answer: Response): ReturnType<MemberReview> {
    const reviewed = reviewedAnswer(review(answer.raw));
    if (!reviewed) return null;
    return { message: classify({ ...(JSON.parse(reviewed.text) as Json), id: answer.id }) as Response, refused: reviewed.refused, decision: reviewed.refused ? decisions.answer : null };
  }

  // ---- towards the agent ----

  /** Sends a request or notification to the agent on `stream` (else the GET stream), recorded on the federated route. */
  private toAgent(stream: RequestStream | null, message: Json, server: string): Exchange {
    const text = JSON.stringify(message);
    const target = stream?.open ? stream : this.standing.stream;
    const carrier: Carrier = { headers: target?.headers ?? {}, httpStatus: target ? 200 : null, bytes: Buffer.from(text), server };
    const classified = classify(message);
    const exchange =
      classified.kind === 'request'
        ? this.ctx.tracker.request(this.mcp, 'server_to_client', classified, carrier, null)
        : this.ctx.tracker.notification(this.mcp, 'server_to_client', classified as Notification, carrier);
    if (target) target.res.write(sseMessage(text));
    else if (this.buffered.length < MAX_BUFFERED) this.buffered.push(sseMessage(text));
    return exchange;
  }

  /** The answer to an agent's request, on the stream of the POST that carried it; recorded as the response. */
  private answer(id: JsonRpcId, answer: Json): void {
    const text = JSON.stringify(answer);
    const stream = this.pending.settle(idKey(id));
    this.ctx.tracker.response(this.mcp, 'server_to_client', classify(answer) as Response, { headers: stream?.headers ?? {}, httpStatus: stream ? 200 : null, bytes: Buffer.from(text) });
    this.send(stream, text);
  }

  private send(stream: RequestStream | undefined, text: string): void {
    if (!stream?.open) return;
    stream.res.write(sseMessage(text));
    if (stream.waiting.size === 0) stream.res.end();
  }

  /** The agent closed a POST stream early: its requests are recorded as aborted. */
  private abandon(stream: RequestStream): void {
    if (!this.pending.abandon(stream)) return;
    this.ctx.tracker.failOwned(stream, 'aborted', 'client_aborted', 'the agent closed the connection before the response was complete');
  }
}
