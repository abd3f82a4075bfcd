// Agent cards through tapwire: every interface URL that points into the route's upstream is
// rewritten to the same path under the tapwire route, so a client that builds itself from
// the card keeps calling through tapwire. Covers v0.3 cards (`url`,
// `additionalInterfaces[].url`), v1.0 cards (`supportedInterfaces[].url`), the hybrid card a
// dual-version server sends to v0.3 clients (all three), and extended cards.

export interface UrlMapping {
  /** The upstream's origin, e.g. http://127.0.0.1:9000 */
  upstreamOrigin: string;
  /** The upstream URL's path without its trailing slash ("" for the origin itself). */
  upstreamBasePath: string;
  /** Where the agent reaches the route on tapwire, e.g. http://127.0.0.1:4100/planner */
  routeUrl: string;
}

export interface CardRewrite {
  /** The rewritten copy (the input is not changed). */
  card: Record<string, unknown>;
  /** Each interface URL rewritten, from → to. */
  rewritten: { from: string; to: string }[];
  /** Interface URLs outside the route's upstream, left as they are: calls to them bypass tapwire. */
  outside: string[];
}

/** The tapwire URL for an upstream URL, or null when it is not under the route's upstream. */
export function toRouteUrl(url: string, mapping: UrlMapping): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.origin !== mapping.upstreamOrigin) return null;
  const base = mapping.upstreamBasePath;
  const path = parsed.pathname;
  if (base !== '' && path !== base && !path.startsWith(`${base}/`)) return null;
  return `${mapping.routeUrl}${path.slice(base.length)}${parsed.search}`;
}

/** The interface URL fields of a card of any version: [holder object, key] pairs. */
function interfaceSlots(card: Record<string, unknown>): [Record<string, unknown>, string][] {
  const slots: [Record<string, unknown>, string][] = [];
  if (typeof card.url === 'string') slots.push([card, 'url']);
  for (const list of [card.additionalInterfaces, card.supportedInterfaces]) {
    if (!Array.isArray(list)) continue;
    for (const entry of list) {
      if (entry !== null && typeof entry === 'object' && typeof (entry as Record<string, unknown>).url === 'string') {
        slots.push([entry as Record<string, unknown>, 'url']);
      }
    }
  }
  return slots;
}

/** True when a JSON value looks like an agent card (a name and at least one interface URL). */
export function isAgentCard(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const card = value as Record<string, unknown>;
  return typeof card.name === 'string' && interfaceSlots(card).length > 0;
}

/** True when the card carries at least one JWS signature. */
export function isSigned(card: Record<string, unknown>): boolean {
  return Array.isArray(card.signatures) && card.signatures.length > 0;
}

/** Rewrites a card's interface URLs; `dropSignatures` also removes `signatures` from the copy. */
export function rewriteCard(card: Record<string, unknown>, mapping: UrlMapping, dropSignatures: boolean): CardRewrite {
  const copy = structuredClone(card);
  const rewritten: CardRewrite['rewritten'] = [];
  const outside: string[] = [];
  for (const [holder, key] of interfaceSlots(copy)) {
    const from = holder[key] as string;
    const to = toRouteUrl(from, mapping);
    if (to === null) {
      if (!outside.includes(from)) outside.push(from);
      continue;
    }
    holder[key] = to;
    rewritten.push({ from, to });
  }
  if (dropSignatures) delete copy.signatures;
  return { card: copy, rewritten, outside };
}

/** Interface paths of a card relative to the route (HTTP+JSON ones only), to tell REST tenants apart. */
export function restInterfacePaths(card: Record<string, unknown>, mapping: UrlMapping): string[] {
  const paths: string[] = [];
  for (const list of [card.supportedInterfaces, card.additionalInterfaces]) {
    if (!Array.isArray(list)) continue;
    for (const entry of list as Record<string, unknown>[]) {
      const binding = entry?.protocolBinding ?? entry?.transport;
      if (binding !== 'HTTP+JSON' || typeof entry.url !== 'string') continue;
      const routed = toRouteUrl(entry.url, mapping);
      if (routed === null) continue;
      const path = routed.slice(mapping.routeUrl.length).split('?', 1)[0]!.replace(/\/+$/, '');
      if (!paths.includes(path)) paths.push(path);
    }
  }
  return paths;
}
