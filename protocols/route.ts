// A route forwarded over HTTP, at run time: its config plus the pooled keep-alive
// connections to its upstream, verified against the system's CAs and the route's `ca:` file.
// (Routes with a command are served by protocols/mcp/stdio-http.ts.)
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { Pool } from 'undici';
import type { AwsSigningConfig, UpstreamRouteConfig } from '../config/config.js';

export class Route {
  readonly pool: Pool;
  readonly upstream: URL;
  /** The upstream URL's path without its trailing slash, prefixed to every forwarded path. */
  readonly basePath: string;
  /** The AWS credentials its calls are re-signed with (a Bedrock route's `aws:`), or undefined: only llm routes have them. */
  readonly aws: AwsSigningConfig | undefined;

  constructor(
    readonly name: string,
    readonly config: UpstreamRouteConfig,
  ) {
    this.upstream = new URL(config.upstream);
    this.basePath = this.upstream.pathname.replace(/\/+$/, '');
    this.aws = config.aws;
    this.pool = new Pool(this.upstream.origin, {
      // A route's own CAs join the bundled ones (giving `ca` replaces the default list).
      connect: { timeout: config.timeouts.connect_ms, ...(config.ca === undefined ? {} : { ca: [...rootCertificates, readFileSync(config.ca, 'utf8')] }) },
      headersTimeout: config.timeouts.response_ms,
      bodyTimeout: config.timeouts.idle_ms,
      // Idle connections are closed before the server closes them, so a call never goes out
      // on a connection the server is closing (a reset the agent would see as a failed
      // call): 4 s before the server's Keep-Alive hint (Node servers: 5 s), and after 3 s
      // when there is none (Node servers answering an SSE stream send none, yet close idle
      // connections after 5 s).
      keepAliveTimeout: 3000,
      keepAliveTimeoutThreshold: 4000,
    });
  }

  /** The path sent upstream for `path` (what followed the route name; may be empty or a bare query). */
  upstreamPath(path: string): string {
    const joined = this.basePath + path;
    return joined.startsWith('/') ? joined : `/${joined}`;
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** What is wrong with a route's `ca:` file (unreadable, or no PEM certificate in it), or null. */
export function caFileProblem(file: string): string | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`;
  }
  return text.includes('-----BEGIN CERTIFICATE-----') ? null : `${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`;
}
