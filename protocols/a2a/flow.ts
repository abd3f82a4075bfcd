// The A2A flow's entry points for the sidecar: card discovery at the sidecar's root (clients
// given `http://tapwire/planner` without a trailing slash look for the card at the root),
// the pre-0.3 `agent.json` path mapped to `agent-card.json` when the upstream has no
// agent.json, what a call is (read once, for the gate and the observer), and one observer per
// call, sharing what is known of each route's agent.
import type { IncomingMessage } from 'node:http';
import type { Route } from '../route.js';
import type { RecordSink } from '../observer.js';
import { AgentDirectory } from './directory.js';
import { A2aObserver } from './observer.js';
import { CardSignatureVerifier } from './signatures.js';
import { AGENT_CARD_PATH, describeCall, OLD_AGENT_CARD_PATH, versionHeader, type A2aCall } from './wire.js';

export type RootCardAnswer =
  | { kind: 'route'; name: string; rest: string }
  | { kind: 'error'; status: number; body: unknown };

/** True for a request for an agent card at the sidecar's root ("/.well-known/agent-card.json" or ".../agent.json"). */
export function isRootCardRequest(url: string): boolean {
  const path = url.split('?', 1)[0]!;
  return path === AGENT_CARD_PATH || path === OLD_AGENT_CARD_PATH;
}

/**
 * The root card request answered by the only A2A route, or an error that tells the user
 * what to give their client instead.
 */
export function rootCard(url: string, a2aRoutes: readonly string[], sidecarUrl: string): RootCardAnswer {
  if (a2aRoutes.length === 1) return { kind: 'route', name: a2aRoutes[0]!, rest: url };
  const routes = a2aRoutes.map((name) => `${sidecarUrl}/${name}/`);
  const message =
    a2aRoutes.length === 0
      ? 'tapwire has no a2a route, so it serves no agent card at its root'
      : `tapwire has ${a2aRoutes.length} a2a routes; give your A2A client the route's URL with a trailing slash, so it finds that route's card: ${routes.join(', ')}`;
  return { kind: 'error', status: 404, body: { error: { code: 'ambiguous_agent_card', message, a2a_routes: routes } } };
}

export interface PrepareInput {
  req: IncomingMessage;
  route: Route;
  /** The path and query after the route segment. */
  rest: string;
  /** What the call is (see describe). */
  call: A2aCall;
  sink: RecordSink;
}

export class A2aFlow {
  private readonly directory = new AgentDirectory();
  private readonly verifier: CardSignatureVerifier;
  /** Routes whose upstream answered 404 for agent.json: their agent.json requests go to agent-card.json. */
  private readonly noOldCard = new Map<string, boolean>();

  constructor(options: { keyFetchTimeoutMs?: number } = {}) {
    this.verifier = new CardSignatureVerifier(options.keyFetchTimeoutMs);
  }

  /** What kind of A2A call a request is (`path`: under the route, without the query), with what is known of the route's agent. */
  describe(req: IncomingMessage, route: Route, path: string, body: Buffer | null): A2aCall {
    return describeCall({
      httpMethod: req.method ?? 'GET',
      path,
      a2aVersion: versionHeader(req.headers['a2a-version']),
      body,
      restBases: this.directory.restPaths(route.name),
    });
  }

  /** The observer for one call, and the path to forward it to (agent.json may become agent-card.json). */
  async prepare({ req, route, rest, call, sink }: PrepareInput): Promise<{ observer: A2aObserver; path: string }> {
    const httpMethod = req.method ?? 'GET';
    const [pathOnly, query] = splitQuery(rest);
    let path = rest;
    let cardPathServed: string | undefined;
    if (httpMethod === 'GET' && pathOnly.endsWith(OLD_AGENT_CARD_PATH) && (await this.upstreamLacksOldCard(route, pathOnly, req))) {
      cardPathServed = pathOnly.slice(0, -OLD_AGENT_CARD_PATH.length) + AGENT_CARD_PATH;
      path = cardPathServed + query;
    }
    const observer = new A2aObserver({
      route,
      call,
      a2aVersion: versionHeader(req.headers['a2a-version']),
      routeUrl: `${publicOrigin(req)}/${encodeURIComponent(route.name)}`,
      signedCards: route.config.signed_cards ?? 'strip',
      directory: this.directory,
      verifier: this.verifier,
      sink,
      ...(cardPathServed ? { cardPathServed } : {}),
    });
    return { observer, path };
  }

  /** Asks the upstream once per route whether it serves agent.json. */
  private async upstreamLacksOldCard(route: Route, pathOnly: string, req: IncomingMessage): Promise<boolean> {
    const known = this.noOldCard.get(route.name);
    if (known !== undefined) return known;
    try {
      const headers: Record<string, string> = { accept: 'application/json' };
      const version = versionHeader(req.headers['a2a-version']);
      if (version) headers['a2a-version'] = version;
      for (const [name, value] of Object.entries(route.config.headers)) headers[name.toLowerCase()] = value;
      const response = await route.pool.request({ method: 'GET', path: route.basePath + pathOnly, headers, headersTimeout: 5000, bodyTimeout: 5000 });
      await response.body.dump();
      const lacks = response.statusCode === 404;
      this.noOldCard.set(route.name, lacks);
      return lacks;
    } catch {
      return false; // the forward itself will report the upstream's failure
    }
  }
}

function splitQuery(rest: string): [string, string] {
  const q = rest.indexOf('?');
  return q === -1 ? [rest, ''] : [rest.slice(0, q), rest.slice(q)];
}

/** The origin the agent used to reach tapwire (its Host header), for URLs that point back at tapwire. */
function publicOrigin(req: IncomingMessage): string {
  if (req.headers.host) return `http://${req.headers.host}`;
  const address = req.socket.localAddress ?? '127.0.0.1';
  return `http://${address.includes(':') ? `[${address}]` : address}:${req.socket.localPort}`;
}
