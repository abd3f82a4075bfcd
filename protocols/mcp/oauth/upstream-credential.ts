// What a gateway route calls its upstream with instead of the client's token: static headers,
// an OAuth client-credentials token of the route's own (fetched once, shared, refreshed before
// it expires), or an RFC 8693 exchange of the client's token for one meant for the upstream
// (cached per client token until it expires). Token endpoint failures name the endpoint and
// its error code, never a token.
import { createHash } from 'node:crypto';
import type { HeaderMap } from '../../../core/headers.js';
import type { UpstreamAuthConfig } from '../../../config/mcp-auth.js';
import { formPost } from './fetch-json.js';

/** A token is renewed this long before it expires, so none expires on its way upstream. */
const RENEW_BEFORE_MS = 30_000;
/** Exchanged tokens kept at most (the oldest go first). */
const MAX_EXCHANGED = 1000;

export interface UpstreamCredential {
  /** The headers for one upstream call made for the client holding `clientToken`. */
  headers(clientToken: string): Promise<HeaderMap>;
  /** The upstream refused the credential (401): a cached token is fetched again next time. */
  refused(): void;
}

interface Held {
  token: string;
  expiresAt: number;
}

type TokenEndpoint = NonNullable<UpstreamAuthConfig['client_credentials']>;

export class UpstreamCredentialError extends Error {
  override readonly name = 'UpstreamCredentialError';
}

export function upstreamCredential(config: UpstreamAuthConfig, timeoutMs: number): UpstreamCredential {
  if (config.headers) {
    const headers = Object.fromEntries(Object.entries(config.headers).map(([name, value]) => [name.toLowerCase(), value]));
    return { headers: () => Promise.resolve(headers), refused: () => undefined };
  }
  if (config.client_credentials) return new ClientCredentials(config.client_credentials, timeoutMs);
  return new TokenExchange(config.token_exchange!, timeoutMs);
}

/** Asks a token endpoint for an access token; the answer's lifetime (expires_in, default an hour) sets when it is renewed. */
async function requestToken(endpoint: TokenEndpoint, form: Record<string, string | undefined>, timeoutMs: number): Promise<Held> {
  const asked = Date.now();
  let answer;
  try {
    answer = await formPost(endpoint.token_url, endpoint, { ...form, scope: endpoint.scope, resource: endpoint.resource, audience: endpoint.audience }, timeoutMs);
  } catch (err) {
    throw new UpstreamCredentialError(`the token endpoint ${endpoint.token_url} could not be reached: ${(err as Error).message}`);
  }
  const token = answer.json?.access_token;
  if (answer.status !== 200 || typeof token !== 'string') {
    const code = typeof answer.json?.error === 'string' ? ` (${answer.json.error})` : '';
    throw new UpstreamCredentialError(`the token endpoint ${endpoint.token_url} answered ${answer.status}${code}`);
  }
  const lifetime = typeof answer.json?.expires_in === 'number' ? answer.json.expires_in : 3600;
  return { token, expiresAt: asked + lifetime * 1000 };
}

function fresh(held: Held | undefined): held is Held {
  return held !== undefined && held.expiresAt - RENEW_BEFORE_MS > Date.now();
}

class ClientCredentials implements UpstreamCredential {
  private held: Held | undefined;
  private pending: Promise<Held> | null = null;

  constructor(
    private readonly endpoint: TokenEndpoint,
    private readonly timeoutMs: number,
  ) {}

  async headers(): Promise<HeaderMap> {
    if (!fresh(this.held)) {
      // Calls that find the token stale together share one request for the next.
      this.pending ??= requestToken(this.endpoint, { grant_type: 'client_credentials' }, this.timeoutMs).finally(() => {
        this.pending = null;
      });
      this.held = await this.pending;
    }
    return { authorization: `Bearer ${this.held.token}` };
  }

  refused(): void {
    this.held = undefined;
  }
}

class TokenExchange implements UpstreamCredential {
  /** By the client token's SHA-256, so the map holds no client token. */
  private readonly held = new Map<string, Held>();

  constructor(
    private readonly endpoint: TokenEndpoint,
    private readonly timeoutMs: number,
  ) {}

  async headers(clientToken: string): Promise<HeaderMap> {
    const key = createHash('sha256').update(clientToken).digest('base64url');
    let held = this.held.get(key);
    if (!fresh(held)) {
      held = await requestToken(
        this.endpoint,
        {
          grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
          subject_token: clientToken,
          subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
          requested_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        },
        this.timeoutMs,
      );
      this.held.delete(key);
      this.held.set(key, held);
      if (this.held.size > MAX_EXCHANGED) this.held.delete(this.held.keys().next().value!);
    }
    return { authorization: `Bearer ${held.token}` };
  }

  refused(): void {
    this.held.clear();
  }
}
