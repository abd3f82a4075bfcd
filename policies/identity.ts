// The agent's identity: a JWT it presents in a header, verified with jose against a JWKS (a
// file or a URL) with the configured issuer, audience and clock skew. Its claims become
// jwt.claims in policies; a route with require_identity refuses a call without a valid one.
// scopesOf reads a token's scopes, for identity.scopes and MCP routes' scope checks.
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { ConfigError, type Config } from '../config/config.js';

/**
 * A token's scopes: the space-separated `scope` claim (RFC 9068, RFC 7662), or a list in
 * `scope` or `scp` (Azure AD, Okta).
 */
export function scopesOf(claims: Readonly<Record<string, unknown>>): string[] {
  for (const value of [claims.scope, claims.scp]) {
    if (typeof value === 'string') return value.split(' ').filter((scope) => scope !== '');
    if (Array.isArray(value)) return value.filter((scope): scope is string => typeof scope === 'string');
  }
  return [];
}

export type IdentityConfig = NonNullable<Config['identity']>['jwt'];

export type Identity = { claims: JWTPayload } | { problem: string };

export class IdentityVerifier {
  readonly header: string;
  private readonly keys: ReturnType<typeof createLocalJWKSet> | ReturnType<typeof createRemoteJWKSet>;

  /** Reads a JWKS file at once (a bad one is a ConfigError); a JWKS URL is fetched when first needed, and cached. */
  constructor(private readonly config: IdentityConfig) {
    this.header = config.header.toLowerCase();
    if (/^https?:\/\//.test(config.jwks)) this.keys = createRemoteJWKSet(new URL(config.jwks));
    else {
      let jwks: JSONWebKeySet;
      try {
        jwks = JSON.parse(readFileSync(config.jwks, 'utf8')) as JSONWebKeySet;
        this.keys = createLocalJWKSet(jwks);
      } catch (err) {
        throw new ConfigError(`identity.jwt.jwks: cannot use ${config.jwks} as a JWKS: ${(err as Error).message}`);
      }
    }
  }

  /** Verifies the token in `headers`; the header is then removed, so it is never forwarded upstream. */
  async verify(headers: Record<string, string | string[] | undefined>): Promise<Identity> {
    const raw = headers[this.header];
    delete headers[this.header];
    const value = Array.isArray(raw) ? raw[0] : raw;
    const token = value?.replace(/^Bearer\s+/i, '').trim();
    if (!token) return { problem: `no identity token (the ${this.header} header)` };
    try {
      const { payload } = await jwtVerify(token, this.keys, {
        ...(this.config.issuer ? { issuer: this.config.issuer } : {}),
        ...(this.config.audience ? { audience: this.config.audience } : {}),
        clockTolerance: this.config.clock_skew_s,
      });
      return { claims: payload };
    } catch (err) {
      return { problem: `invalid identity token: ${(err as Error).message}` };
    }
  }
}
