// The routes of one sidecar, built once from the config: an upstream pool per forwarded route,
// an HTTP bridge per route tapwire serves itself (a command route's stdio server, a federated
// route's members, an openapi route's tools), the MCP trackers that record per route, and the
// agent connections' keys.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { eventLimitsOf, isCommandRoute, isFederatedRoute, isOpenApiRoute, type Config } from '../config/config.js';
import type { HeaderMap } from '../core/headers.js';
import type { Logger } from '../core/log.js';
import type { TraceStarter } from '../core/trace-context.js';
import { commandSessions, SessionHttpBridge } from '../protocols/mcp/stdio-http.js';
import { federatedSessions, memberSpec } from '../protocols/mcp/federation.js';
import { McpTracker } from '../protocols/mcp/tracker.js';
import { OpenApiRoute, type LoadedApi } from '../protocols/openapi/service.js';
import type { RecordSink } from '../protocols/observer.js';
import type { PolicyGate } from '../protocols/policy-gate.js';
import { Route } from '../protocols/route.js';

export interface RouteTableParts {
  config: Config;
  log: Logger;
  sink: RecordSink;
  redact: (headers: IncomingMessage['headers']) => HeaderMap;
  gate: PolicyGate | null;
  traces: TraceStarter;
  /** The openapi routes' documents, read at start (protocols/openapi/service.ts: loadApis). */
  apis: ReadonlyMap<string, LoadedApi>;
}

/**
 * "/openai/v1/chat/completions?x" -> name "openai", rest "/v1/chat/completions?x". `bare` when
 * nothing but a query follows the name ("/github", "/github?x"): the upstream URL is then
 * called as configured, without a slash added.
 */
export function splitRoute(url: string): { name: string; rest: string; bare: boolean } {
  const slash = url.indexOf('/', 1);
  const query = url.indexOf('?');
  const end = slash === -1 ? (query === -1 ? url.length : query) : query !== -1 && query < slash ? query : slash;
  const rest = url.slice(end);
  // Route names are plain path characters, so the segment is compared as sent: a malformed
  // percent-escape is then just an unknown route, never an error.
  const bare = !rest.startsWith('/');
  return { name: url.slice(1, end), rest: bare ? `/${rest}` : rest, bare };
}

export class RouteTable {
  /** Routes forwarded to an upstream. */
  readonly forwarded = new Map<string, Route>();
  /** Routes with a command (stdio servers) or servers (federated), served over HTTP by tapwire. */
  readonly bridges = new Map<string, SessionHttpBridge>();
  private readonly trackers = new Map<string, McpTracker>();
  /** Sessionless MCP clients are told apart by their connection; its end ends their session. */
  readonly connections = new ConnectionKeys((key) => {
    for (const tracker of this.trackers.values()) tracker.endSession(key, 'connection_closed', 'the agent closed its connection');
  });

  /** openapi routes: their upstream pools and in-process MCP servers. */
  private readonly apis = new Map<string, OpenApiRoute>();

  constructor(private readonly parts: RouteTableParts) {
    const { config, log, sink, redact, gate, traces } = parts;
    const agent = config.agent.name;
    for (const [name, rc] of Object.entries(config.routes)) {
      if (isFederatedRoute(rc)) continue; // after the routes it federates
      if (isOpenApiRoute(rc)) {
        const api = new OpenApiRoute(name, rc, parts.apis.get(name)!, { agent, sink, redact, traces });
        this.apis.set(name, api);
        const sessions = api.sessions({ agent, tracker: this.trackerFor(name), gate, redact, log }, rc);
        this.bridges.set(name, new SessionHttpBridge(name, { agent, sink, redact, traces, gate }, sessions));
      } else if (isCommandRoute(rc)) {
        const stdio = { agent, tracker: this.trackerFor(name), sink, log, redact, gate, traces };
        this.bridges.set(name, new SessionHttpBridge(name, stdio, commandSessions(name, rc, stdio)));
      } else this.forwarded.set(name, new Route(name, { ...rc, upstream: rc.upstream! }));
    }
    for (const [name, rc] of Object.entries(config.routes)) {
      if (!isFederatedRoute(rc)) continue;
      const members = rc.servers.map(
        (server) => this.apis.get(server)?.member(this.trackerFor(server)) ?? memberSpec(server, config.routes[server]!, this.forwarded.get(server), this.trackerFor(server), log),
      );
      const federation = { agent, routeName: name, route: rc, members, tracker: this.trackerFor(name), gate, redact, log };
      this.bridges.set(name, new SessionHttpBridge(name, { agent, sink, redact, traces, gate }, federatedSessions(federation)));
    }
  }

  /** The MCP tracker that records the route's messages (made on first use). */
  readonly trackerFor = (routeName: string): McpTracker => {
    let tracker = this.trackers.get(routeName);
    if (!tracker) {
      const { config, sink, log, traces } = this.parts;
      tracker = new McpTracker({
        agent: config.agent.name,
        route: routeName,
        sink,
        eventLimits: eventLimitsOf(config),
        pendingTimeoutMs: config.routes[routeName]!.timeouts.response_ms,
        onError: (err) => log.error({ err }, 'could not complete an MCP record'),
        traces,
      });
      this.trackers.set(routeName, tracker);
    }
    return tracker;
  };

  /** Resolves once every MCP record in the making has reached the sink (its tokens counted). */
  async settled(): Promise<void> {
    await Promise.all([...this.trackers.values()].map((tracker) => tracker.settled()));
  }

  /** Stops the command routes' server processes, then records what the trackers hold open. */
  async closeSessions(): Promise<void> {
    await Promise.all([...this.bridges.values()].map((bridge) => bridge.close()));
    await Promise.all([...this.trackers.values()].map((tracker) => tracker.close()));
  }

  /** Closes the upstream pools. */
  async closeUpstreams(): Promise<void> {
    await Promise.all([...this.forwarded.values(), ...this.apis.values()].map((route) => route.close()));
  }
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
