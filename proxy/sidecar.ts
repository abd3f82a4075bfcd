// The sidecar process: one HTTP listener that routes by the first path segment, the
// routes' upstream pools, the recorder, and an orderly stop (finish in-flight requests up
// to a deadline, then flush every queued record).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { RecordWriter } from '../store/record-store.js';
import { ConfigError, eventLimitsOf, isCommandRoute, isFederatedRoute, type Config, type RouteConfig } from '../config/config.js';
import { blankExchange, type Exchange } from '../core/exchange.js';
import { forward, type ForwardContext } from './forward.js';
import { ADMIN_PREFIX, checkListen, InboundGuard, listensInsecurely, type Refusal } from './inbound.js';
import { redactHeaders } from '../core/headers.js';
import type { Logger } from '../core/log.js';
import { Recording } from './recording.js';
import { BodyTooLarge, declaredTooLarge, readBody, refuseTooLarge } from '../protocols/refusal.js';
import { readBodyAsSent, type BodyReading } from '../protocols/readable-body.js';
import type { ProtocolHandler, RootAnswer } from '../protocols/protocol.js';
import { PROTOCOL_CONTEXTS, protocolHandlers, routeProblems } from '../protocols/registry.js';
import { commandSessions, SessionHttpBridge } from '../protocols/mcp/stdio-http.js';
import { federatedSessions, memberSpec } from '../protocols/mcp/federation.js';
import { commandProblem, serverEnvironment } from '../protocols/mcp/stdio-process.js';
import { McpTracker } from '../protocols/mcp/tracker.js';
import { Route } from '../protocols/route.js';
import { PolicyGate } from '../protocols/policy-gate.js';
import { PolicySet } from '../policies/engine.js';
import { IdentityVerifier } from '../policies/identity.js';
import { parseTraceparent } from '../core/trace-context.js';
import { METRICS_PATH } from '../telemetry/telemetry.js';

export interface Sidecar {
  /** Base URL the sidecar listens on, e.g. http://127.0.0.1:4100 */
  url: string;
  port: number;
  /** Base URL of the admin endpoints (/_tapwire/*): admin.listen's, or the agents' listener. */
  adminUrl: string;
  recorder: RecordWriter;
  /** Stops accepting, lets in-flight requests finish (up to `deadlineMs`, default shutdown_timeout_ms), flushes the record. */
  close(deadlineMs?: number): Promise<void>;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/**
 * "/openai/v1/chat/completions?x" -> name "openai", rest "/v1/chat/completions?x". `bare` when
 * nothing but a query follows the name ("/github", "/github?x"): the upstream URL is then
 * called as configured, without a slash added.
 */
function splitRoute(url: string): { name: string; rest: string; bare: boolean } {
  const slash = url.indexOf('/', 1);
  const query = url.indexOf('?');
  const end = slash === -1 ? (query === -1 ? url.length : query) : query !== -1 && query < slash ? query : slash;
  const rest = url.slice(end);
  // Route names are plain path characters, so the segment is compared as sent: a malformed
  // percent-escape is then just an unknown route, never an error.
  const bare = !rest.startsWith('/');
  return { name: url.slice(1, end), rest: bare ? `/${rest}` : rest, bare };
}

export interface StartOptions {
  /** --insecure-listen: listen off loopback without inbound authentication (warned about at every start). */
  insecureListen?: boolean;
}

/** `env` supplies the OTEL_* variables the config's `telemetry:` section leaves unset. */
export async function startSidecar(config: Config, log: Logger, env: NodeJS.ProcessEnv = process.env, options: StartOptions = {}): Promise<Sidecar> {
  checkListen(config, options.insecureListen ?? false);
  checkRoutes(config);
  if (listensInsecurely(config)) {
    log.warn({ listen: config.listen, admin: config.admin.listen ?? config.listen }, '--insecure-listen: tapwire is reachable off loopback without authentication; anyone who can connect can use its routes and their configured credentials');
  }
  const guard = new InboundGuard(config);
  // The identity JWKS (a file is read now) and policy files are ready before anything starts.
  const identity = config.identity ? new IdentityVerifier(config.identity.jwt) : null;
  // Policy files are compiled before anything starts (a bad one stops the sidecar with a
  // PolicyError), then watched: a valid change applies, an invalid one is logged and ignored.
  const recording = await Recording.open(config, log, env, { afterRecord: (record) => logExchange(log, record.exchange) });
  const { policies, recorder, telemetry, sink } = recording;
  const routes = new Map<string, Route>();
  const bridges = new Map<string, SessionHttpBridge>(); // routes with a command (stdio servers) or servers (federated), served over HTTP
  const routeNames = Object.keys(config.routes);
  const eventLimits = eventLimitsOf(config);
  const ctx: ForwardContext = { redacted: recording.redacted, maxBodyBytes: config.store.max_body_bytes, eventLimits };
  if (config.store.durability === 'strict') {
    // MCP records reach the sink once their tokens are counted, a few microtasks after the call ends.
    ctx.committed = async () => {
      await Promise.all([...trackers.values()].map((tracker) => tracker.settled()));
      return recorder.committed();
    };
    ctx.storeFailure = () => recorder.failure;
  }
  const redact = (headers: IncomingMessage['headers']) => redactHeaders(headers, ctx.redacted);
  const noPolicies = new PolicySet([]);
  const policyGate =
    policies || identity
      ? new PolicyGate(() => policies?.current ?? noPolicies, { agentLabels: config.agent.labels, identity, redact, sink, protocols: PROTOCOL_CONTEXTS })
      : null;
  const handlers = protocolHandlers({ config, sink, redact, trackerFor, connectionKey: (socket) => connections.keyOf(socket) });
  /** Each route's protocol handler, picked once. */
  const handlerOf = new Map<string, ProtocolHandler>(routeNames.map((name) => [name, handlers.get(config.routes[name]!.protocol)!]));

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = performance.now();
    const started = Date.now();
    const url = req.url ?? '/';
    const refusal = guard.checkAgent(req);
    if (refusal) {
      log.warn({ refused: refusal.code, status: refusal.status, remote: req.socket.remoteAddress }, 'request refused before routing');
      const name = splitRoute(url).name;
      return refuse(res, refusal, config.routes[name], handlerOf.get(name), url);
    }
    if (url.startsWith(ADMIN_PREFIX)) {
      // With an admin listener of their own, the admin endpoints are not on the agents' one.
      if (config.admin.listen) return sendJson(res, 404, { error: { code: 'not_found', message: `the admin endpoints are on ${config.admin.listen}` } });
      return serveAdmin(req, res);
    }
    const atRoot = rootAnswer(url, `http://${req.headers.host ?? config.listen}`);
    if (atRoot?.kind === 'error') return sendJson(res, atRoot.status, atRoot.body);
    const { name, rest, bare } = atRoot ? { ...atRoot, bare: false } : splitRoute(url);
    const bridge = bridges.get(name);
    if (bridge) {
      let body: Buffer | null = null;
      let reading: BodyReading | null = null;
      try {
        body = req.method === 'POST' ? await readBody(req, maxRequestBytes) : null;
        // tapwire serves this route itself: the stdio server gets the body decoded.
        reading = body ? readBodyAsSent(body, req.headers, maxRequestBytes) : null;
      } catch (err) {
        if (err instanceof BodyTooLarge) tooLarge(req, res, name, rest, err, started);
        return; // otherwise the agent went away before sending its request
      }
      return bridge.handle(req, res, reading);
    }
    const route = routes.get(name);
    if (!route) {
      return sendJson(res, 404, {
        error: { code: 'unknown_route', message: `tapwire has no route "${name}"; routes: ${routeNames.join(', ') || '(none)'}` },
      });
    }
    const exchange = blankExchange({ agent: config.agent.name, route: name, protocol: route.config.protocol, started_at: started });
    const pathOnly = rest.split('?', 1)[0]!;
    exchange.method = `${req.method ?? 'GET'} ${route.basePath}${pathOnly}`;
    telemetry.traces.begin(exchange, parseTraceparent(req.headers.traceparent));
    let body: Buffer | null = null;
    const handler = handlerOf.get(name)!;
    if (!handler.readsRequestBody) {
      // Bodies that stream through: only their declared length can be refused up front.
      const declared = declaredTooLarge(req, maxRequestBytes);
      if (declared) return tooLarge(req, res, name, rest, declared, started, exchange);
    } else if (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'DELETE') {
      // A body whose facts decide how the response is read (and, with policies, whether it
      // is sent at all) is read once, before forwarding.
      try {
        body = await readBody(req, maxRequestBytes);
      } catch (err) {
        if (err instanceof BodyTooLarge) tooLarge(req, res, name, rest, err, started, exchange);
        return; // otherwise the agent went away before sending its request: nothing to forward
      }
    }
    // What the policies judge and the observers read is the body as the upstream reads it
    // (decoded, a byte-order mark dropped); what is forwarded is the body as received.
    let readable = body;
    let cannotRead: string | null = null;
    if (body && body.length > 0) {
      try {
        const reading = readBodyAsSent(body, req.headers, maxRequestBytes);
        if (reading.ok) readable = reading.body;
        else cannotRead = reading.reason;
      } catch (err) {
        if (err instanceof BodyTooLarge) return tooLarge(req, res, name, rest, err, started, exchange);
        throw err;
      }
    }
    const call = { req, res, route, rest, path: pathOnly, exchange, body, readable, cannotRead };
    // The request is parsed once: the gate, the observer and the record share its facts.
    const facts = handler.parse(call);
    // A call the policies refuse is answered and recorded here, and never forwarded.
    const admission = await policyGate?.admit(call, facts);
    if (admission === null) return;
    let { observer, path } = await facts.observe();
    if (admission) observer = admission(observer);
    if (bare && path === rest) path = rest.slice(1);
    await forward({ req, res, route, path, exchange, body, observer, t0, standing: isStandingStream(req) }, ctx);
  }

  /** A request at the root that some protocol serves (an A2A agent card), or null. */
  function rootAnswer(url: string, sidecarUrl: string): RootAnswer | null {
    for (const handler of handlers.values()) {
      const answer = handler.atRoot?.(url, sidecarUrl);
      if (answer) return answer;
    }
    return null;
  }

  /**
   * Streams that last as long as the agent keeps them (MCP GET and listen streams): close()
   * ends them at once instead of waiting for them.
   */
  function isStandingStream(req: IncomingMessage): boolean {
    return handlerOf.get(splitRoute(req.url ?? '/').name)?.isStanding?.(req) ?? false;
  }

  const maxRequestBytes = config.limits.max_request_bytes;
  /** Answers and records a body over limits.max_request_bytes. */
  function tooLarge(req: IncomingMessage, res: ServerResponse, name: string, rest: string, err: BodyTooLarge, started: number, exchange?: Exchange): void {
    const routeConfig = config.routes[name]!;
    const call = exchange ?? blankExchange({ agent: config.agent.name, route: name, protocol: routeConfig.protocol, started_at: started });
    call.method ??= `${req.method ?? 'POST'} ${rest.split('?', 1)[0]}`;
    refuseTooLarge({ req, res, route: routeConfig, handler: handlerOf.get(name)!, path: rest, exchange: call, requestHeaders: redact(req.headers), sink }, err);
  }

  /** /_tapwire/health and /_tapwire/metrics, on whichever listener serves them. */
  function serveAdmin(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const refusal = guard.checkAdmin(req);
    if (refusal) return refuse(res, refusal, undefined, undefined, url);
    if (url === '/_tapwire/health') return sendJson(res, 200, { status: 'ok', routes: routeNames });
    if (url === METRICS_PATH && req.method === 'GET' && telemetry.serveMetrics(req, res)) return;
    sendJson(res, 404, { error: { code: 'not_found', message: `no admin endpoint ${url}` } });
  }

  const trackers = new Map<string, McpTracker>();
  function trackerFor(routeName: string): McpTracker {
    let tracker = trackers.get(routeName);
    if (!tracker) {
      tracker = new McpTracker({
        agent: config.agent.name,
        route: routeName,
        sink,
        eventLimits,
        pendingTimeoutMs: config.routes[routeName]!.timeouts.response_ms,
        onError: (err) => log.error({ err }, 'could not complete an MCP record'),
        traces: telemetry.traces,
      });
      trackers.set(routeName, tracker);
    }
    return tracker;
  }
  // Sessionless MCP clients are told apart by their connection; its end ends their session.
  const connections = new ConnectionKeys((key) => {
    for (const tracker of trackers.values()) tracker.endSession(key, 'connection_closed', 'the agent closed its connection');
  });

  for (const [name, rc] of Object.entries(config.routes)) {
    if (isFederatedRoute(rc)) continue; // after the routes it federates
    if (isCommandRoute(rc)) {
      const stdio = { agent: config.agent.name, tracker: trackerFor(name), sink, log, redact, gate: policyGate, traces: telemetry.traces };
      bridges.set(name, new SessionHttpBridge(name, stdio, commandSessions(name, rc, stdio)));
    } else routes.set(name, new Route(name, { ...rc, upstream: rc.upstream! }));
  }
  for (const [name, rc] of Object.entries(config.routes)) {
    if (!isFederatedRoute(rc)) continue;
    const members = rc.servers.map((server) => memberSpec(server, config.routes[server]!, routes.get(server), trackerFor(server), log));
    const federation = { agent: config.agent.name, routeName: name, route: rc, members, tracker: trackerFor(name), gate: policyGate, redact, log };
    bridges.set(name, new SessionHttpBridge(name, { agent: config.agent.name, sink, redact, traces: telemetry.traces, gate: policyGate }, federatedSessions(federation)));
  }

  // Requests whose handling (forwarding and recording) has not finished. close() lets the
  // ordinary ones finish; standing streams (MCP GET and listen streams) never finish
  // by themselves, so close() ends them at once.
  const handling = new Set<Promise<void>>();
  const standing = new Set<ServerResponse>();
  let ordinary = 0;
  let onIdle: (() => void) | null = null;
  const server: Server = createServer({ connectionsCheckingInterval: checkingInterval(config) }, (req, res) => {
    const isStanding = isStandingStream(req);
    if (isStanding) standing.add(res);
    else ordinary++;
    const handled = handle(req, res)
      .catch((err: unknown) => {
        log.error({ err }, 'request failed inside tapwire');
        if (!res.headersSent) sendJson(res, 500, { error: { code: 'tapwire_internal', message: 'tapwire failed to handle this request' } });
        else res.destroy();
      })
      .finally(() => {
        handling.delete(handled);
        if (isStanding) standing.delete(res);
        else if (--ordinary === 0) onIdle?.();
      });
    handling.add(handled);
  });
  server.keepAliveTimeout = 65_000;
  // Slow senders (slowloris) are answered 408 and cut: headers and whole requests have deadlines.
  server.headersTimeout = config.limits.headers_timeout_ms;
  server.requestTimeout = config.limits.request_timeout_ms;
  try {
    await listen(server, config.listen);
  } catch (err) {
    await recording.close(0);
    await Promise.all([...routes.values()].map((r) => r.close()));
    throw err;
  }
  const address = server.address() as AddressInfo;
  const hostForUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let admin: Server | null = null;
  if (config.admin.listen) {
    admin = createServer((req, res) => {
      const refusal = guard.checkAgent(req);
      if (refusal) return refuse(res, refusal, undefined, undefined, req.url ?? '/');
      if (!(req.url ?? '/').startsWith(ADMIN_PREFIX)) return sendJson(res, 404, { error: { code: 'not_found', message: 'this is the admin listener: only /_tapwire/* is here' } });
      serveAdmin(req, res);
    });
    try {
      await listen(admin, config.admin.listen);
    } catch (err) {
      server.close();
      await recording.close(0);
      await Promise.all([...routes.values()].map((r) => r.close()));
      throw err;
    }
  }

  let closing: Promise<void> | null = null;
  return {
    url: `http://${hostForUrl}:${address.port}`,
    port: address.port,
    adminUrl: admin ? urlOf(admin) : `http://${hostForUrl}:${address.port}`,
    recorder,
    close(deadlineMs = config.shutdown_timeout_ms): Promise<void> {
      closing ??= (async () => {
        admin?.close();
        admin?.closeAllConnections();
        server.close();
        server.closeIdleConnections();
        for (const res of standing) res.destroy();
        if (ordinary > 0) {
          const drained = new Promise<void>((resolve) => (onIdle = resolve));
          const deadline = new Promise<void>((resolve) => setTimeout(resolve, deadlineMs).unref());
          await Promise.race([drained, deadline]);
        }
        server.closeAllConnections();
        // Requests cut at the deadline still record themselves (as aborted) before the flush.
        await Promise.all(handling);
        // Command routes' server processes stop before their trackers record what is left open.
        await Promise.all([...bridges.values()].map((bridge) => bridge.close()));
        await Promise.all([...trackers.values()].map((tracker) => tracker.close()));
        // Spans and metrics go last, with every record in them; an endpoint down or hanging delays the stop by at most 2 s.
        await recording.close(2000);
        await Promise.all([...routes.values()].map((r) => r.close()));
      })();
      return closing;
    },
  };
}

/**
 * Every route passes its protocol's checks (a config the CLI loaded passed them already, and
 * was told its lines), and every command route's server can be spawned; else a ConfigError
 * naming each route field at fault.
 */
function checkRoutes(config: Config): void {
  const problems: string[] = [];
  for (const [name, route] of Object.entries(config.routes)) {
    for (const problem of routeProblems(route)) problems.push(`routes.${name}.${problem.field}: ${problem.message}`);
    if (!isCommandRoute(route)) continue;
    const problem = commandProblem({ command: route.command, args: route.args ?? [], env: serverEnvironment(route.env), cwd: route.cwd });
    if (problem) problems.push(`routes.${name}.command: ${problem}`);
  }
  if (problems.length > 0) throw new ConfigError(problems.join('\n'));
}

/** Gives each agent connection a key, and reports when the connection closes. */
class ConnectionKeys {
  private readonly keys = new WeakMap<Socket, string>();
  private next = 0;
  private readonly prefix = randomUUID().slice(0, 8);
  constructor(private readonly onClose: (key: string) => void) {}
  keyOf(socket: Socket): string {
    let key = this.keys.get(socket);
    if (!key) {
      key = `conn-${this.prefix}-${++this.next}`;
      this.keys.set(socket, key);
      const closed = key;
      socket.once('close', () => this.onClose(closed));
    }
    return key;
  }
}

function listen(server: Server, address: string): Promise<void> {
  const [host, portText] = splitListen(address);
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(portText), host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function urlOf(server: Server): string {
  const address = server.address() as AddressInfo;
  return `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
}

/** How often node:http looks for requests past their deadlines: often enough for short ones. */
function checkingInterval(config: Config): number {
  return Math.max(50, Math.min(1000, Math.floor(config.limits.headers_timeout_ms / 4)));
}

/** Answers a request tapwire refuses before forwarding it, in the route's format when it has one. */
function refuse(res: ServerResponse, refusal: Refusal, route: RouteConfig | undefined, handler: ProtocolHandler | undefined, url: string): void {
  const body = route && handler ? handler.errorBody(route, splitRoute(url).rest, refusal.status, refusal.code, refusal.message) : { error: { code: refusal.code, message: refusal.message } };
  sendJson(res, refusal.status, body, { 'x-tapwire-error': refusal.code, ...(refusal.status === 401 ? { 'www-authenticate': 'Bearer' } : {}) });
}

export function splitListen(listen: string): [string, string] {
  const i = listen.lastIndexOf(':');
  return [listen.slice(0, i).replace(/^\[|\]$/g, ''), listen.slice(i + 1)];
}

function logExchange(log: Logger, e: Exchange): void {
  if (!log.isLevelEnabled('info')) return;
  log.info(
    {
      id: e.id,
      route: e.route,
      method: e.method,
      target: e.target,
      status: e.status,
      http_status: e.http_status,
      input_tokens: e.input_tokens,
      output_tokens: e.output_tokens,
      cost_usd: e.cost_usd,
      duration_ms: e.duration_ms === null ? null : Math.round(e.duration_ms * 10) / 10,
      ...(e.error_code ? { error_code: e.error_code } : {}),
    },
    'exchange',
  );
}
