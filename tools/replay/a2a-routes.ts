// Replaying A2A calls: one route's calls in recorded order (a task's later calls need the
// task the earlier ones made), each with its recorded binding (a card fetch, HTTP+JSON with
// its method and path, or JSON-RPC at the route's JSON-RPC endpoint), and the task and
// context ids the server generates this time put in place of the recorded ones.
import type { ExchangeRecord } from '../../core/exchange.js';
import { AGENT_CARD_PATH, CARD_METHODS } from '../../protocols/a2a/wire.js';
import { recordedBody, recordedJson } from '../../store/bodies.js';
import { replaceStrings, type JsonPath } from '../canonical-json.js';
import { comparable, eachEvent } from '../compare.js';
import type { RecordLookup, ReplayContext, ReplayPlan, ReplayUnit } from './plan.js';
import { replayHeaders, send } from './send.js';

/**
 * A card's interface URLs, left out of its diff: the record keeps the card the upstream sent,
 * the agent (and so the replay) gets it rewritten to the sidecar's address.
 */
const CARD_URLS: readonly JsonPath[] = [['url'], ['supportedInterfaces', '*', 'url'], ['additionalInterfaces', '*', 'url']];

/** Ids the server generated for A2A tasks and contexts: recorded value → this run's value. */
function learnIds(before: unknown, after: unknown, ids: Map<string, string>): void {
  if (Array.isArray(before) && Array.isArray(after)) {
    before.forEach((item, i) => learnIds(item, after[i], ids));
    return;
  }
  if (!before || !after || typeof before !== 'object' || typeof after !== 'object') return;
  const b = before as Record<string, unknown>;
  const a = after as Record<string, unknown>;
  for (const [key, value] of Object.entries(b)) {
    const now = a[key];
    if ((key === 'id' || key === 'taskId' || key === 'contextId') && typeof value === 'string' && typeof now === 'string' && value !== now) ids.set(value, now);
    else learnIds(value, now, ids);
  }
}

/** A2A calls grouped by route, each route's calls replayed in recorded order. */
export class A2aRoutes implements ReplayPlan {
  private readonly routes = new Map<string, ExchangeRecord[]>();

  constructor(
    private readonly replay: ReplayContext,
    private readonly lookup: RecordLookup,
  ) {}

  add(record: ExchangeRecord): null {
    const list = this.routes.get(record.exchange.route);
    if (list) list.push(record);
    else this.routes.set(record.exchange.route, [record]);
    return null;
  }

  async finish(): Promise<ReplayUnit[]> {
    const units: ReplayUnit[] = [];
    for (const [route, records] of this.routes) {
      const path = this.replay.options.paths?.[route] ?? (await this.lookup.jsonRpcPathFromCard(route)) ?? '';
      units.push(() => this.replayRoute(records, path));
    }
    return units;
  }

  /** One route's calls in recorded order, with server-generated ids mapped to this run's. */
  private async replayRoute(records: ExchangeRecord[], jsonRpcPath: string): Promise<void> {
    const replay = this.replay;
    const ids = new Map<string, string>();
    for (const record of records) {
      let details: { binding?: string; wire_method?: string } = {};
      try {
        details = JSON.parse(record.exchange.details ?? '{}') as typeof details;
      } catch {
        // unreadable details: treated as a JSON-RPC call
      }
      const wire = /^([A-Z]+) (\S+)$/.exec(details.wire_method ?? '');
      const [method, path] =
        details.binding === 'card' ? ['GET', AGENT_CARD_PATH] : details.binding === 'HTTP+JSON' && wire ? [wire[1]!, wire[2]!.split('/').map((s) => ids.get(decodeURIComponent(s)) ?? s).join('/')] : ['POST', jsonRpcPath];
      const json = recordedJson(record.request);
      const body = json === undefined ? (recordedBody(record.request)?.bytes ?? null) : Buffer.from(JSON.stringify(replaceStrings(json, ids)));
      const headers = replayHeaders(record, record.exchange.id);
      if (body) headers['content-type'] ??= 'application/json';
      try {
        const sent = await send(replay.url(record, path), method, headers, body);
        const recorded = replay.recorded(record);
        const live = replay.live(record, sent.headers, sent.body, sent.events);
        const before = comparable(recordedBody(recorded.response)?.bytes ?? null, recorded.events, eachEvent);
        const after = comparable(live.body, live.events, eachEvent);
        learnIds(before, after, ids);
        replay.note(record, sent, null, before, after, CARD_METHODS.has(record.exchange.method ?? '') ? CARD_URLS : []);
      } catch (err) {
        replay.note(record, null, (err as Error).message, null, null);
      }
    }
  }
}
