// What tapwire knows of the remote agent behind each A2A route: its name (the `target` of
// every record) and its HTTP+JSON interface paths, learned from the cards that pass through.
// When no card has passed yet, the upstream's card is fetched once, in the background.
import type { Route } from '../route.js';
import { isAgentCard, restInterfacePaths } from './card.js';
import { AGENT_CARD_PATH } from './wire.js';
import { parseJson } from '../../core/json-body.js';

interface KnownAgent {
  name: string;
  /** HTTP+JSON interface paths relative to the route, e.g. "/a2a/rest". */
  restPaths: string[];
}

export class AgentDirectory {
  private readonly known = new Map<string, KnownAgent>();
  private readonly fetches = new Map<string, Promise<void>>();

  /** Learns the agent behind `route` from a card that passed through it; an extended card's name does not replace the public card's. */
  learn(route: Route, card: Record<string, unknown>, extended = false): void {
    if (typeof card.name !== 'string' || card.name === '') return;
    const mapping = { upstreamOrigin: route.upstream.origin, upstreamBasePath: route.basePath, routeUrl: '' };
    const restPaths = restInterfacePaths(card, mapping);
    const before = this.known.get(route.name);
    // An extended card may add interfaces; it does not take the base card's paths away.
    this.known.set(route.name, {
      name: extended && before ? before.name : card.name,
      restPaths: [...new Set([...(before?.restPaths ?? []), ...restPaths])],
    });
  }

  restPaths(routeName: string): readonly string[] {
    return this.known.get(routeName)?.restPaths ?? [];
  }

  /** Starts fetching the upstream's card unless the agent is known or a fetch already ran. */
  prefetch(route: Route): void {
    if (this.known.has(route.name) || this.fetches.has(route.name)) return;
    this.fetches.set(route.name, this.fetchCard(route));
  }

  /** The agent's name, waiting up to `waitMs` for the background fetch when no card has passed yet. */
  async agentName(route: Route, waitMs: number): Promise<string | null> {
    const known = this.known.get(route.name);
    if (known) return known.name;
    this.prefetch(route);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.fetches.get(route.name), new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
    clearTimeout(timer);
    return this.known.get(route.name)?.name ?? null;
  }

  private async fetchCard(route: Route): Promise<void> {
    try {
      const headers: Record<string, string> = { 'a2a-version': '1.0', accept: 'application/json' };
      for (const [name, value] of Object.entries(route.config.headers)) headers[name.toLowerCase()] = value;
      const response = await route.pool.request({ method: 'GET', path: route.basePath + AGENT_CARD_PATH, headers, headersTimeout: 5000, bodyTimeout: 5000 });
      const text = await response.body.text();
      if (response.statusCode !== 200) return;
      const card = parseJson(text);
      if (isAgentCard(card)) this.learn(route, card);
    } catch {
      // No name then: records keep a null target until a card passes through.
    }
  }
}
