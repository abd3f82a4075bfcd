// A gateway route's check of the client's access token: a JWT verified with jose against the
// issuer's JWKS, or an opaque token asked about at the issuer's introspection endpoint
// (RFC 7662). Either way the token must come from the route's issuer, name the route's
// audience (RFC 8707: the route's URL on tapwire unless configured), and be unexpired.
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { McpAuthConfig } from '../../../config/mcp-auth.js';
import { formPost } from './fetch-json.js';

export type TokenCheck = { claims: Record<string, unknown> } | { problem: string };

export class TokenVerifier {
  private readonly keys: ReturnType<typeof createRemoteJWKSet> | null;

  constructor(
    private readonly auth: McpAuthConfig,
    private readonly timeoutMs: number,
  ) {
    this.keys = auth.jwks_url ? createRemoteJWKSet(new URL(auth.jwks_url), { timeoutDuration: timeoutMs }) : null;
  }

  /** The token's claims, or why it is refused (never the token itself). */
  async check(token: string, audience: string): Promise<TokenCheck> {
    if (this.keys) {
      try {
        const { payload } = await jwtVerify(token, this.keys, {
          issuer: this.auth.issuer!,
          audience,
          clockTolerance: this.auth.clock_skew_s,
          requiredClaims: ['exp'],
        });
        return { claims: payload };
      } catch (err) {
        return { problem: `the token is not valid here: ${(err as Error).message}` };
      }
    }
    return this.introspect(token, audience);
  }

  private async introspect(token: string, audience: string): Promise<TokenCheck> {
    const endpoint = this.auth.introspection!;
    let answer;
    try {
      answer = await formPost(endpoint.url, endpoint, { token, token_type_hint: 'access_token' }, this.timeoutMs);
    } catch (err) {
      return { problem: `the token could not be introspected: ${(err as Error).message}` };
    }
    const claims = answer.json;
    if (answer.status !== 200 || !claims) return { problem: `the introspection endpoint answered ${answer.status}` };
    if (claims.active !== true) return { problem: 'the token is not active' };
    if (claims.iss !== undefined && claims.iss !== this.auth.issuer) return { problem: `the token was issued by ${JSON.stringify(claims.iss)}, not ${this.auth.issuer}` };
    const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!audiences.includes(audience)) return { problem: `the token is not meant for ${audience}` };
    if (typeof claims.exp === 'number' && claims.exp + this.auth.clock_skew_s < Date.now() / 1000) return { problem: 'the token has expired' };
    return { claims };
  }
}
