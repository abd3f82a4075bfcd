// tapwire.yaml: schema, defaults, ${ENV} interpolation and validation errors that name the
// file, line, field path and what was expected. Unknown keys are errors.
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { LineCounter, parseDocument, isMap, isNode, isScalar, type Document } from 'yaml';
import { z } from 'zod';
import { telemetrySchema } from './telemetry.js';
import { mcpAuthSchema } from './mcp-auth.js';

const ROUTE_NAME = /^[a-z0-9][a-z0-9._-]*$/i;

/** What is wrong with a listen address (HOST:PORT, port 0 to 65535), or null when nothing is. */
export function hostPortProblem(address: string): string | null {
  const match = /^(\[[0-9a-f:]+\]|[^:\s]+):(\d{1,5})$/i.exec(address);
  if (match) return Number(match[2]) > 65535 ? `port ${match[2]} is out of range (0 to 65535)` : null;
  // A bare port is the likeliest slip: suggest it on loopback.
  return `expected HOST:PORT, e.g. 127.0.0.1:${/^\d{1,5}$/.test(address) ? address : '4100'}`;
}

const hostPort = z.string().superRefine((address, ctx) => {
  const problem = hostPortProblem(address);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const timeoutsSchema = z.strictObject({
  connect_ms: z.number().int().positive().default(10_000),
  response_ms: z.number().int().positive().default(600_000),
  idle_ms: z.number().int().positive().default(300_000),
  /** Command routes: a session with no request and no open stream this long is ended. */
  session_idle_ms: z.number().int().positive().default(600_000),
});

const upstreamUrl = z.url({ protocol: /^https?$/, error: 'an http(s) URL, e.g. https://api.openai.com' });

// mcp: a stdio MCP server to spawn (one process per session) instead of an upstream URL.
const commandFields = {
  command: z.string().min(1).optional(),
  args: z.array(z.string()).optional(),
  env: z.record(z.string(), z.string()).optional(),
  cwd: z.string().min(1).optional(),
};

// mcp: a federated route, one endpoint in front of these other mcp routes (see docs/federation.md).
const federationFields = {
  servers: z.array(z.string().min(1)).min(1).optional(),
  // Tool and prompt names get "<server>_"; auto = only with more than one server.
  prefix: z.enum(['auto', 'always', 'never']).optional(),
  // A server that is down leaves it out of lists (open) or fails them (closed).
  failure: z.enum(['open', 'closed']).optional(),
  // How long a server has to answer a list request before it counts as down (initialize,
  // which may start a process, gets timeouts.connect_ms).
  list_timeout_ms: z.number().int().positive().optional(),
};

// mcp: the route's part in MCP authorization (OAuth; see docs/mcp-auth.md).
const mcpFields = {
  auth: mcpAuthSchema.optional(),
};
// AWS SigV4 credentials a route signs its calls with (Bedrock): each call is re-signed for the
// upstream's host, the agent's own signature replaced (docs/providers.md). Give the secrets as
// ${ENV} references; they are never recorded.
const awsSchema = z.strictObject({
  region: z.string().min(1),
  access_key_id: z.string().min(1),
  secret_access_key: z.string().min(1),
  // Empty is none: `${AWS_SESSION_TOKEN:-}` serves long-term and temporary credentials alike.
  session_token: z
    .string()
    .optional()
    .transform((token) => token || undefined),
  // The signing name of the service: bedrock for Bedrock's runtime API.
  service: z.string().min(1).default('bedrock'),
});

export type AwsSigningConfig = z.infer<typeof awsSchema>;

const llmFields = {
  // The wire format, by the name protocols/llm/providers.ts gives it. Any name passes here:
  // config/ sits below protocols/ and cannot see that table, so the LLM protocol checks the
  // name (a RouteCheck, below), and a new provider is its file and one line in that table.
  provider: z.string().min(1).optional(),
  // OpenAI format: ask for usage on streams whose agent did not (and take that usage back
  // out). false for upstreams that send usage unasked (OpenRouter) or refuse stream_options;
  // default true.
  add_stream_usage: z.boolean().optional(),
  aws: awsSchema.optional(),
};

const a2aFields = {
  // What to do with a signed agent card. strip (default): rewrite its interface URLs to
  // tapwire and remove the signatures; pass: hand it over unmodified (calls then bypass tapwire).
  signed_cards: z.enum(['strip', 'pass']).optional(),
};

// openapi: a REST API described by an OpenAPI document, served to agents as an MCP server
// (one tool per operation; see docs/openapi.md). `upstream` overrides the document's servers.
const operationSelection = z.strictObject({
  operations: z.array(z.string().min(1)).optional(),
  tags: z.array(z.string().min(1)).optional(),
  // Exact paths as the document writes them ("/pets/{id}"), or a prefix ending in "*".
  paths: z.array(z.string().regex(/^\//, 'a path as the document writes it, starting with "/"')).optional(),
});

const openapiFields = {
  // The document: a file (relative to the config file) or an http(s) URL; YAML or JSON, 3.0 or 3.1.
  spec: z.string().min(1),
  // Only these operations become tools (any of the lists matching), then `exclude` takes some out.
  include: operationSelection.optional(),
  exclude: operationSelection.optional(),
};

export type OperationSelection = z.infer<typeof operationSelection>;

// An openapi route is served by tapwire itself, which verifies no identity token on it:
// require_identity may be false, never true.
const openapiRequireIdentity = z
  .boolean()
  .optional()
  .refine((required) => required !== true, { error: 'an openapi route is served by tapwire itself, which verifies no identity token on it' });

const onlyWithCommand = (field: string): string => `only routes with a command have ${field}`;
const onlyWithServers = (field: string): string => `only routes with servers (federated mcp routes) have ${field}`;

/** What a route is told when it sets a field it may not have: whose field it is. */
const NOT_HERE: Record<keyof typeof commandFields | keyof typeof federationFields | keyof typeof mcpFields | keyof typeof llmFields | keyof typeof a2aFields | keyof typeof openapiFields, string> = {
  command: 'only routes with protocol mcp can run a command',
  args: onlyWithCommand('args'),
  env: onlyWithCommand('env'),
  cwd: onlyWithCommand('cwd'),
  servers: 'only routes with protocol mcp can federate servers',
  prefix: onlyWithServers('prefix'),
  failure: onlyWithServers('failure'),
  list_timeout_ms: onlyWithServers('list_timeout_ms'),
  auth: 'only routes with protocol mcp have auth (MCP authorization); agents authenticate to tapwire with the top-level auth section',
  provider: 'only routes with protocol llm have a provider',
  add_stream_usage: 'only routes with protocol llm in the OpenAI format have add_stream_usage',
  aws: 'only routes with protocol llm sign their calls with aws credentials',
  signed_cards: 'only routes with protocol a2a have signed_cards',
  spec: 'only routes with protocol openapi have a spec',
  include: 'only routes with protocol openapi have include',
  exclude: 'only routes with protocol openapi have exclude',
};

/** `fields` refused, each with its NOT_HERE message: another protocol's fields, on a route of this one. */
function absent<Fields extends Partial<Record<keyof typeof NOT_HERE, z.ZodType>>>(fields: Fields): { [K in keyof Fields]: z.ZodOptional<z.ZodNever> } {
  return Object.fromEntries(Object.keys(fields).map((key) => [key, z.never({ error: NOT_HERE[key as keyof typeof NOT_HERE] }).optional()])) as {
    [K in keyof Fields]: z.ZodOptional<z.ZodNever>;
  };
}

/**
 * Every route's fields, with each protocol's own ones refused. A protocol's schema spreads
 * its own fields over these: they take their place, so every protocol's schema names the
 * same keys in the same order (and "unknown key" lists them alike).
 */
const ROUTE_FIELDS = {
  upstream: upstreamUrl.optional(),
  ...absent(commandFields),
  ...absent(llmFields),
  ...absent(a2aFields),
  ...absent(openapiFields),
  // Refuse calls without a valid identity token (identity.jwt) on this route.
  require_identity: z.boolean().optional(),
  ...absent(federationFields),
  // A PEM file of CA certificates the upstream's certificate may chain to, besides the
  // system's (a private or test CA); relative to the config file.
  ca: z.string().min(1).optional(),
  ...absent(mcpFields),
  headers: z.record(z.string(), z.string()).default({}),
  timeouts: timeoutsSchema.default(() => timeoutsSchema.parse({})),
};

/** One schema per protocol, told apart by `protocol`. */
const PROTOCOL_ROUTES = [
  z.strictObject({ protocol: z.literal('llm'), ...ROUTE_FIELDS, ...llmFields }),
  z.strictObject({ protocol: z.literal('mcp'), ...ROUTE_FIELDS, ...commandFields, ...federationFields, ...mcpFields }),
  z.strictObject({ protocol: z.literal('a2a'), ...ROUTE_FIELDS, ...a2aFields }),
  z.strictObject({ protocol: z.literal('http'), ...ROUTE_FIELDS }),
  z.strictObject({ protocol: z.literal('openapi'), ...ROUTE_FIELDS, ...openapiFields, require_identity: openapiRequireIdentity }),
] as const;

const PROTOCOL_NAMES = PROTOCOL_ROUTES.map((schema) => `"${schema.shape.protocol.value}"`).join('|');

const routeSchema = z.discriminatedUnion('protocol', PROTOCOL_ROUTES, {
  // A missing or unknown protocol: say which there are.
  error: (issue) => (issue.code === 'invalid_union' ? `Invalid option: expected one of ${PROTOCOL_NAMES}` : undefined),
});

const priceSchema = z.strictObject({
  provider: z.string().min(1),
  model: z.string().min(1),
  input_per_mtok: z.number().nonnegative(),
  output_per_mtok: z.number().nonnegative(),
  cache_read_per_mtok: z.number().nonnegative().optional(),
  cache_write_per_mtok: z.number().nonnegative().optional(),
});

/** How many stream events one exchange keeps (store.max_events, store.max_event_bytes). */
export interface EventLimits {
  maxEvents: number;
  /** The total of the kept events' data, in UTF-16 units (bytes for ASCII). */
  maxEventBytes: number;
}

export const DEFAULT_EVENT_LIMITS: EventLimits = { maxEvents: 100_000, maxEventBytes: 16_777_216 };

const storeSchema = z.strictObject({
  path: z.string().min(1).default('tapwire.db'),
  max_body_bytes: z.number().int().nonnegative().default(1_048_576),
  // Stream events kept per exchange (a count, and the total of their data); past either,
  // events are counted but not stored, and the exchange is marked events_truncated.
  max_events: z.number().int().nonnegative().default(DEFAULT_EVENT_LIMITS.maxEvents),
  max_event_bytes: z.number().int().nonnegative().default(DEFAULT_EVENT_LIMITS.maxEventBytes),
  flush_interval_ms: z.number().int().positive().default(100),
  redact_headers: z.array(z.string().min(1)).default([]),
  // relaxed: responses never wait for the store; strict: a response is completed only once
  // its record is committed, and calls are refused while the store cannot be written.
  durability: z.enum(['relaxed', 'strict']).default('relaxed'),
  // Records kept in memory while the store cannot be written; beyond it the oldest are dropped.
  buffer_records: z.number().int().positive().default(10_000),
  // How long a failing store rests between attempts.
  retry_interval_ms: z.number().int().positive().default(1000),
  // Exchanges older than this many days are deleted (whole days, centrally); none: kept forever.
  retention_days: z.number().int().positive().optional(),
  // The central record (docs/fleet.md): every committed local record is shipped there.
  central: z
    .strictObject({
      url: z.string().regex(/^postgres(?:ql)?:\/\//i, 'a postgres:// URL (a password from the environment: ${PGPASSWORD})'),
      batch_records: z.number().int().positive().max(10_000).default(1000),
      interval_ms: z.number().int().positive().default(100),
    })
    .optional(),
});

const authSchema = z.strictObject({
  // Agents present one of these in `header`; it is removed before forwarding and recording.
  tokens: z.array(z.string().min(16, 'a token of at least 16 characters')).min(1, 'at least one token'),
  header: z.string().min(1).default('x-tapwire-token'),
});

const adminSchema = z.strictObject({
  // A separate listener for /_tapwire/* (health, metrics); the agent listener then has none.
  listen: hostPort.optional(),
  // Authorization: Bearer <token> for /_tapwire/*; needed where they are reachable off loopback.
  token: z.string().min(16, 'a token of at least 16 characters').optional(),
});

const redisLimitsSchema = z.strictObject({
  // redis:// or rediss:// (TLS); a password belongs in ${ENV}: redis://:${REDIS_PASSWORD}@host:6379
  url: z.url({ protocol: /^rediss?$/, error: 'a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379' }),
  // While Redis cannot be reached: count in this process (local) or refuse with the limit's refusal (deny).
  on_unavailable: z.enum(['local', 'deny']).default('local'),
  // A command not answered within this is failed (Redis counted as unavailable): never a hung call.
  timeout_ms: z.number().int().positive().default(500),
  // A counter checked while its copy from Redis is older than this is fetched again (see docs/fleet.md).
  sync_ms: z.number().int().nonnegative().default(20),
  // Prefix of the Redis keys, so several fleets can share one Redis.
  prefix: z.string().default('tapwire:limit:'),
});

/** A host name (a leading "*." matches any subdomain) or an IP address, lower case. */
const hostPattern = z
  .string()
  .transform((host) => host.toLowerCase())
  .refine((host) => isIP(host) !== 0 || /^(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/.test(host), {
    error: 'a host name (api.openai.com), a pattern (*.openai.azure.com) or an IP address, without scheme or port',
  });

/** proxy: tapwire as the agents' HTTPS_PROXY (docs/intercept.md). */
const proxySchema = z.strictObject({
  listen: hostPort.default('127.0.0.1:4102'),
  // Hosts whose TLS tapwire opens (with its local CA) to send the calls through the route
  // whose upstream is that host.
  intercept: z.array(hostPattern).min(1, 'at least one host'),
  // CONNECT to any other host: refused, or tunnelled untouched (recorded without content).
  otherwise: z.enum(['refuse', 'tunnel']).default('refuse'),
  // Where the local CA's certificate and key are kept (relative to the config file, or ~/...); default ~/.tapwire/ca.
  ca_dir: z.string().min(1).optional(),
});

export type ProxyConfig = z.infer<typeof proxySchema>;

/** True when `host` (lower case) is `pattern` or, for "*.example.com", one of its subdomains. */
export function hostMatches(pattern: string, host: string): boolean {
  return pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) : host === pattern;
}

/** limits.redis: where request-rate limits and token budgets are counted for the whole fleet. */
export type RedisLimitsConfig = z.infer<typeof redisLimitsSchema>;

const limitsSchema = z
  .strictObject({
    // A larger request body is refused with 413 in the route's protocol error format.
    max_request_bytes: z.number().int().positive().default(16 * 1024 * 1024),
    // node:http headersTimeout and requestTimeout: slow senders (slowloris) are cut with 408.
    headers_timeout_ms: z.number().int().positive().default(30_000),
    request_timeout_ms: z.number().int().positive().default(300_000),
    // Request-rate limits and token budgets counted in Redis, shared by every sidecar using it.
    redis: redisLimitsSchema.optional(),
  })
  .refine((l) => l.headers_timeout_ms <= l.request_timeout_ms, { message: 'headers_timeout_ms cannot exceed request_timeout_ms', path: ['headers_timeout_ms'] });

/** A `policies:` entry naming a URL rather than a file. */
export function isPolicyUrl(entry: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(entry);
}

/** Hosts a plain http:// policy URL may name: the policies then never cross a network. */
const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/** What is wrong with a `policies:` entry that is a URL: https://, or http:// on loopback only. */
function policyUrlProblem(entry: string): string | null {
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    return 'not a valid URL';
  }
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:') return LOOPBACK_HOST.test(url.hostname) ? null : 'a policy URL over plain http must be on loopback (127.0.0.1, [::1], localhost); use https://';
  return 'a policy URL is https:// (or http:// on loopback)';
}

const policyEntry = z
  .string()
  .min(1)
  .superRefine((entry, ctx) => {
    const problem = isPolicyUrl(entry) ? policyUrlProblem(entry) : null;
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

export const configSchema = z.strictObject({
  listen: hostPort.default('127.0.0.1:4100'),
  /** Inbound authentication of agents; listening off loopback needs it (or --insecure-listen). */
  auth: authSchema.optional(),
  admin: adminSchema.default({}),
  limits: limitsSchema.default(() => limitsSchema.parse({})),
  // SIGTERM/SIGINT: how long in-flight requests may take to finish before they are cut.
  shutdown_timeout_ms: z.number().int().nonnegative().default(10_000),
  // A call held for approval: how often its agent is sent a keep-alive (MCP progress notifications or SSE comments).
  approval_keepalive_ms: z.number().int().positive().default(15_000),
  agent: z
    .strictObject({
      name: z.string().min(1).default('agent'),
      labels: z.record(z.string(), z.string()).default({}),
    })
    .default({ name: 'agent', labels: {} }),
  store: storeSchema.default(() => storeSchema.parse({})),
  log: z.strictObject({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info') }).default({ level: 'info' }),
  routes: z
    .record(z.string().regex(ROUTE_NAME, 'a route name: letters, digits, ".", "_" or "-", starting with a letter or digit'), routeSchema)
    .default({}),
  pricing: z.array(priceSchema).default([]),
  /** Policy files (globs allowed in the file name), relative to the config file, or URLs (https://, http:// on loopback). */
  policies: z.array(policyEntry).default([]),
  /** How often policy URLs are asked for a change (If-None-Match). */
  policies_poll_ms: z.number().int().positive().default(30_000),
  /** The agent's identity: a JWT it presents, verified against a JWKS; its claims are jwt.claims in policies. */
  identity: z
    .strictObject({
      jwt: z.strictObject({
        jwks: z.string().min(1), // a JWKS file (relative to the config file) or an http(s) URL
        issuer: z.string().min(1).optional(),
        audience: z.string().min(1).optional(),
        header: z.string().min(1).default('authorization'), // "Bearer " is taken off; never forwarded upstream
        clock_skew_s: z.number().int().nonnegative().default(30),
      }),
    })
    .optional(),
  telemetry: telemetrySchema.default({}),
  /** tapwire as an HTTP(S) forward proxy that intercepts the listed hosts (docs/intercept.md). */
  proxy: proxySchema.optional(),
});

export type Config = z.infer<typeof configSchema>;
export type RouteConfig = Config['routes'][string];
/** A route forwarded over HTTP to its upstream URL. */
export type UpstreamRouteConfig = RouteConfig & { upstream: string };
/** The stream events one exchange keeps (store.max_events, store.max_event_bytes). */
export function eventLimitsOf(config: Config): EventLimits {
  return { maxEvents: config.store.max_events, maxEventBytes: config.store.max_event_bytes };
}

/** A route served by spawning a stdio MCP server. */
export type CommandRouteConfig = RouteConfig & { command: string };

export function isCommandRoute(route: RouteConfig): route is CommandRouteConfig {
  return route.command !== undefined;
}

/** A route federating other mcp routes (its `servers`) behind one endpoint. */
export type FederatedRouteConfig = RouteConfig & { servers: string[] };

export function isFederatedRoute(route: RouteConfig): route is FederatedRouteConfig {
  return route.servers !== undefined;
}

/** A REST API served to agents as MCP tools, from its OpenAPI document (`spec`). */
export type OpenApiRouteConfig = RouteConfig & { spec: string };

export function isOpenApiRoute(route: RouteConfig): route is OpenApiRouteConfig {
  return route.spec !== undefined;
}
export type PriceOverride = Config['pricing'][number];

/** What a protocol finds wrong with one field of a route (`field`: under routes.<name>). */
export interface RouteProblem {
  field: string;
  message: string;
}

/** A protocol's own rules for its routes, beyond the schema (protocols/registry.ts: routeProblems). */
export type RouteCheck = (route: RouteConfig) => RouteProblem[];

/** The routes `tapwire run` serves when started without a config file. */
export const BUILT_IN_ROUTES = {
  openai: { protocol: 'llm', upstream: 'https://api.openai.com', provider: 'openai' },
  anthropic: { protocol: 'llm', upstream: 'https://api.anthropic.com', provider: 'anthropic' },
} as const;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Replaces ${VAR} and ${VAR:-default} in every string of a parsed YAML tree. */
function interpolate(value: unknown, env: NodeJS.ProcessEnv, path: (string | number)[], problems: Problem[]): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_match, name: string, fallback: string | undefined) => {
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      problems.push({ path, variable: name, message: `environment variable ${name} is not set (write \${${name}:-default} to give a default)` });
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => interpolate(item, env, [...path, i], problems));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env, [...path, k], problems)]));
  }
  return value;
}

interface Problem {
  path: (string | number)[];
  /** The unset environment variable, pointed at inside the value. */
  variable: string;
  message: string;
}

/** A field's path as the config and policy files' errors name it: `routes.openai.upstream`, `rules[2].when`. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => (typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)), '');
}

/**
 * Parses and validates config text. `source` names the file in errors. Every problem is
 * reported at once, each as `file:line:col: field.path: what was expected`. `checkRoute` adds
 * the protocols' own rules (protocols/registry.ts: routeProblems), which config/ cannot see.
 */
export function parseConfig(text: string, source: string, env: NodeJS.ProcessEnv = process.env, checkRoute?: RouteCheck): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    const lines = doc.errors.map((e) => {
      const pos = lineCounter.linePos(e.pos[0]);
      return `${source}:${pos.line}:${pos.col}: ${e.message.split('\n')[0]}`;
    });
    throw new ConfigError(`invalid YAML\n${lines.join('\n')}`);
  }
  let raw: unknown;
  try {
    // Aliases are resolved here: an unknown one, or so many that they would expand a few
    // bytes into gigabytes (the yaml library counts them), is an error in the file.
    raw = doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (err) {
    throw new ConfigError(`invalid YAML\n${source}: ${(err as Error).message}`);
  }
  const at = (offset: number): string => {
    const pos = lineCounter.linePos(offset);
    return `${source}:${pos.line}:${pos.col}`;
  };
  const where = (path: readonly PropertyKey[]): string => {
    const offset = nodeOffset(doc, path);
    return offset === null ? source : at(offset);
  };
  const problems: Problem[] = [];
  const interpolated = interpolate(raw, env, [], problems);
  const result = configSchema.safeParse(interpolated);
  const messages = problems.map((p) => {
    const offset = variableOffset(doc, text, p.path, p.variable) ?? nodeOffset(doc, p.path);
    return `${offset === null ? source : at(offset)}: ${formatPath(p.path)}: ${p.message}`;
  });
  // A value emptied by an unset variable is reported once, as that variable, not again as a bad value.
  const emptied = new Set(problems.map((p) => formatPath(p.path)));
  if (!result.success) {
    for (const issue of result.error.issues) {
      const path = issue.path;
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) {
          const offset = keyOffset(doc, path, key);
          messages.push(`${offset === null ? where(path) : at(offset)}: ${formatPath([...path, key])}: unknown key (allowed here: ${allowedKeys(path)})`);
        }
      } else if (emptied.has(formatPath(path))) {
        continue;
      } else if (issue.code === 'invalid_key') {
        // A record key that fails its pattern: say what a key must look like.
        messages.push(`${where(path)}: ${formatPath(path)}: ${issue.issues[0]?.message ?? issue.message}`);
      } else {
        messages.push(`${where(path)}: ${formatPath(path) || '(top level)'}: ${issue.message}`);
      }
    }
  }
  if (!result.success || messages.length > 0) throw new ConfigError(`invalid config\n${messages.join('\n')}`);
  return checkRoutes(result.data, where, checkRoute);
}

/** Where the deepest node on `path` that exists starts: a missing key's map, say. */
function nodeOffset(doc: Document, path: readonly PropertyKey[]): number | null {
  for (let depth = path.length; depth >= 0; depth--) {
    const node: unknown = doc.getIn(path.slice(0, depth) as unknown[], true);
    if (isNode(node) && node.range) return node.range[0];
  }
  return null;
}

/** Where the key `key` of the map at `path` is written. */
function keyOffset(doc: Document, path: readonly PropertyKey[], key: string): number | null {
  const map: unknown = path.length === 0 ? doc.contents : doc.getIn(path as unknown[], true);
  if (!isMap(map)) return null;
  const pair = map.items.find((item) => isScalar(item.key) && String(item.key.value) === key);
  return isScalar(pair?.key) && pair.key.range ? pair.key.range[0] : null;
}

/** Where `${variable` is written inside the value at `path`. */
function variableOffset(doc: Document, text: string, path: readonly PropertyKey[], variable: string): number | null {
  const node: unknown = doc.getIn(path as unknown[], true);
  if (!isNode(node) || !node.range) return null;
  const found = text.slice(node.range[0], node.range[1]).indexOf(`\${${variable}`);
  return found === -1 ? null : node.range[0] + found;
}

/** The keys a strict object at `path` accepts, for "unknown key" messages. */
function allowedKeys(path: readonly PropertyKey[]): string {
  let schema: z.ZodType = configSchema;
  for (const key of path) {
    const inner = unwrap(schema);
    if (inner instanceof z.ZodObject) schema = (inner.shape as Record<string, z.ZodType>)[String(key)] ?? inner;
    else if (inner instanceof z.ZodRecord) schema = inner.valueType as z.ZodType;
    else if (inner instanceof z.ZodArray) schema = inner.element as z.ZodType;
  }
  const inner = unwrap(schema);
  return inner instanceof z.ZodObject ? Object.keys(inner.shape).join(', ') : '?';
}

function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  while (current instanceof z.ZodDefault || current instanceof z.ZodOptional) current = current.unwrap() as z.ZodType;
  // A route's schemas, one per protocol, all name the same keys: the first stands for them.
  if (current instanceof z.ZodDiscriminatedUnion) return current.options[0] as z.ZodType;
  return current;
}

/** Cross-field rules the schema cannot say on its own, and the protocols' own (`checkRoute`). */
function checkRoutes(config: Config, where: (path: readonly PropertyKey[]) => string, checkRoute: RouteCheck | undefined): Config {
  const messages: string[] = [];
  for (const [name, route] of Object.entries(config.routes)) {
    const at = (field: string): string => `${where(['routes', name, field])}: routes.${name}.${field}`;
    if (route.require_identity && !config.identity) {
      messages.push(`${at('require_identity')}: there is no identity section to verify tokens with`);
    }
    if (route.require_identity && (route.command !== undefined || route.servers !== undefined)) {
      messages.push(`${at('require_identity')}: only routes with an upstream can require an identity`);
    }
    messages.push(...mcpAuthProblems(route, (field) => `${where(['routes', name, 'auth', field])}: routes.${name}.auth.${field}`));
    for (const problem of checkRoute?.(route) ?? []) messages.push(`${at(problem.field)}: ${problem.message}`);
    if (route.servers !== undefined) {
      messages.push(...federationProblems(config, name, where));
      continue;
    }
    for (const field of ['prefix', 'failure', 'list_timeout_ms'] as const) {
      if (route[field] !== undefined) messages.push(`${at(field)}: ${NOT_HERE[field]}`);
    }
    // Its upstream is optional (the document's servers name one); tapwire reads the document at start.
    if (isOpenApiRoute(route)) continue;
    if (route.upstream === undefined && route.command === undefined) {
      messages.push(`${at('upstream')}: missing: give the route an upstream (an http(s) URL) or a command (a stdio MCP server to run)`);
    } else if (route.upstream !== undefined && route.command !== undefined) {
      messages.push(`${at('command')}: give either upstream or command, not both`);
    } else if (route.command !== undefined) {
      if (Object.keys(route.headers).length > 0) messages.push(`${at('headers')}: only routes with an upstream send headers`);
      if (route.ca !== undefined) messages.push(`${at('ca')}: only routes with an upstream verify certificates`);
    } else {
      for (const field of ['args', 'env', 'cwd'] as const) {
        if (route[field] !== undefined) messages.push(`${at(field)}: ${NOT_HERE[field]}`);
      }
    }
  }
  messages.push(...interceptProblems(config, where));
  if (messages.length > 0) throw new ConfigError(`invalid config\n${messages.join('\n')}`);
  return config;
}

/** Each proxy.intercept entry must name the host of some route's upstream: the route its calls go through. */
function interceptProblems(config: Config, where: (path: readonly PropertyKey[]) => string): string[] {
  // Only routes tapwire forwards can be intercepted: an openapi route's upstream is called by tapwire itself.
  const hosts = Object.values(config.routes).flatMap((route) => (route.upstream === undefined || isOpenApiRoute(route) ? [] : [new URL(route.upstream).hostname.replace(/^\[|\]$/g, '')]));
  return (config.proxy?.intercept ?? []).flatMap((pattern, i) =>
    hosts.some((host) => hostMatches(pattern, host))
      ? []
      : [`${where(['proxy', 'intercept', i])}: proxy.intercept[${i}]: no route's upstream is on ${pattern}; upstream hosts: ${hosts.join(', ') || '(none)'}`],
  );
}

/**
 * What is wrong with a route's auth section given the kind of route: passthrough needs an
 * upstream to hand the token to; upstream_auth is for an upstream's credential, so a gateway
 * in front of an upstream needs one and a command or federated route has none; and auth
 * replaces require_identity (the token is the identity).
 */
function mcpAuthProblems(route: RouteConfig, at: (field: string) => string): string[] {
  const auth = route.auth;
  if (!auth) return [];
  const problems: string[] = [];
  const served = route.command !== undefined || route.servers !== undefined;
  if (route.require_identity) problems.push(`${at('mode')}: a route with auth checks the client's token itself; remove require_identity`);
  if (auth.mode === 'passthrough' && served) problems.push(`${at('mode')}: passthrough forwards the token to an upstream; a route with ${route.command !== undefined ? 'a command' : 'servers'} has none (use gateway)`);
  if (auth.mode === 'gateway' && served && auth.upstream_auth !== undefined) problems.push(`${at('upstream_auth')}: a route with ${route.command !== undefined ? 'a command' : 'servers'} calls no upstream itself`);
  if (auth.mode === 'gateway' && !served && auth.upstream_auth === undefined) {
    problems.push(`${at('upstream_auth')}: missing: what tapwire calls the upstream with (headers, client_credentials or token_exchange); the client's token is never forwarded in gateway mode`);
  }
  return problems;
}

/** What is wrong with federated route `name`: its servers must be other, distinct, non-federated mcp routes. */
function federationProblems(config: Config, name: string, where: (path: readonly PropertyKey[]) => string): string[] {
  const route = config.routes[name]!;
  const at = (field: string): string => `${where(['routes', name, field])}: routes.${name}.${field}`;
  const problems: string[] = [];
  for (const field of ['upstream', 'command', 'args', 'env', 'cwd'] as const) {
    if (route[field] !== undefined) problems.push(`${at(field)}: a route with servers has no ${field} (its servers do)`);
  }
  if (Object.keys(route.headers).length > 0) problems.push(`${at('headers')}: a route with servers sends no headers (give them to its servers)`);
  if (route.ca !== undefined) problems.push(`${at('ca')}: a route with servers verifies no certificates (give ca to its servers)`);
  const seen = new Set<string>();
  route.servers!.forEach((server, i) => {
    const entry = `${where(['routes', name, 'servers', i])}: routes.${name}.servers[${i}]`;
    const member = config.routes[server];
    if (seen.has(server)) problems.push(`${entry}: ${server} is listed twice`);
    seen.add(server);
    if (server === name) problems.push(`${entry}: a route cannot federate itself`);
    else if (!member) problems.push(`${entry}: there is no route ${server}; routes: ${Object.keys(config.routes).join(', ')}`);
    // Only mcp routes have servers (the schema says so): its members are mcp routes, or
    // openapi routes (which tapwire serves as MCP servers).
    else if (member.protocol !== route.protocol && !isOpenApiRoute(member)) {
      problems.push(`${entry}: route ${server} has protocol ${member.protocol}; servers must be ${route.protocol} routes (or openapi routes)`);
    }
    else if (member.servers !== undefined) problems.push(`${entry}: route ${server} is itself federated; servers must have an upstream or a command`);
  });
  return problems;
}

/**
 * Loads a config file, or the defaults with the built-in routes when `path` is undefined;
 * `checkRoute` as for parseConfig.
 */
export function loadConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env, checkRoute?: RouteCheck): Config {
  if (path === undefined) {
    return withBuiltInRoutes(configSchema.parse({}));
  }
  const file = resolve(path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const config = parseConfig(text, path, env, checkRoute);
  // Policy file patterns are relative to the config file, wherever tapwire runs from (URLs stay as written).
  config.policies = config.policies.map((pattern) => (isPolicyUrl(pattern) ? pattern : resolve(dirname(file), pattern)));
  const jwt = config.identity?.jwt;
  if (jwt && !/^https?:\/\//.test(jwt.jwks)) jwt.jwks = resolve(dirname(file), jwt.jwks);
  for (const route of Object.values(config.routes)) if (route.ca !== undefined) route.ca = resolve(dirname(file), route.ca);
  const caDir = config.proxy?.ca_dir;
  if (config.proxy && caDir !== undefined) config.proxy.ca_dir = caDir.startsWith('~/') ? join(homedir(), caDir.slice(2)) : resolve(dirname(file), caDir);
  // OpenAPI documents are relative to the config file too.
  for (const route of Object.values(config.routes)) {
    if (isOpenApiRoute(route) && !/^https?:\/\//i.test(route.spec)) route.spec = resolve(dirname(file), route.spec);
  }
  return config;
}

/** The file `tapwire run` loads when no --config is given, if the directory has one. */
const DEFAULT_CONFIG_FILE = 'tapwire.yaml';

/**
 * The config file `tapwire run` uses: --config's, else ./tapwire.yaml when it exists, unless
 * --no-config (`option` false). With none, `reason` says why, for the start-up log.
 */
export function configToRun(option: string | false | undefined): { file: string; reason: null } | { file: null; reason: string } {
  if (typeof option === 'string') return { file: option, reason: null };
  const builtIn = 'the built-in openai and anthropic routes and the defaults';
  if (option === false) return { file: null, reason: `--no-config: ${builtIn}` };
  return existsSync(DEFAULT_CONFIG_FILE) ? { file: DEFAULT_CONFIG_FILE, reason: null } : { file: null, reason: `no --config and no ./${DEFAULT_CONFIG_FILE}: ${builtIn}` };
}

/** `tapwire wrap` without a config file: the defaults, with one mcp route `name` running `command`. */
export function configForCommand(name: string, command: string, args: readonly string[]): Config {
  if (!command) throw new ConfigError("no command: without --config, give the server's command after --");
  if (!ROUTE_NAME.test(name)) throw new ConfigError(`--route ${name}: a route name is letters, digits, ".", "_" or "-", starting with a letter or digit`);
  return configSchema.parse({ routes: { [name]: { protocol: 'mcp', command, args } } });
}

function withBuiltInRoutes(config: Config): Config {
  for (const [name, route] of Object.entries(BUILT_IN_ROUTES)) {
    config.routes[name] = routeSchema.parse(route);
  }
  return config;
}
