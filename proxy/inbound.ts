// Who and what may come in: the listen rules (loopback unless agents must authenticate, or
// --insecure-listen says otherwise), the agents' token, the admin endpoints' token, and the
// checks that keep tapwire from being an open proxy or a door for web pages (origin-form
// request targets only, no dot segments however encoded, loopback Host and Origin when no
// token is asked for).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { ConfigError, type Config } from '../config/config.js';

export interface Refusal {
  status: number;
  code: string;
  message: string;
}

/** 127.0.0.0/8, ::1 (also as ::ffff:127.x), localhost and *.localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^::ffff:127\./.test(h);
  return false;
}

/** The host of a Host header or listen address, without its port. */
function hostOf(hostPort: string): string {
  const bracketed = /^\[([^\]]+)\]/.exec(hostPort);
  if (bracketed) return bracketed[1]!;
  const colon = hostPort.lastIndexOf(':');
  return colon === -1 || hostPort.indexOf(':') !== colon ? hostPort : hostPort.slice(0, colon);
}

/**
 * What is wrong with where the config listens, or null. Off loopback, agents must present a
 * token (auth.tokens) and the admin endpoints need admin.token, unless `insecure` (the
 * --insecure-listen flag) says to open them anyway.
 */
export function listenProblem(config: Config, insecure: boolean): string | null {
  if (insecure) return null;
  const problems: string[] = [];
  const agentsOpen = !isLoopbackHost(hostOf(config.listen));
  if (agentsOpen && !config.auth) {
    problems.push(`listen ${config.listen} is not a loopback address: configure auth.tokens (agents then send one in the auth.header header), or start with --insecure-listen`);
  }
  if (config.proxy && !isLoopbackHost(hostOf(config.proxy.listen)) && !config.auth) {
    problems.push(`proxy.listen ${config.proxy.listen} is not a loopback address: configure auth.tokens (agents then give one in HTTPS_PROXY=http://tapwire:<token>@host:port), or start with --insecure-listen`);
  }
  const adminListen = config.admin.listen ?? config.listen;
  if (!isLoopbackHost(hostOf(adminListen)) && !config.admin.token) {
    problems.push(`the admin endpoints (/_tapwire/*) would listen on ${adminListen}, not a loopback address: configure admin.token, give admin.listen a loopback address, or start with --insecure-listen`);
  }
  return problems.length > 0 ? problems.join('\n') : null;
}

/** Throws a ConfigError for a config that must not start (see listenProblem). */
export function checkListen(config: Config, insecure: boolean): void {
  const problem = listenProblem(config, insecure);
  if (problem) throw new ConfigError(problem);
}

/** True when --insecure-listen is what lets this config start: tapwire warns about it at every start. */
export function listensInsecurely(config: Config): boolean {
  return listenProblem(config, false) !== null;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Compares in constant time (equal-length digests), so a token cannot be guessed byte by byte. */
function matchesAny(presented: string, expected: readonly Buffer[]): boolean {
  const d = digest(presented);
  let found = false;
  for (const e of expected) found = timingSafeEqual(d, e) || found;
  return found;
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

const DOT_SEGMENT = /(^|\/)\.\.?(\/|$)/;

/**
 * True when a path has a "." or ".." segment, read the way a server downstream might read
 * it: "%2e" as ".", "%2f" and "\" as "/", decoded repeatedly (double encoding included).
 */
export function hasDotSegment(path: string): boolean {
  let current = path;
  for (let i = 0; i < 4; i++) {
    const normalised = current.replace(/\\/g, '/');
    if (DOT_SEGMENT.test(normalised)) return true;
    const decoded = normalised.replace(/%(2e|2f|5c|25)/gi, (escape) => decodeURIComponent(escape));
    if (decoded === current) return false;
    current = decoded;
  }
  return DOT_SEGMENT.test(current.replace(/\\/g, '/'));
}

export const ADMIN_PREFIX = '/_tapwire/';

export class InboundGuard {
  private readonly agentTokens: Buffer[];
  private readonly adminToken: Buffer | null;
  /** The header agents send their token in (lower case), or null when none is asked for. */
  readonly tokenHeader: string | null;
  /** No token is asked for on a loopback listener: only same-machine, non-browser callers may come in. */
  private readonly loopbackOnly: boolean;

  constructor(config: Config) {
    this.agentTokens = (config.auth?.tokens ?? []).map(digest);
    this.tokenHeader = config.auth ? config.auth.header.toLowerCase() : null;
    this.loopbackOnly = !config.auth && isLoopbackHost(hostOf(config.listen));
    this.adminToken = config.admin.token ? digest(config.admin.token) : null;
  }

  /** Checks a request to the agent listener; null lets it in (its token header removed). */
  checkAgent(req: IncomingMessage): Refusal | null {
    const target = req.url ?? '';
    if (!target.startsWith('/')) {
      return { status: 400, code: 'not_origin_form', message: `tapwire is not a forward proxy: the request target must be a path on tapwire, not ${JSON.stringify(target.slice(0, 100))}` };
    }
    const path = target.split('?', 1)[0]!;
    if (hasDotSegment(path)) {
      return { status: 400, code: 'dot_segment', message: 'the path has a "." or ".." segment (perhaps percent-encoded): tapwire forwards only paths under a route' };
    }
    if (this.loopbackOnly) {
      const refusal = this.checkLocal(req);
      if (refusal) return refusal;
    }
    if (this.tokenHeader && !path.startsWith(ADMIN_PREFIX)) {
      const presented = first(req.headers[this.tokenHeader])?.replace(/^Bearer\s+/i, '');
      // The token is tapwire's, not the upstream's: it is never forwarded or recorded.
      delete req.headers[this.tokenHeader];
      if (!presented || !matchesAny(presented, this.agentTokens)) {
        return { status: 401, code: 'unauthenticated', message: `tapwire needs a valid token in the ${this.tokenHeader} header` };
      }
    }
    return null;
  }

  /**
   * Checks a request to the proxy listener (a CONNECT or an absolute-form request): with
   * auth.tokens, Proxy-Authorization carries one (Basic with any user name, as
   * HTTPS_PROXY=http://tapwire:<token>@host sends it, or Bearer). It never travels on.
   */
  checkProxy(req: IncomingMessage): Refusal | null {
    const presented = proxyToken(first(req.headers['proxy-authorization']));
    delete req.headers['proxy-authorization'];
    if (!this.tokenHeader) return null;
    if (presented && matchesAny(presented, this.agentTokens)) return null;
    return { status: 407, code: 'proxy_unauthenticated', message: "tapwire's proxy needs a token: HTTPS_PROXY=http://tapwire:<token>@host:port" };
  }

  /**
   * Checks a request for /_tapwire/*: with admin.token configured, Authorization: Bearer
   * <admin.token>. (Off loopback, listenProblem insists on one unless --insecure-listen.)
   */
  checkAdmin(req: IncomingMessage): Refusal | null {
    if (!this.adminToken) return null;
    const presented = first(req.headers.authorization)?.replace(/^Bearer\s+/i, '');
    if (presented && matchesAny(presented, [this.adminToken])) return null;
    return { status: 401, code: 'unauthenticated', message: 'the admin endpoints need Authorization: Bearer <admin.token>' };
  }

  /**
   * A loopback listener without tokens trusts whoever can connect, so it refuses what a web
   * page could send it: a Host that is not loopback (DNS rebinding) and a cross-site Origin.
   */
  private checkLocal(req: IncomingMessage): Refusal | null {
    const host = req.headers.host;
    if (host !== undefined && !isLoopbackHost(hostOf(host))) {
      return { status: 403, code: 'host_not_allowed', message: `tapwire listens on loopback and answers only to a loopback Host, not ${JSON.stringify(host)}` };
    }
    const origin = first(req.headers.origin);
    if (origin !== undefined && !isLoopbackOrigin(origin)) {
      return { status: 403, code: 'origin_not_allowed', message: `tapwire refuses calls from web pages of another origin (${JSON.stringify(origin)}) unless auth.tokens is configured` };
    }
    return null;
  }
}

/** The token in a Proxy-Authorization value: Basic's password, or Bearer's token. */
function proxyToken(value: string | undefined): string | null {
  if (!value) return null;
  const bearer = /^Bearer\s+(.+)$/i.exec(value);
  if (bearer) return bearer[1]!.trim();
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(value.trim());
  if (!basic) return null;
  const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 ? null : decoded.slice(colon + 1);
}

function isLoopbackOrigin(origin: string): boolean {
  try {
    return isLoopbackHost(new URL(origin).hostname);
  } catch {
    return false;
  }
}
