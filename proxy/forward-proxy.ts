// tapwire as the agents' HTTPS_PROXY (proxy: in tapwire.yaml, docs/intercept.md). A CONNECT
// to an intercepted origin is answered with TLS under a leaf from tapwire's local CA, and the
// requests inside go through the route whose upstream is that origin, rewritten to the
// base-URL form, exactly as if the agent had used the base URL; so do absolute-form http://
// requests to an intercepted origin. Any other CONNECT is refused, or with `otherwise:
// tunnel` tunnelled untouched and recorded as a tunnel without content. Nothing reaches
// tapwire's own listeners through it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import type { Config, ProxyConfig } from '../config/config.js';
import { blankExchange } from '../core/exchange.js';
import type { Logger } from '../core/log.js';
import type { TraceStarter } from '../core/trace-context.js';
import type { RecordSink } from '../protocols/observer.js';
import type { LocalCa } from './ca.js';
import { hasDotSegment, isLoopbackHost, type InboundGuard, type Refusal } from './inbound.js';
import { InterceptTable, type InterceptedOrigin } from './intercepts.js';
import { AgentListener } from './listener.js';
import { sendJson } from './responses.js';

/** The route name tunnels are recorded under: no configured route can have it (names start with a letter or digit). */
export const TUNNEL_ROUTE = '_tunnel';

export interface ForwardProxyParts {
  config: Config & { proxy: ProxyConfig };
  log: Logger;
  guard: InboundGuard;
  intercepts: InterceptTable;
  ca: LocalCa;
  sink: RecordSink;
  traces: TraceStarter;
  /** Serves a request whose url is in the base-URL form (/<route><rest>), as the agent listener does after its guard. */
  serve: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  /** True for a request (url in the base-URL form) whose response stays open as long as the agent keeps it. */
  isStanding: (url: string, req: IncomingMessage) => boolean;
  /** The ports tapwire listens on (this proxy's among them): never reached through the proxy. */
  ownPorts: ReadonlySet<number>;
}

/** A proxied request: its base-URL form, or why it is refused. */
type Resolution = { url: string } | { refusal: Refusal };

const TUNNEL_CONNECT_TIMEOUT_MS = 10_000;

export class ForwardProxy {
  readonly listener: AgentListener;
  /** The decrypted connections, and the origin each was opened for. */
  private readonly opened = new WeakMap<Duplex, InterceptedOrigin>();
  private readonly resolved = new WeakMap<IncomingMessage, Resolution>();
  /** Open tunnels: each promise resolves once its record is handed over. */
  private readonly tunnels = new Map<Socket, Promise<void>>();

  constructor(private readonly parts: ForwardProxyParts) {
    this.listener = new AgentListener({
      config: parts.config,
      log: parts.log,
      handle: (req, res) => this.handle(req, res),
      isStanding: (req) => {
        const resolution = this.resolve(req);
        return 'url' in resolution && parts.isStanding(resolution.url, req);
      },
    });
    this.listener.server.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => this.onConnect(req, socket, head));
  }

  /** Ends the tunnels, drains the decrypted requests as the agent listener drains its own, and waits for every record. */
  async drain(deadlineMs: number): Promise<void> {
    for (const socket of this.tunnels.keys()) socket.destroy();
    await Promise.all([this.listener.drain(deadlineMs), ...this.tunnels.values()]);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const resolution = this.resolve(req);
    if ('refusal' in resolution) {
      const { status, code, message } = resolution.refusal;
      this.parts.log.warn({ refused: code, status, target: req.url?.slice(0, 200) }, 'proxy request refused');
      if (status === 407) res.setHeader('proxy-authenticate', 'Basic realm="tapwire"');
      return sendJson(res, status, { error: { code, message } });
    }
    req.url = resolution.url;
    return this.parts.serve(req, res);
  }

  private resolve(req: IncomingMessage): Resolution {
    let resolution = this.resolved.get(req);
    if (!resolution) {
      resolution = this.resolveOnce(req);
      this.resolved.set(req, resolution);
    }
    return resolution;
  }

  /** Where a request on the proxy listener goes: inside an intercepted connection, or absolute-form http://. */
  private resolveOnce(req: IncomingMessage): Resolution {
    const target = req.url ?? '';
    let origin = this.opened.get(req.socket) ?? null;
    let path: string;
    if (origin) {
      if (!target.startsWith('/')) return refused(400, 'not_origin_form', 'inside an intercepted connection the request target must be a path');
      // The connection was opened for one origin: a request naming another does not ride on it.
      const host = hostPortOf(req.headers.host ?? '', 443);
      if (!host || `https://${authority(host.host, host.port, 443)}` !== origin.origin) {
        return refused(421, 'misdirected_request', `this connection was opened for ${origin.origin}, not Host ${JSON.stringify(req.headers.host ?? '')}`);
      }
      path = target;
      // tapwire's own token, should an agent send it here too, is never forwarded or recorded.
      const tokenHeader = this.parts.guard.tokenHeader;
      if (tokenHeader) delete req.headers[tokenHeader];
    } else {
      const auth = this.parts.guard.checkProxy(req);
      if (auth) return { refusal: auth };
      const absolute = /^http:\/\/([^/?#]*)(.*)$/i.exec(target);
      if (!absolute) {
        return refused(400, 'not_a_proxy_request', "this is tapwire's proxy listener: it takes CONNECT and absolute-form http:// requests to intercepted hosts (base URLs go to tapwire's listen address)");
      }
      const host = hostPortOf(absolute[1]!, 80);
      if (!host) return refused(400, 'bad_authority', `cannot read the host of ${JSON.stringify(target.slice(0, 100))}`);
      const problem = this.ownTarget(host.host, host.port);
      if (problem) return { refusal: problem };
      origin = this.parts.intercepts.originOf('http:', host.host, host.port);
      if (!origin) return { refusal: this.notIntercepted(host.host, host.port, 'http') };
      path = absolute[2]!.startsWith('/') ? absolute[2]! : `/${absolute[2]!}`;
    }
    if (hasDotSegment(path.split('?', 1)[0]!)) {
      return refused(400, 'dot_segment', 'the path has a "." or ".." segment (perhaps percent-encoded): tapwire forwards only paths under a route');
    }
    const routed = InterceptTable.route(origin, path);
    if (!routed) return refused(404, 'no_route_for_path', `no route's upstream on ${origin.origin} has a base path ${JSON.stringify(path.split('?', 1)[0])} is under`);
    return { url: routed.url };
  }

  private onConnect(req: IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on('error', (err) => this.parts.log.debug({ err }, 'a proxy client connection failed'));
    const auth = this.parts.guard.checkProxy(req);
    if (auth) return answerConnect(socket, auth);
    const host = hostPortOf(req.url ?? '', -1);
    if (!host || host.port < 1) return answerConnect(socket, { status: 400, code: 'bad_authority', message: 'CONNECT takes host:port' });
    const own = this.ownTarget(host.host, host.port);
    if (own) return answerConnect(socket, own);
    const origin = this.parts.intercepts.originOf('https:', host.host, host.port);
    if (origin) return this.intercept(socket, head, origin);
    if (this.parts.config.proxy.otherwise === 'tunnel' && !this.parts.intercepts.listed(host.host)) return this.tunnel(socket, head, host.host, host.port);
    const refusal = this.notIntercepted(host.host, host.port, 'https');
    this.parts.log.warn({ refused: refusal.code, target: `${host.host}:${host.port}` }, 'proxy CONNECT refused');
    answerConnect(socket, refusal);
  }

  /** Answers the CONNECT, then serves the TLS inside it as the agent listener serves plain HTTP. */
  private intercept(socket: Socket, head: Buffer, origin: InterceptedOrigin): void {
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length > 0) socket.unshift(head);
    const tls = new TLSSocket(socket, { isServer: true, secureContext: this.parts.ca.contextFor(origin.host), ALPNProtocols: ['http/1.1'] });
    this.opened.set(tls, origin);
    this.listener.server.emit('connection', tls);
  }

  /** Connects to host:port and passes bytes both ways untouched; the record has the byte counts, never the content. */
  private tunnel(client: Socket, head: Buffer, host: string, port: number): void {
    const { config, sink, traces } = this.parts;
    const t0 = performance.now();
    const exchange = blankExchange({ agent: config.agent.name, route: TUNNEL_ROUTE, protocol: 'http' });
    exchange.method = `CONNECT ${authority(host, port, -1)}`;
    exchange.target = authority(host, port, -1);
    traces.begin(exchange, null);
    const upstream = connect({ host, port, timeout: TUNNEL_CONNECT_TIMEOUT_MS });
    let opened = false;
    const recorded = new Promise<void>((resolve) => {
      let closed = 0;
      const finish = (): void => {
        if (++closed < 2) return;
        exchange.ended_at = Date.now();
        exchange.duration_ms = Math.round((performance.now() - t0) * 1000) / 1000;
        exchange.request_bytes = upstream.bytesWritten;
        exchange.response_bytes = upstream.bytesRead;
        sink({ exchange, request: null, response: null, events: [] });
        this.tunnels.delete(client);
        resolve();
      };
      client.once('close', finish);
      upstream.once('close', finish);
    });
    this.tunnels.set(client, recorded);
    const fail = (status: number, code: string, message: string, outcome: 'error' | 'denied' = 'error'): void => {
      exchange.status = outcome;
      exchange.http_status = status;
      exchange.error_code = code;
      exchange.error_message = message;
      if (!opened) answerConnect(client, { status, code, message });
      else client.destroy();
      upstream.destroy();
    };
    upstream.once('timeout', () => fail(504, 'upstream_connect_timeout', `could not connect to ${exchange.target} within ${TUNNEL_CONNECT_TIMEOUT_MS} ms`));
    upstream.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code ?? err.message;
      // Once open, the tunnel was answered 200: what failed is the connection, not the reach.
      if (opened) fail(200, 'tunnel_broken', `the connection to ${exchange.target} broke after the tunnel opened: ${why}`);
      else fail(502, 'upstream_unreachable', `cannot reach ${exchange.target}: ${why}`);
    });
    client.once('close', () => upstream.destroy());
    upstream.once('connect', () => {
      // A name that resolves to this machine must not open a way around tapwire's own guards.
      const reached = upstream.remoteAddress ?? '';
      if (this.parts.ownPorts.has(port) && isLocalAddress(reached)) {
        return fail(403, 'own_listener', 'the proxy does not reach tapwire itself', 'denied');
      }
      upstream.setTimeout(0);
      opened = true;
      exchange.http_status = 200;
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      client.pipe(upstream).pipe(client);
    });
  }

  /** A refusal when host:port is one of tapwire's own listeners, else null. */
  private ownTarget(host: string, port: number): Refusal | null {
    if (!this.parts.ownPorts.has(port) || !isLocalAddress(host)) return null;
    return { status: 403, code: 'own_listener', message: "the proxy does not reach tapwire's own listeners" };
  }

  private notIntercepted(host: string, port: number, scheme: 'http' | 'https'): Refusal {
    const where = authority(host, port, -1);
    if (this.parts.intercepts.listed(host)) {
      return { status: 403, code: 'no_route_for_origin', message: `${host} is intercepted, but no route's upstream is ${scheme}://${where}` };
    }
    return { status: 403, code: 'not_intercepted', message: `${host} is not in proxy.intercept: tapwire's proxy refuses it` };
  }
}

function refused(status: number, code: string, message: string): Resolution {
  return { refusal: { status, code, message } };
}

/** Answers a CONNECT that is not opened, and closes the connection. */
function answerConnect(socket: Socket, { status, code, message }: Refusal): void {
  const body = JSON.stringify({ error: { code, message } });
  const challenge = status === 407 ? 'Proxy-Authenticate: Basic realm="tapwire"\r\n' : '';
  socket.end(`HTTP/1.1 ${status} ${code}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${challenge}Connection: close\r\n\r\n${body}`);
}

/** "host:port", "[v6]:port" or, with `defaultPort` >= 0, a bare host; null when unreadable. */
function hostPortOf(text: string, defaultPort: number): { host: string; port: number } | null {
  const match = /^(\[[0-9a-f:.]+\]|[^:[\]\s/]+)(?::(\d{1,5}))?$/i.exec(text.trim());
  if (!match) return null;
  const port = match[2] === undefined ? defaultPort : Number(match[2]);
  if (port > 65535 || (match[2] === undefined && defaultPort < 0)) return null;
  return { host: match[1]!.replace(/^\[|\]$/g, '').toLowerCase(), port };
}

/** host:port as written in a URL, the port left out when it is `defaultPort`. */
function authority(host: string, port: number, defaultPort: number): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return port === defaultPort ? h : `${h}:${port}`;
}

/** True for a loopback host or an address of this machine's interfaces (tapwire may listen on any). */
function isLocalAddress(host: string): boolean {
  const h = host.replace(/^::ffff:/, '');
  if (isLoopbackHost(h) || h === '0.0.0.0' || h === '::') return true;
  return Object.values(networkInterfaces()).some((addresses) => addresses?.some((a) => a.address === h));
}
