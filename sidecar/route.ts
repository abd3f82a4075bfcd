// A route at run time: its config plus the pooled keep-alive connections to its upstream.
import { Pool } from 'undici';
import type { RouteConfig } from './config.js';

export class Route {
  readonly pool: Pool;
  readonly upstream: URL;
  /** The upstream URL's path without its trailing slash, prefixed to every forwarded path. */
  readonly basePath: string;

  constructor(
    readonly name: string,
    readonly config: RouteConfig,
  ) {
    this.upstream = new URL(config.upstream);
    this.basePath = this.upstream.pathname.replace(/\/+$/, '');
    this.pool = new Pool(this.upstream.origin, {
      connect: { timeout: config.timeouts.connect_ms },
      headersTimeout: config.timeouts.response_ms,
      bodyTimeout: config.timeouts.idle_ms,
      keepAliveTimeout: 30_000,
    });
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
