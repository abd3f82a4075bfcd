// MCP authorization at run time, per route with `auth:` (config/mcp-auth.ts). It answers the
// discovery URLs (well-known.ts) with the route's metadata (metadata.ts), admits each call
// before it is forwarded or served (gateway: the token checked, its claims for policies, the
// upstream credential in its place; passthrough: the token forwarded as it came), and points
// the upstream's challenges at tapwire. What it answers itself is recorded on the route, with
// the agent's headers redacted: no token is stored.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config, RouteConfig } from '../../../config/config.js';
import type { McpAuthConfig } from '../../../config/mcp-auth.js';
import { blankExchange, type Exchange } from '../../../core/exchange.js';
import type { HeaderMap } from '../../../core/headers.js';
import { stamp } from '../../../policies/decision.js';
import { scopesOf } from '../../../policies/identity.js';
import type { RecordSink, ResponseHead } from '../../observer.js';
import { bearerChallenge, pointedAt, type Challenge } from './challenge.js';
import { authorizationServerMetadata, gatewayResourceMetadata, presentedResourceMetadata, upstreamResourceMetadata } from './metadata.js';
import { TokenVerifier } from './token-check.js';
import { upstreamCredential, type UpstreamCredential } from './upstream-credential.js';
import { resourceMetadataUrl, routeUrl, wellKnownOf } from './well-known.js';

export interface AuthParts {
  agent: string;
  sink: RecordSink;
  /** Redacts the agent's headers for the record. */
  redact: (headers: IncomingMessage['headers']) => HeaderMap;
  /** The listen address, for a request without Host. */
  listen: string;
}

/** A call let through. */
export interface AuthAdmission {
  /** The verified token's claims (gateway), for policies' jwt.claims and identity.*; null in passthrough. */
  claims: Record<string, unknown> | null;
  /** Headers the upstream call carries besides the route's own (gateway: its credential). */
  upstreamHeaders: HeaderMap;
  /** Edits the upstream's response head before the agent gets it: its challenges point at tapwire. */
  onHead: (head: ResponseHead) => void;
}

type AuthRoute = RouteConfig & { auth: McpAuthConfig };

function hostOf(req: IncomingMessage, listen: string): string {
  return req.headers.host ?? listen;
}

/** The bearer token of an Authorization header, or null. */
function bearerToken(req: IncomingMessage): string | null {
  const match = /^Bearer[ \t]+([^\s]+)\s*$/i.exec(req.headers.authorization ?? '');
  return match ? match[1]! : null;
}

export class RouteAuthorization {
  private readonly verifier: TokenVerifier | null;
  private readonly credential: UpstreamCredential | null;
  private readonly upstream: URL | null;
  private readonly timeoutMs: number;

  constructor(
    readonly name: string,
    private readonly route: AuthRoute,
    private readonly parts: AuthParts,
  ) {
    this.timeoutMs = route.timeouts.connect_ms;
    const auth = route.auth;
    this.upstream = route.upstream ? new URL(route.upstream) : null;
    this.verifier = auth.mode === 'gateway' ? new TokenVerifier(auth, this.timeoutMs) : null;
    this.credential = auth.mode === 'gateway' && auth.upstream_auth ? upstreamCredential(auth.upstream_auth, this.timeoutMs) : null;
  }

  /**
   * Admits a call (`rest`: the path under the route), or answers and records its refusal and
   * returns null. Gateway: the Authorization header is taken off the request, so it is never
   * forwarded (nor recorded).
   */
  async admit(req: IncomingMessage, res: ServerResponse, rest: string, started: number): Promise<AuthAdmission | null> {
    const host = hostOf(req, this.parts.listen);
    const onHead = (head: ResponseHead): void => this.pointChallenge(head, host);
    const auth = this.route.auth;
    if (!this.verifier) return { claims: null, upstreamHeaders: {}, onHead };
    const required = auth.scopes ?? [];
    const metadata = resourceMetadataUrl(host, this.name);
    const token = bearerToken(req);
    const refuse = (status: 401 | 403, challenge: Omit<Challenge, 'resourceMetadata'>, reason: string): null => {
      this.answer(req, res, rest, started, status, { error: challenge.error ?? 'invalid_request', error_description: reason }, { 'www-authenticate': bearerChallenge({ ...challenge, resourceMetadata: metadata }) }, reason);
      return null;
    };
    if (token === null) return refuse(401, { scope: required }, 'no bearer token: this route needs an access token from its authorization server');
    const checked = await this.verifier.check(token, auth.audience ?? routeUrl(host, this.name));
    if ('problem' in checked) return refuse(401, { error: 'invalid_token', description: checked.problem, scope: required }, checked.problem);
    const held = scopesOf(checked.claims);
    const missing = required.filter((scope) => !held.includes(scope));
    if (missing.length > 0) return refuse(403, { error: 'insufficient_scope', description: `the token lacks scope ${missing.join(' ')}`, scope: required }, `the token lacks scope ${missing.join(' ')}`);
    delete req.headers.authorization;
    let upstreamHeaders: HeaderMap = {};
    if (this.credential) {
      try {
        upstreamHeaders = await this.credential.headers(token);
      } catch (err) {
        const message = (err as Error).message;
        this.answer(req, res, rest, started, 502, { error: 'upstream_credential', error_description: message }, { 'x-tapwire-error': 'upstream_credential' }, null, message);
        return null;
      }
    }
    return {
      claims: checked.claims,
      upstreamHeaders,
      onHead: (head) => {
        if (head.status === 401) this.credential?.refused();
        onHead(head);
      },
    };
  }

  /** Answers a discovery request for this route (`path` as asked) and records it. */
  async discover(kind: 'resource' | 'authorization-server', req: IncomingMessage, res: ServerResponse, path: string, started: number): Promise<void> {
    const host = hostOf(req, this.parts.listen);
    const auth = this.route.auth;
    try {
      if (kind === 'resource') {
        if (auth.mode === 'gateway') {
          return this.answer(req, res, path, started, 200, gatewayResourceMetadata(auth.audience ?? routeUrl(host, this.name), auth.issuer!, auth.scopes), {});
        }
        const found = await upstreamResourceMetadata(this.upstream!, this.timeoutMs);
        const body = found.json && found.status === 200 ? presentedResourceMetadata(found.json, this.upstream!, routeUrl(host, this.name)) : (found.json ?? { error: 'not_found', error_description: `the upstream answered ${found.status}` });
        return this.answer(req, res, path, started, found.status, body, {});
      }
      const issuer = await this.authorizationServer();
      if (!issuer) {
        return this.answer(req, res, path, started, 404, { error: 'not_found', error_description: 'the upstream names no authorization server' }, {});
      }
      const found = await authorizationServerMetadata(issuer, this.timeoutMs);
      return this.answer(req, res, path, started, found.status, found.json ?? { error: 'not_found', error_description: `the authorization server answered ${found.status}` }, {});
    } catch (err) {
      const message = `tapwire could not fetch the metadata: ${(err as Error).message}`;
      return this.answer(req, res, path, started, 502, { error: 'upstream_unreachable', error_description: message }, { 'x-tapwire-error': 'upstream_unreachable' }, null, message);
    }
  }

  /**
   * The route's authorization server: a gateway's issuer; for passthrough, the first one the
   * upstream's metadata names, or (an upstream of the 2025-03-26 revision, with no such
   * metadata) the upstream's origin.
   */
  private async authorizationServer(): Promise<URL | null> {
    const auth = this.route.auth;
    if (auth.mode === 'gateway') return new URL(auth.issuer!);
    const found = await upstreamResourceMetadata(this.upstream!, this.timeoutMs);
    if (found.status !== 200 || !found.json) return new URL('/', this.upstream!.origin);
    const servers = found.json.authorization_servers;
    const first: unknown = Array.isArray(servers) ? servers[0] : undefined;
    if (typeof first !== 'string') return null;
    try {
      return new URL(first);
    } catch {
      return null;
    }
  }

  /** An upstream's 401 or 403 challenge, with its resource_metadata pointed at this route's on tapwire. */
  private pointChallenge(head: ResponseHead, host: string): void {
    const challenge = head.headers['www-authenticate'];
    if (challenge === undefined || (head.status !== 401 && head.status !== 403)) return;
    const url = resourceMetadataUrl(host, this.name);
    head.headers['www-authenticate'] = Array.isArray(challenge) ? challenge.map((c) => pointedAt(c, url)) : pointedAt(challenge, url);
  }

  /** Sends a JSON answer tapwire makes itself, and records it (`denied`: the reason of a refusal; `failed`: an error's message). */
  private answer(req: IncomingMessage, res: ServerResponse, path: string, started: number, status: number, body: unknown, headers: Record<string, string>, denied: string | null = null, failed: string | null = null): void {
    const text = Buffer.from(JSON.stringify(body));
    const sent = { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': String(text.length), ...headers };
    // A refused request's body is not read: drained, so the connection can serve the next.
    req.resume();
    res.writeHead(status, sent);
    res.end(text);
    const exchange: Exchange = blankExchange({ agent: this.parts.agent, route: this.name, protocol: 'mcp', started_at: started });
    exchange.method = `${req.method ?? 'GET'} ${path.split('?', 1)[0]}`;
    exchange.http_status = status;
    exchange.ended_at = Date.now();
    exchange.duration_ms = exchange.ended_at - started;
    exchange.response_bytes = text.length;
    if (denied !== null) stamp(exchange, { outcome: 'deny', rule: 'auth', reason: denied, retryAfterSeconds: null, findings: [] });
    if (failed !== null) Object.assign(exchange, { status: 'error', error_code: 'upstream_credential', error_message: failed });
    this.parts.sink({
      exchange,
      request: { headers: this.parts.redact(req.headers), body: null, body_size: 0, truncated: false },
      response: { headers: sent, body: text, body_size: text.length, truncated: false },
      events: [],
    });
  }
}

/** Every route with auth, and the discovery URLs they answer at tapwire's root. */
export class McpAuthorization {
  private readonly routes = new Map<string, RouteAuthorization>();

  private constructor(config: Config, parts: AuthParts) {
    for (const [name, route] of Object.entries(config.routes)) {
      if (route.auth) this.routes.set(name, new RouteAuthorization(name, route as AuthRoute, parts));
    }
  }

  /** The sidecar's MCP authorization, or null when no route has auth. */
  static of(config: Config, parts: AuthParts): McpAuthorization | null {
    const auth = new McpAuthorization(config, parts);
    return auth.routes.size > 0 ? auth : null;
  }

  route(name: string): RouteAuthorization | undefined {
    return this.routes.get(name);
  }

  /** Answers `req` when it asks for discovery metadata, and returns true; false when it does not. */
  async discovery(req: IncomingMessage, res: ServerResponse, started: number): Promise<boolean> {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    const asked = wellKnownOf(path, [...this.routes.keys()]);
    if (!asked) return false;
    if ('message' in asked) {
      req.resume();
      const text = JSON.stringify({ error: 'not_found', error_description: asked.message });
      res.writeHead(404, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
      res.end(text);
      return true;
    }
    await this.routes.get(asked.route)!.discover(asked.kind, req, res, path, started);
    return true;
  }
}
