// The metadata a client discovers through tapwire. Protected-resource metadata: a gateway
// route's own (tapwire is the resource, its issuer the authorization server); a passthrough
// route's is the upstream's, presented with `resource` set to the route's URL on tapwire only
// when it names the upstream itself: metadata naming any other resource passes unchanged, so
// the client still sees, and refuses, the mismatch. Authorization-server metadata is relayed
// unchanged: its endpoints, registration included, stay with the real authorization server.
import { fetchJson, type JsonAnswer } from './fetch-json.js';
import { insertedWellKnown, RESOURCE_METADATA } from './well-known.js';

/**
 * True when metadata's `resource` names the upstream: the same origin, and the upstream's
 * path at or under the resource's path (the check SDK clients make against the URL they use).
 */
export function namesUpstream(resource: unknown, upstream: URL): boolean {
  if (typeof resource !== 'string') return false;
  let named: URL;
  try {
    named = new URL(resource);
  } catch {
    return false;
  }
  const withSlash = (path: string): string => (path.endsWith('/') ? path : `${path}/`);
  return named.origin === upstream.origin && withSlash(upstream.pathname).startsWith(withSlash(named.pathname));
}

/** The upstream's protected-resource metadata: path-suffixed first, then at its root (RFC 9728 §3.1, as clients try them). */
export async function upstreamResourceMetadata(upstream: URL, timeoutMs: number): Promise<JsonAnswer> {
  const headers = { accept: 'application/json' };
  const suffixed = await fetchJson(insertedWellKnown(upstream, RESOURCE_METADATA), { headers }, timeoutMs);
  if (suffixed.status < 400 || suffixed.status >= 500 || upstream.pathname.replace(/\/+$/, '') === '') return suffixed;
  return fetchJson(new URL(RESOURCE_METADATA, upstream.origin), { headers }, timeoutMs);
}

/** The upstream's metadata as the client gets it from tapwire (see the file's comment). */
export function presentedResourceMetadata(metadata: Record<string, unknown>, upstream: URL, routeUrl: string): Record<string, unknown> {
  return namesUpstream(metadata.resource, upstream) ? { ...metadata, resource: routeUrl } : metadata;
}

/** A gateway route's protected-resource metadata: tapwire is the resource, `issuer` its authorization server. */
export function gatewayResourceMetadata(resource: string, issuer: string, scopes: readonly string[] | undefined): Record<string, unknown> {
  return { resource, authorization_servers: [issuer], bearer_methods_supported: ['header'], ...(scopes && scopes.length > 0 ? { scopes_supported: scopes } : {}) };
}

/**
 * An authorization server's metadata, where RFC 8414 and OpenID Connect discovery put it
 * (the order SDK clients try): the first answer that is not a 4xx.
 */
export async function authorizationServerMetadata(issuer: URL, timeoutMs: number): Promise<JsonAnswer> {
  const candidates = [insertedWellKnown(issuer, '/.well-known/oauth-authorization-server'), insertedWellKnown(issuer, '/.well-known/openid-configuration')];
  if (issuer.pathname.replace(/\/+$/, '') !== '') candidates.push(new URL(`${issuer.pathname.replace(/\/+$/, '')}/.well-known/openid-configuration`, issuer.origin));
  let answer: JsonAnswer = { status: 404, json: null };
  for (const url of candidates) {
    answer = await fetchJson(url, { headers: { accept: 'application/json' } }, timeoutMs);
    if (answer.status < 400 || answer.status >= 500) return answer;
  }
  return answer;
}
