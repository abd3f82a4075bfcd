// Which proxied traffic tapwire opens, and which route takes it: an origin is intercepted when
// proxy.intercept lists its host and a forwarded route's upstream is on that origin; a
// request on it goes through the route whose upstream base path is the longest prefix of
// its path, rewritten to the base-URL form (/<route><rest>) the agent listener takes.
import type { ProxyConfig } from '../config/config.js';
import { hostMatches } from '../config/config.js';
import type { Route } from '../protocols/route.js';

/** An origin tapwire intercepts, and the routes whose upstream is on it (longest base path first). */
export interface InterceptedOrigin {
  /** e.g. "https://api.openai.com" */
  origin: string;
  /** The host as the agent named it (lower case, no brackets). */
  host: string;
  routes: Route[];
}

/** The base-URL form of a proxied request: what `/<route><rest>` the agent listener would have got. */
export interface RoutedPath {
  route: Route;
  url: string;
}

export class InterceptTable {
  private readonly origins = new Map<string, InterceptedOrigin>();

  constructor(
    private readonly proxy: ProxyConfig,
    forwarded: ReadonlyMap<string, Route>,
  ) {
    for (const route of forwarded.values()) {
      const host = bare(route.upstream.hostname);
      if (!this.listed(host)) continue;
      const entry = this.origins.get(route.upstream.origin) ?? { origin: route.upstream.origin, host, routes: [] };
      entry.routes.push(route);
      this.origins.set(route.upstream.origin, entry);
    }
    for (const entry of this.origins.values()) entry.routes.sort((a, b) => b.basePath.length - a.basePath.length);
  }

  /** True when proxy.intercept names `host` (its traffic is then never tunnelled). */
  listed(host: string): boolean {
    const h = bare(host.toLowerCase());
    return this.proxy.intercept.some((pattern) => hostMatches(pattern, h));
  }

  /** The intercepted origin for scheme ("https:" for CONNECT), host and port, or null. */
  originOf(scheme: 'http:' | 'https:', host: string, port: number): InterceptedOrigin | null {
    const h = bare(host.toLowerCase());
    const defaultPort = scheme === 'https:' ? 443 : 80;
    const authority = h.includes(':') ? `[${h}]` : h;
    return this.origins.get(`${scheme}//${authority}${port === defaultPort ? '' : `:${port}`}`) ?? null;
  }

  /** The route a request to `target` (origin-form path and query) on `origin` goes through, or null. */
  static route(origin: InterceptedOrigin, target: string): RoutedPath | null {
    const path = target.split('?', 1)[0]!;
    for (const route of origin.routes) {
      const base = route.basePath;
      if (base !== '' && path !== base && !path.startsWith(`${base}/`)) continue;
      return { route, url: `/${route.name}${target.slice(base.length)}` };
    }
    return null;
  }
}

/** A host without the brackets of an IPv6 literal. */
function bare(host: string): string {
  return host.replace(/^\[|\]$/g, '');
}
