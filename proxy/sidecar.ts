// The sidecar: composes one proxy from the config (the inbound guard, the recording path, the
// policy gate, the routes and their protocol handlers, the listeners) and runs each request
// through it: guard, admin or route, the body read once, the protocol's facts, the gate,
// the protocol's observer, forwarding. An orderly stop finishes in-flight requests up to a
// deadline, then flushes every queued record.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { RecordWriter } from '../store/record-store.js';
import { ConfigError, eventLimitsOf, isCommandRoute, type Config } from '../config/config.js';
import { blankExchange, type Exchange } from '../core/exchange.js';
import { forward, type ForwardContext } from './forward.js';
import { checkListen, InboundGuard, listensInsecurely } from './inbound.js';
import { redactHeaders } from '../core/headers.js';
import type { Logger } from '../core/log.js';
import { Recording } from './recording.js';
import { BodyTooLarge, readBody, refuseTooLarge } from '../protocols/refusal.js';
import { readBodyAsSent, type BodyReading } from '../protocols/readable-body.js';
import type { ProtocolCall, ProtocolHandler, RootAnswer } from '../protocols/protocol.js';
import { PROTOCOL_CONTEXTS, protocolHandlers, recordedProtocol, routeProblems } from '../protocols/registry.js';
import { commandProblem, serverEnvironment } from '../protocols/mcp/stdio-process.js';
import { McpAuthorization } from '../protocols/mcp/oauth/route-auth.js';
import { loadApis } from '../protocols/openapi/service.js';
import { PolicyGate } from '../protocols/policy-gate.js';
import { NO_RULES } from '../policies/rule-set.js';
import { rewrittenBody } from '../policies/rewrite.js';
import { IdentityVerifier } from '../policies/identity.js';
import { Approvals } from '../policies/approvals.js';
import { parseTraceparent } from '../core/trace-context.js';
import { AdminEndpoints } from './admin.js';
import { AgentListener, listen, urlOf } from './listener.js';
import { refuse, sendJson } from './responses.js';
import { readCallBody, type CallBody } from './request-body.js';
import { RouteTable, splitRoute } from './routes.js';
import { caFileProblem } from '../protocols/route.js';
import { ForwardProxy } from './forward-proxy.js';
import { InterceptTable } from './intercepts.js';

export interface Sidecar {
  /** Base URL the sidecar listens on, e.g. http://127.0.0.1:4100 */
  url: string;
  port: number;
  /** Base URL of the admin endpoints (/_tapwire/*): admin.listen's, or the agents' listener. */
  adminUrl: string;
  /** With proxy: in the config, the proxy's URL (what HTTPS_PROXY names). */
  proxyUrl: string | null;
  recorder: RecordWriter;
  /** Stops accepting, lets in-flight requests finish (up to `deadlineMs`, default shutdown_timeout_ms), flushes the record. */
  close(deadlineMs?: number): Promise<void>;
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
  // openapi routes' documents are read (and a bad one stops the start) before anything runs.
  const apis = await loadApis(config, log);
  // So is the local CA (a bad one stops the start too); node-forge loads only with a proxy: section.
  const proxyConfig = config.proxy;
  const ca = proxyConfig ? await import('./ca.js').then(({ LocalCa, defaultCaDir }) => LocalCa.open(proxyConfig.ca_dir ?? defaultCaDir())) : null;
  const guard = new InboundGuard(config);
  // The identity JWKS (a file is read now) and policy files are ready before anything starts.
  const identity = config.identity ? new IdentityVerifier(config.identity.jwt) : null;
  // Policy files are compiled before anything starts (a bad one stops the sidecar with a
  // PolicyError), then watched: a valid change applies, an invalid one is logged and ignored.
  const recording = await Recording.open(config, log, env, { logExchanges: true });
  const { policies, recorder, telemetry, sink } = recording;
  const routeNames = Object.keys(config.routes);
  const ctx: ForwardContext = { redacted: recording.redacted, maxBodyBytes: config.store.max_body_bytes, eventLimits: eventLimitsOf(config) };
  const redact = (headers: IncomingMessage['headers']) => redactHeaders(headers, ctx.redacted);
  // Calls an approve rule holds, until a person settles them through the admin endpoint.
  const approvals = new Approvals();
  const policyGate =
    policies || identity
      ? new PolicyGate(() => policies?.current ?? NO_RULES, { agentLabels: config.agent.labels, identity, redact, sink, protocols: PROTOCOL_CONTEXTS, approvals })
      : null;
  const table = new RouteTable({ config, log, sink, redact, gate: policyGate, traces: telemetry.traces, apis });
  if (config.store.durability === 'strict') {
    // MCP records reach the sink once their tokens are counted, a few microtasks after the call ends.
    ctx.committed = async () => {
      await table.settled();
      return recorder.committed();
    };
    ctx.storeFailure = () => recorder.failure;
  }
  const handlers = protocolHandlers({ config, sink, redact, trackerFor: table.trackerFor, connectionKey: (socket) => table.connections.keyOf(socket) });
  /** Each route's protocol handler, picked once. */
  const handlerOf = new Map<string, ProtocolHandler>(routeNames.map((name) => [name, handlers.get(config.routes[name]!.protocol)!]));
  // MCP routes with auth: their discovery URLs, and each call admitted (or refused) before it is read.
  const mcpAuth = McpAuthorization.of(config, { agent: config.agent.name, sink, redact, listen: config.listen });
  const admin = new AdminEndpoints(config, guard, telemetry, approvals);
  const maxRequestBytes = config.limits.max_request_bytes;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = performance.now();
    const started = Date.now();
    const url = req.url ?? '/';
    const refusal = guard.checkAgent(req);
    if (refusal) {
      log.warn({ refused: refusal.code, status: refusal.status, remote: req.socket.remoteAddress }, 'request refused before routing');
      const { name, rest } = splitRoute(url);
      const routeConfig = config.routes[name];
      return refuse(res, refusal, routeConfig ? { config: routeConfig, handler: handlerOf.get(name)!, rest } : null);
    }
    if (AdminEndpoints.isAdmin(url)) return admin.serveOnAgentListener(req, res);
    return serveRoute(req, res, t0, started);
  }

  /** Serves a request past the guard: a route's, in the base-URL form (/<route><rest>), or an answer at the root. */
  async function serveRoute(req: IncomingMessage, res: ServerResponse, t0: number, started: number): Promise<void> {
    const url = req.url ?? '/';
    if (mcpAuth && (await mcpAuth.discovery(req, res, started))) return;
    const atRoot = rootAnswer(url, `http://${req.headers.host ?? config.listen}`);
    if (atRoot?.kind === 'error') return sendJson(res, atRoot.status, atRoot.body);
    const { name, rest, bare } = atRoot ? { ...atRoot, bare: false } : splitRoute(url);
    const authorized = await mcpAuth?.route(name)?.admit(req, res, rest, started);
    if (authorized === null) return; // refused, answered and recorded
    const bridge = table.bridges.get(name);
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
      return bridge.handle(req, res, reading, authorized?.claims ?? null);
    }
    const route = table.forwarded.get(name);
    if (!route) {
      return sendJson(res, 404, {
        error: { code: 'unknown_route', message: `tapwire has no route "${name}"; routes: ${routeNames.join(', ') || '(none)'}` },
      });
    }
    const exchange = blankExchange({ agent: config.agent.name, route: name, protocol: recordedProtocol(route.config.protocol), started_at: started });
    const pathOnly = rest.split('?', 1)[0]!;
    exchange.method = `${req.method ?? 'GET'} ${route.basePath}${pathOnly}`;
    telemetry.traces.begin(exchange, parseTraceparent(req.headers.traceparent));
    const handler = handlerOf.get(name)!;
    let read: CallBody | null;
    try {
      read = await readCallBody(req, handler.readsRequestBody, maxRequestBytes);
    } catch (err) {
      if (err instanceof BodyTooLarge) return tooLarge(req, res, name, rest, err, started, exchange);
      throw err;
    }
    if (!read) return; // the agent went away before sending its request: nothing to forward
    const { body, readable, cannotRead } = read;
    const call: ProtocolCall = { req, res, route, rest, path: pathOnly, exchange, body, readable, cannotRead, ...(authorized ? { tokenClaims: authorized.claims } : {}) };
    // The request is parsed once: the gate, the observer and the record share its facts.
    const facts = handler.parse(call);
    // A call the policies refuse is answered and recorded here, and never forwarded.
    const admission = await policyGate?.admit(call, facts);
    if (admission === null) return;
    let { observer, path } = await facts.observe();
    if (admission) observer = admission(observer);
    if (bare && path === rest) path = rest.slice(1);
    // Transform rules change the body as the upstream reads it (with the protocol's own rewrite, if any).
    const changes = call.rewrite ? { headers: call.rewrite.headers, body: rewrittenBody(call.rewrite, observer.upstreamBody ?? readable) } : null;
    await forward({ req, res, route, path, exchange, body, observer, t0, standing: isStandingStream(req), changes, upstreamHeaders: authorized?.upstreamHeaders, onHead: authorized?.onHead }, ctx);
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
  function isStandingStream(req: IncomingMessage, url = req.url ?? '/'): boolean {
    return handlerOf.get(splitRoute(url).name)?.isStanding?.(req) ?? false;
  }

  /** Answers and records a body over limits.max_request_bytes. */
  function tooLarge(req: IncomingMessage, res: ServerResponse, name: string, rest: string, err: BodyTooLarge, started: number, exchange?: Exchange): void {
    const routeConfig = config.routes[name]!;
    const call = exchange ?? blankExchange({ agent: config.agent.name, route: name, protocol: recordedProtocol(routeConfig.protocol), started_at: started });
    call.method ??= `${req.method ?? 'POST'} ${rest.split('?', 1)[0]}`;
    refuseTooLarge({ req, res, route: routeConfig, handler: handlerOf.get(name)!, path: rest, exchange: call, requestHeaders: redact(req.headers), sink }, err);
  }

  const listener = new AgentListener({ config, log, handle, isStanding: (req) => isStandingStream(req) });
  const servers: Server[] = [];
  // The ports tapwire listens on, each added as its server listens (the proxy's last, so the
  // set is whole before the proxy takes a call); they do not change after.
  const ownPorts = new Set<number>();
  async function listenOn(server: Server, address: string): Promise<void> {
    await listen(server, address);
    servers.push(server);
    ownPorts.add(Number(new URL(urlOf(server)).port));
  }
  const proxy = proxyConfig && ca
    ? new ForwardProxy({
        config: { ...config, proxy: proxyConfig },
        log,
        guard,
        intercepts: new InterceptTable(proxyConfig, table.forwarded),
        ca,
        sink,
        traces: telemetry.traces,
        serve: (req, res) => serveRoute(req, res, performance.now(), Date.now()),
        isStanding: (url, req) => isStandingStream(req, url),
        ownPorts,
      })
    : null;
  let adminServer: Server | null = null;
  try {
    await listenOn(listener.server, config.listen);
    if (config.admin.listen) {
      adminServer = admin.listener();
      await listenOn(adminServer, config.admin.listen);
    }
    if (proxy && proxyConfig) {
      await listenOn(proxy.listener.server, proxyConfig.listen);
      log.info({ proxy: urlOf(proxy.listener.server), intercept: proxyConfig.intercept, otherwise: proxyConfig.otherwise, ca: ca?.files.cert }, 'proxy listening');
    }
  } catch (err) {
    for (const server of servers) server.close();
    await recording.close(0);
    await table.closeUpstreams();
    throw err;
  }

  const url = urlOf(listener.server);
  let closing: Promise<void> | null = null;
  return {
    url,
    port: Number(new URL(url).port),
    adminUrl: adminServer ? urlOf(adminServer) : url,
    proxyUrl: proxy ? urlOf(proxy.listener.server) : null,
    recorder,
    close(deadlineMs = config.shutdown_timeout_ms): Promise<void> {
      closing ??= (async () => {
        // Calls held for approval are denied (recorded as stopped), so the drain need not wait for anyone.
        approvals.stop();
        adminServer?.close();
        adminServer?.closeAllConnections();
        // Requests cut at the deadline still record themselves (as aborted) before the flush.
        await Promise.all([listener.drain(deadlineMs), proxy?.drain(deadlineMs)]);
        // Command routes' server processes stop before their trackers record what is left open.
        await table.closeSessions();
        // Spans and metrics go last, with every record in them; an endpoint down or hanging delays the stop by at most 2 s.
        await recording.close(2000);
        await table.closeUpstreams();
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
    const caProblem = route.ca === undefined ? null : caFileProblem(route.ca);
    if (caProblem) problems.push(`routes.${name}.ca: ${caProblem}`);
    if (!isCommandRoute(route)) continue;
    const problem = commandProblem({ command: route.command, args: route.args ?? [], env: serverEnvironment(route.env), cwd: route.cwd });
    if (problem) problems.push(`routes.${name}.command: ${problem}`);
  }
  if (problems.length > 0) throw new ConfigError(problems.join('\n'));
}
