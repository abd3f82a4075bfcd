// An openapi route at run time: its document read and turned into tools when the sidecar
// starts (every route's problems reported together, as a ConfigError), its upstream (the
// route's, else the document's first server), and the MCP server tapwire runs for it: as a
// member of a federated route, or on its own, served by a federated session with itself as
// its one inline member (so sessions, revisions, policies and records are that code's).
import { isOpenApiRoute, ConfigError, type Config, type FederatedRouteConfig, type OpenApiRouteConfig } from '../../config/config.js';
import type { Logger } from '../../core/log.js';
import { federatedSessions, type FederationContext, type MemberSpec } from '../mcp/federation-session.js';
import type { SessionFactory } from '../mcp/stdio-http.js';
import type { McpTracker } from '../mcp/tracker.js';
import { Route } from '../route.js';
import type { CallContext } from './call.js';
import type { Json, OpenApiDocument } from './document.js';
import { operationsOf, type Operation } from './operations.js';
import { OpenApiConnection, type OpenApiService } from './server.js';

/** An openapi route's document as tools, and the upstream its calls go to. */
export interface LoadedApi {
  operations: Operation[];
  upstream: string;
  serverInfo: { name: string; version: string };
  instructions: string | null;
}

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Reads every openapi route's document; a ConfigError lists every route's problems. */
export async function loadApis(config: Config, log: Logger): Promise<Map<string, LoadedApi>> {
  const routes = Object.entries(config.routes).filter((entry): entry is [string, OpenApiRouteConfig] => isOpenApiRoute(entry[1]));
  const loaded = new Map<string, LoadedApi>();
  if (routes.length === 0) return loaded;
  // The OpenAPI parser is loaded only by a config with openapi routes (start-up and memory of every other sidecar).
  const { loadDocument } = await import('./document.js');
  const problems: string[] = [];
  await Promise.all(
    routes.map(async ([name, route]) => {
      let document: OpenApiDocument;
      try {
        document = await loadDocument(route.spec, route.timeouts.connect_ms);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        problems.push(`routes.${name}.spec: ${err.message}`);
        return;
      }
      // What follows names its own field (include, exclude, upstream).
      try {
        const { operations, skipped } = operationsOf(document.api, name, route.include, route.exclude);
        for (const s of skipped) log.warn({ route: name, operation: s.operation }, `openapi route: operation left out: ${s.reason}`);
        const info = isObject(document.api.info) ? document.api.info : {};
        loaded.set(name, {
          operations,
          upstream: route.upstream ?? serverUrl(name, document),
          serverInfo: { name: typeof info.title === 'string' ? info.title : name, version: typeof info.version === 'string' ? info.version : '0' },
          instructions: typeof info.description === 'string' ? info.description : null,
        });
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        problems.push(err.message);
      }
    }),
  );
  if (problems.length > 0) throw new ConfigError(problems.join('\n'));
  return loaded;
}

/** The document's first server as an absolute http(s) URL, its variables at their defaults. */
function serverUrl(name: string, document: OpenApiDocument): string {
  const servers = Array.isArray(document.api.servers) ? document.api.servers.filter(isObject) : [];
  const first = servers[0];
  const missing = (why: string): ConfigError => new ConfigError(`routes.${name}.upstream: missing: ${why}; give the route an upstream (an http(s) URL)`);
  if (!first || typeof first.url !== 'string') throw missing('the document names no servers');
  const variables = isObject(first.variables) ? first.variables : {};
  const url = first.url.replace(/\{([^}]+)\}/g, (whole, variable: string) => {
    const v = variables[variable];
    return isObject(v) && typeof v.default === 'string' ? v.default : whole;
  });
  let resolved: URL;
  try {
    resolved = new URL(url, /^https?:\/\//i.test(document.location) ? document.location : undefined);
  } catch {
    throw missing(`the document's first server ${JSON.stringify(first.url)} is relative to a file`);
  }
  if (!/^https?:$/.test(resolved.protocol)) throw missing(`the document's first server ${JSON.stringify(first.url)} is not http(s)`);
  return resolved.href;
}

/** What the route's MCP server needs to call its upstream and record its calls. */
export type ServiceParts = Omit<CallContext, 'route'>;

/** An openapi route's run-time parts: its upstream pool and its in-process MCP server. */
export class OpenApiRoute {
  readonly route: Route;
  private readonly service: OpenApiService;

  constructor(
    readonly name: string,
    config: OpenApiRouteConfig,
    api: LoadedApi,
    parts: ServiceParts,
  ) {
    this.route = new Route(name, { ...config, upstream: api.upstream });
    this.service = {
      call: { ...parts, route: this.route },
      operations: new Map(api.operations.map((op) => [op.tool.name, op])),
      serverInfo: api.serverInfo,
      instructions: api.instructions,
    };
  }

  /** The route as a member server of a federated route; its MCP exchanges are recorded by `tracker` (its own route's). */
  member(tracker: McpTracker): MemberSpec {
    return { name: this.name, tracker, connect: (handlers) => new OpenApiConnection(this.service, handlers) };
  }

  /** The route served on its own: a federated session with itself as its one inline member. */
  sessions(ctx: Omit<FederationContext, 'routeName' | 'route' | 'members'>, config: OpenApiRouteConfig): SessionFactory {
    // What the federated session reads of its route: its timeouts (prefix auto: one server, none).
    const route: FederatedRouteConfig = { protocol: 'mcp', headers: {}, timeouts: config.timeouts, servers: [this.name] };
    return federatedSessions({ ...ctx, routeName: this.name, route, members: [{ ...this.member(ctx.tracker), inline: true }] });
  }

  close(): Promise<void> {
    return this.route.close();
  }
}
