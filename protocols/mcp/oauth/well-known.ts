// The discovery URLs tapwire answers for its MCP routes with auth, and the URLs it names:
// protected-resource metadata (RFC 9728) path-suffixed (/.well-known/oauth-protected-resource/<route>)
// and at the root, and authorization-server metadata (RFC 8414, OpenID Connect discovery) that
// 2025-03-26 clients look for at the MCP server's origin.

export const RESOURCE_METADATA = '/.well-known/oauth-protected-resource';
const AUTHORIZATION_SERVER_METADATA = ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration'];

export type WellKnown =
  | { kind: 'resource' | 'authorization-server'; route: string }
  | { kind: 'ambiguous' | 'unknown'; message: string };

/**
 * What a request path asks for, or null when it is no discovery URL: the route after the
 * well-known prefix (anything under the route is the same resource), or, at the bare
 * prefix, the one route with auth.
 */
export function wellKnownOf(path: string, routes: readonly string[]): WellKnown | null {
  const prefix = [RESOURCE_METADATA, ...AUTHORIZATION_SERVER_METADATA].find((p) => path === p || path.startsWith(`${p}/`));
  if (prefix === undefined) return null;
  const kind = prefix === RESOURCE_METADATA ? 'resource' : 'authorization-server';
  const route = path.slice(prefix.length + 1).split('/', 1)[0] ?? '';
  if (route === '') {
    if (routes.length === 1) return { kind, route: routes[0]! };
    return { kind: 'ambiguous', message: `tapwire has ${routes.length} routes with auth; ask ${prefix}/<route> (routes: ${routes.join(', ')})` };
  }
  if (routes.includes(route)) return { kind, route };
  return { kind: 'unknown', message: `tapwire has no route "${route}" with auth; routes with auth: ${routes.join(', ') || '(none)'}` };
}

/** The route's URL on tapwire, as the client reached it: the resource it asks a token for. */
export function routeUrl(host: string, route: string): string {
  return `http://${host}/${route}`;
}

/** Where tapwire serves the route's protected-resource metadata. */
export function resourceMetadataUrl(host: string, route: string): string {
  return `http://${host}${RESOURCE_METADATA}/${route}`;
}

/** RFC 9728 §3.1 / RFC 8414 §3.1: the well-known suffix inserted between a URL's origin and its path (the path's trailing slash dropped). */
export function insertedWellKnown(url: URL, suffix: string): URL {
  return new URL(`${suffix}${url.pathname.replace(/\/+$/, '')}`, url.origin);
}
