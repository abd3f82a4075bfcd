// An MCP route's `auth:` section: how tapwire takes part in MCP authorization (OAuth 2.1,
// RFC 9728 discovery, RFC 8707 audiences). The mode is always written out: passthrough
// forwards the client's token, gateway checks it and calls the upstream with the route's own
// credential; there is no default that forwards tokens without being asked to.
import { z } from 'zod';

const httpUrl = z.url({ protocol: /^https?$/, error: 'an http(s) URL, e.g. https://auth.example.com/token' });

/** How tapwire authenticates itself to a token endpoint (client_secret_basic). */
const clientFields = {
  token_url: httpUrl,
  client_id: z.string().min(1),
  client_secret: z.string().min(1),
};

const upstreamAuthSchema = z
  .strictObject({
    // Sent on every upstream call, e.g. { authorization: "Bearer ${UPSTREAM_TOKEN}" }.
    headers: z.record(z.string(), z.string()).optional(),
    // An OAuth client-credentials token of the route's own, fetched and refreshed before it expires.
    client_credentials: z
      .strictObject({ ...clientFields, scope: z.string().min(1).optional(), resource: httpUrl.optional(), audience: z.string().min(1).optional() })
      .optional(),
    // RFC 8693: the client's token exchanged for one meant for the upstream (cached until it expires).
    token_exchange: z
      .strictObject({ ...clientFields, scope: z.string().min(1).optional(), resource: httpUrl.optional(), audience: z.string().min(1).optional() })
      .optional(),
  })
  .superRefine((value, ctx) => {
    const given = (['headers', 'client_credentials', 'token_exchange'] as const).filter((key) => value[key] !== undefined);
    if (given.length !== 1) {
      ctx.addIssue({ code: 'custom', message: `give exactly one of headers, client_credentials, token_exchange (${given.length === 0 ? 'none' : given.join(' and ')} given)` });
    }
  });

/** Fields only the gateway mode has. */
const GATEWAY_ONLY = ['issuer', 'jwks_url', 'introspection', 'audience', 'scopes', 'upstream_auth'] as const;

export const mcpAuthSchema = z
  .strictObject({
    mode: z.enum(['passthrough', 'gateway'], {
      error: 'passthrough (the client\'s token is forwarded unchanged) or gateway (tapwire checks the token and calls the upstream with upstream_auth)',
    }),
    // gateway: the authorization server whose tokens are accepted (the `iss` they must carry).
    issuer: httpUrl.optional(),
    // gateway: its signing keys (JWKS), or ...
    jwks_url: httpUrl.optional(),
    // ... its RFC 7662 introspection endpoint, for opaque tokens.
    introspection: z.strictObject({ url: httpUrl, client_id: z.string().min(1), client_secret: z.string().min(1) }).optional(),
    // gateway: the audience a token must name; default: the route's URL on tapwire (http://<host>/<route>).
    audience: z.string().min(1).optional(),
    // gateway: scopes every call needs; a token without them gets 403 insufficient_scope.
    scopes: z.array(z.string().min(1)).optional(),
    clock_skew_s: z.number().int().nonnegative().default(30),
    // gateway: what tapwire calls the upstream with instead of the client's token.
    upstream_auth: upstreamAuthSchema.optional(),
  })
  .superRefine((auth, ctx) => {
    if (auth.mode === 'passthrough') {
      for (const field of GATEWAY_ONLY) {
        if (auth[field] !== undefined) ctx.addIssue({ code: 'custom', path: [field], message: `only mode gateway has ${field} (passthrough forwards the client's token as it is)` });
      }
      return;
    }
    if (auth.issuer === undefined) ctx.addIssue({ code: 'custom', path: ['issuer'], message: 'missing: the authorization server whose tokens this route accepts' });
    if ((auth.jwks_url === undefined) === (auth.introspection === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['jwks_url'], message: 'give exactly one of jwks_url (JWT access tokens) and introspection (opaque tokens)' });
    }
  });

export type McpAuthConfig = z.infer<typeof mcpAuthSchema>;
export type UpstreamAuthConfig = NonNullable<McpAuthConfig['upstream_auth']>;
