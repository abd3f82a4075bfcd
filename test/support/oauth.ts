// MCP authorization peers for tests: an authorization server built from the MCP SDK's own
// auth router (mcpAuthRouter: metadata, dynamic client registration, authorize with PKCE,
// token) around a small in-test OAuthServerProvider that approves every request and issues
// JWTs signed with a jose key, served as a JWKS; an MCP server protected by the SDK's own
// bearer-auth middleware and metadata router; and the SDK client's OAuthClientProvider. No
// standalone authorization server runs here, so the provider is the one hand-made part (the
// SDK leaves it to the application by design). The SDK's token endpoint refuses the
// client_credentials and token-exchange grants ("Additional auth methods will not be added
// on the server side of the SDK"), so the server also answers those at /service-token,
// itself, the way an RFC 6749 §4.4 / RFC 8693 token endpoint does.
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Request, type Response } from 'express';
import { exportJWK, generateKeyPair, jwtVerify, SignJWT, createLocalJWKSet, type JWK, type JWTPayload, type CryptoKey } from 'jose';
import { mcpAuthMetadataRouter, mcpAuthRouter } from '@modelcontextprotocol/sdk/server/auth/router.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import type { OAuthServerProvider, AuthorizationParams } from '@modelcontextprotocol/sdk/server/auth/provider.js';
import type { OAuthRegisteredClientsStore } from '@modelcontextprotocol/sdk/server/auth/clients.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationFull, OAuthClientInformationMixed, OAuthClientMetadata, OAuthMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

async function listenOn(app: express.Express): Promise<{ server: Server; origin: string; close: () => Promise<void> }> {
  const server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    server,
    origin,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A string claim, or "" for any other value. */
function claimText(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** The service client that may use /service-token (tapwire's upstream_auth). */
export const SERVICE_CLIENT = { client_id: 'tapwire', client_secret: 'tapwire-service-secret-0123456789' };

export interface AuthorizationServer {
  /** The issuer, e.g. http://127.0.0.1:1234/ (the SDK's router writes it with a slash). */
  issuer: string;
  jwksUrl: string;
  /** Where client_credentials and token-exchange grants are answered. */
  serviceTokenUrl: string;
  /** RFC 7662 introspection, for SERVICE_CLIENT. */
  introspectionUrl: string;
  metadata: OAuthMetadata;
  /** A token signed with the server's key (for refusal tests: wrong audience, expired, few scopes). */
  mint(claims: JWTPayload & { aud: string; exp: number }): Promise<string>;
  /** Verifies a token the server issued, as a resource server would. */
  verify(token: string, audience: string): Promise<JWTPayload>;
  /** Every access token issued, in order. */
  issued: { token: string; grant: string; aud: string }[];
  close(): Promise<void>;
}

export async function startAuthorizationServer(options: { scopes?: string[] } = {}): Promise<AuthorizationServer> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
  const keys = createLocalJWKSet({ keys: [jwk] });
  const app = express();
  const listening = await listenOn(app);
  const issuerUrl = new URL(`${listening.origin}/`);
  const issued: AuthorizationServer['issued'] = [];
  const sign = (key: CryptoKey, claims: JWTPayload): Promise<string> =>
    new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'test-key' }).setIssuer(issuerUrl.href).setIssuedAt().setJti(randomUUID()).sign(key);
  const accessToken = async (grant: string, claims: JWTPayload & { aud: string }): Promise<OAuthTokens> => {
    const token = await sign(privateKey, { exp: Math.floor(Date.now() / 1000) + 300, ...claims });
    issued.push({ token, grant, aud: claims.aud });
    return { access_token: token, token_type: 'Bearer', expires_in: 300, ...(typeof claims.scope === 'string' ? { scope: claims.scope } : {}) };
  };

  const clients = new Map<string, OAuthClientInformationFull>();
  const clientsStore: OAuthRegisteredClientsStore = {
    getClient: (id) => clients.get(id),
    registerClient: (client) => {
      const full = { ...client, client_id: randomUUID(), client_id_issued_at: Math.floor(Date.now() / 1000) };
      clients.set(full.client_id, full);
      return full;
    },
  };
  const codes = new Map<string, { client: string; params: AuthorizationParams }>();
  const provider: OAuthServerProvider = {
    clientsStore,
    // Approves at once: the user's consent is not what these tests are about.
    authorize(client, params, res) {
      const code = randomUUID();
      codes.set(code, { client: client.client_id, params });
      const target = new URL(params.redirectUri);
      target.searchParams.set('code', code);
      if (params.state) target.searchParams.set('state', params.state);
      res.redirect(302, target.href);
      return Promise.resolve();
    },
    challengeForAuthorizationCode(_client, code) {
      const held = codes.get(code);
      return held ? Promise.resolve(held.params.codeChallenge) : Promise.reject(new Error('unknown code'));
    },
    async exchangeAuthorizationCode(client, code, _verifier, _redirectUri, resource) {
      const held = codes.get(code);
      codes.delete(code);
      if (!held || held.client !== client.client_id) throw new Error('unknown code');
      const scope = (held.params.scopes?.length ? held.params.scopes : (options.scopes ?? [])).join(' ');
      return accessToken('authorization_code', { sub: 'user-1', client_id: client.client_id, aud: (resource ?? held.params.resource)?.href ?? '', scope });
    },
    exchangeRefreshToken() {
      return Promise.reject(new Error('no refresh tokens here'));
    },
    async verifyAccessToken(token) {
      const { payload } = await jwtVerify(token, keys, { issuer: issuerUrl.href });
      return { token, clientId: claimText(payload.client_id), scopes: claimText(payload.scope).split(' '), expiresAt: payload.exp };
    },
  };

  app.get('/jwks', (_req, res) => {
    res.json({ keys: [jwk] });
  });
  const isService = (req: Request): boolean =>
    Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString() === `${SERVICE_CLIENT.client_id}:${SERVICE_CLIENT.client_secret}`;
  app.post('/introspect', express.urlencoded({ extended: false }), (req: Request, res: Response) => {
    if (!isService(req)) return void res.status(401).json({ error: 'invalid_client' });
    jwtVerify((req.body as Record<string, string>).token ?? '', keys, { issuer: issuerUrl.href }).then(
      ({ payload }) => res.json({ active: true, ...payload }),
      () => res.json({ active: false }),
    );
  });
  app.post('/service-token', express.urlencoded({ extended: false }), (req: Request, res: Response) => {
    if (!isService(req)) return void res.status(401).json({ error: 'invalid_client' });
    const form = req.body as Record<string, string>;
    const aud = form.resource ?? form.audience ?? '';
    void (async () => {
      if (form.grant_type === 'client_credentials') return res.json(await accessToken('client_credentials', { sub: SERVICE_CLIENT.client_id, aud, scope: form.scope }));
      if (form.grant_type === 'urn:ietf:params:oauth:grant-type:token-exchange') {
        // The subject token must be one this server issued, still valid; the new one acts for its subject.
        let subject: JWTPayload;
        try {
          subject = (await jwtVerify(form.subject_token ?? '', keys, { issuer: issuerUrl.href })).payload;
        } catch {
          return res.status(400).json({ error: 'invalid_grant' });
        }
        const tokens = await accessToken('token_exchange', { sub: subject.sub, act: { sub: SERVICE_CLIENT.client_id }, aud, scope: form.scope });
        return res.json({ ...tokens, issued_token_type: 'urn:ietf:params:oauth:token-type:access_token' });
      }
      return res.status(400).json({ error: 'unsupported_grant_type' });
    })();
  });
  app.use(mcpAuthRouter({ provider, issuerUrl, scopesSupported: options.scopes ?? ['mcp:tools'] }));
  const metadata = (await (await fetch(`${listening.origin}/.well-known/oauth-authorization-server`)).json()) as OAuthMetadata;
  return {
    issuer: issuerUrl.href,
    jwksUrl: `${listening.origin}/jwks`,
    serviceTokenUrl: `${listening.origin}/service-token`,
    introspectionUrl: `${listening.origin}/introspect`,
    metadata,
    mint: (claims) => sign(privateKey, claims),
    verify: async (token, audience) => (await jwtVerify(token, keys, { issuer: issuerUrl.href, audience })).payload,
    issued,
    close: listening.close,
  };
}

export interface ProtectedMcpServer {
  /** http://127.0.0.1:<port>/mcp */
  url: string;
  /** The Authorization header of every call the MCP endpoint received. */
  authorizations: string[];
  /** The tools run, with the subject of the token they ran for. */
  ran: { tool: string; subject: string | undefined }[];
  close(): Promise<void>;
}

export interface ProtectedOptions {
  as: AuthorizationServer;
  /** The audience its tokens must name, asked when a call comes (so it may be tapwire's URL, known later). */
  audience: () => string;
  /** The `resource` its metadata names; default its own URL. */
  resource?: string;
  requiredScopes?: string[];
}

/** An MCP server (tools `echo` and `whoami`) behind the SDK's requireBearerAuth, its metadata served by the SDK's mcpAuthMetadataRouter. */
export async function startProtectedMcpServer(options: ProtectedOptions): Promise<ProtectedMcpServer> {
  const app = express();
  const listening = await listenOn(app);
  const url = `${listening.origin}/mcp`;
  const state: ProtectedMcpServer = { url, authorizations: [], ran: [], close: listening.close };
  const resourceMetadataUrl = `${listening.origin}/.well-known/oauth-protected-resource/mcp`;
  app.use(mcpAuthMetadataRouter({ oauthMetadata: options.as.metadata, resourceServerUrl: new URL(options.resource ?? url), scopesSupported: ['mcp:tools'] }));
  const verifier = {
    async verifyAccessToken(token: string): Promise<AuthInfo> {
      let payload: JWTPayload;
      try {
        payload = await options.as.verify(token, options.audience());
      } catch (err) {
        throw new InvalidTokenError((err as Error).message);
      }
      return { token, clientId: claimText(payload.client_id ?? payload.sub), scopes: claimText(payload.scope).split(' '), expiresAt: payload.exp, extra: { sub: payload.sub } };
    },
  };
  app.post(
    '/mcp',
    (req, _res, next) => {
      state.authorizations.push(req.headers.authorization ?? '');
      next();
    },
    requireBearerAuth({ verifier, requiredScopes: options.requiredScopes ?? [], resourceMetadataUrl }),
    express.json(),
    (req: Request & { auth?: AuthInfo }, res: Response) => {
      const subject = req.auth?.extra?.sub as string | undefined;
      const mcp = new McpServer({ name: 'protected', version: '1.0.0' });
      mcp.registerTool('echo', { inputSchema: { text: z.string() } }, ({ text }) => {
        state.ran.push({ tool: 'echo', subject });
        return { content: [{ type: 'text', text }] };
      });
      mcp.registerTool('rm', { inputSchema: { path: z.string() } }, () => {
        state.ran.push({ tool: 'rm', subject });
        return { content: [{ type: 'text', text: 'removed' }] };
      });
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      void mcp.connect(transport).then(() => transport.handleRequest(req, res, req.body));
    },
  );
  return state;
}

/** The SDK client's OAuthClientProvider, in memory: it registers dynamically and records where it is sent to authorize. */
export class MemoryOAuthClient implements OAuthClientProvider {
  private info: OAuthClientInformationMixed | undefined;
  private saved: OAuthTokens | undefined;
  private verifier = '';
  /** The authorization URL the flow sent the user to. */
  authorizationUrl: URL | null = null;
  readonly redirectUrl = 'http://127.0.0.1:1/callback';

  get clientMetadata(): OAuthClientMetadata {
    return { client_name: 'tapwire-test', redirect_uris: [this.redirectUrl], grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'none' };
  }
  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.info;
  }
  saveClientInformation(info: OAuthClientInformationMixed): void {
    this.info = info;
  }
  tokens(): OAuthTokens | undefined {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens): void {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL): void {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(verifier: string): void {
    this.verifier = verifier;
  }
  codeVerifier(): string {
    return this.verifier;
  }

  /** Follows the authorization URL (the server approves at once) and returns the code its redirect carries. */
  async approve(): Promise<string> {
    if (!this.authorizationUrl) throw new Error('the flow never asked for authorization');
    const answer = await fetch(this.authorizationUrl, { redirect: 'manual' });
    const location = answer.headers.get('location');
    const code = location ? new URL(location).searchParams.get('code') : null;
    if (!code) throw new Error(`the authorization server did not redirect with a code (${answer.status})`);
    return code;
  }
}
