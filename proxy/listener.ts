// The HTTP listeners: the agents' one, which counts the requests in flight so a stop can let
// them finish up to a deadline (standing streams, which never finish by themselves, are ended
// at once), and the plain listen/address helpers both listeners use.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/config.js';
import type { Logger } from '../core/log.js';
import { sendJson } from './responses.js';

export interface AgentListenerOptions {
  config: Config;
  log: Logger;
  /** Handles one request: forwarding and recording included. */
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  /** True for a request whose response stays open as long as the agent keeps it. */
  isStanding: (req: IncomingMessage) => boolean;
}

/** The agents' listener, and the requests it is handling. */
export class AgentListener {
  readonly server: Server;
  /** Requests whose handling (forwarding and recording) has not finished. */
  private readonly handling = new Set<Promise<void>>();
  private readonly standing = new Set<ServerResponse>();
  private ordinary = 0;
  private onIdle: (() => void) | null = null;

  constructor({ config, log, handle, isStanding }: AgentListenerOptions) {
    this.server = createServer({ connectionsCheckingInterval: checkingInterval(config) }, (req, res) => {
      const standing = isStanding(req);
      if (standing) this.standing.add(res);
      else this.ordinary++;
      const handled = handle(req, res)
        .catch((err: unknown) => {
          log.error({ err }, 'request failed inside tapwire');
          if (!res.headersSent) sendJson(res, 500, { error: { code: 'tapwire_internal', message: 'tapwire failed to handle this request' } });
          else res.destroy();
        })
        .finally(() => {
          this.handling.delete(handled);
          if (standing) this.standing.delete(res);
          else if (--this.ordinary === 0) this.onIdle?.();
        });
      this.handling.add(handled);
    });
    this.server.keepAliveTimeout = 65_000;
    // Slow senders (slowloris) are answered 408 and cut: headers and whole requests have deadlines.
    this.server.headersTimeout = config.limits.headers_timeout_ms;
    this.server.requestTimeout = config.limits.request_timeout_ms;
  }

  /**
   * Stops accepting, ends the standing streams, lets the ordinary requests finish up to
   * `deadlineMs`, then cuts what is left; resolves once every request's handling (its
   * record included: a cut request records itself as aborted) is over.
   */
  async drain(deadlineMs: number): Promise<void> {
    this.server.close();
    this.server.closeIdleConnections();
    for (const res of this.standing) res.destroy();
    if (this.ordinary > 0) {
      const drained = new Promise<void>((resolve) => (this.onIdle = resolve));
      const deadline = new Promise<void>((resolve) => setTimeout(resolve, deadlineMs).unref());
      await Promise.race([drained, deadline]);
    }
    this.server.closeAllConnections();
    await Promise.all(this.handling);
  }
}

/** Listens on HOST:PORT (IPv6 hosts in brackets). */
export function listen(server: Server, address: string): Promise<void> {
  const [host, portText] = splitListen(address);
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(portText), host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** The base URL a listening server answers on. */
export function urlOf(server: Server): string {
  const address = server.address() as AddressInfo;
  return `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
}

export function splitListen(listen: string): [string, string] {
  const i = listen.lastIndexOf(':');
  return [listen.slice(0, i).replace(/^\[|\]$/g, ''), listen.slice(i + 1)];
}

/** How often node:http looks for requests past their deadlines: often enough for short ones. */
function checkingInterval(config: Config): number {
  return Math.max(50, Math.min(1000, Math.floor(config.limits.headers_timeout_ms / 4)));
}
