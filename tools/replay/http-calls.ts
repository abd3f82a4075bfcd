// Replaying LLM and plain HTTP calls: each on its own, with its recorded method and path
// (without the upstream's base path), query (an LLM call's, credentials left out) and body, its answer compared with the recorded one
// (a stream the way the protocol's table entry says: tools/compare.ts).
import type { ExchangeRecord } from '../../core/exchange.js';
import { recordedBody } from '../../store/bodies.js';
import { comparable, type StreamComparison } from '../compare.js';
import type { ReplayContext, ReplayPlan, ReplayUnit } from './plan.js';
import { replayHeaders, send } from './send.js';

/** The query an LLM call was sent with (credentials left out: the route supplies them), from its `details`; '' when none. */
function recordedQuery(record: ExchangeRecord): string {
  try {
    const query = (JSON.parse(record.exchange.details ?? '{}') as { query?: unknown }).query;
    return typeof query === 'string' ? query : '';
  } catch {
    return '';
  }
}

export class HttpCalls implements ReplayPlan {
  constructor(
    private readonly replay: ReplayContext,
    private readonly stream: StreamComparison,
  ) {}

  add(record: ExchangeRecord): ReplayUnit {
    return () => this.replayCall(record);
  }

  finish(): Promise<ReplayUnit[]> {
    return Promise.resolve([]);
  }

  private async replayCall(record: ExchangeRecord): Promise<void> {
    const replay = this.replay;
    const line = /^([A-Z]+) (\S+)$/.exec(record.exchange.method ?? '');
    if (!line) return replay.skip(record, `no HTTP method and path in the record (${record.exchange.method ?? 'none'})`);
    const upstream = replay.options.config.routes[record.exchange.route]?.upstream;
    const base = upstream ? new URL(upstream).pathname.replace(/\/+$/, '') : '';
    const path = base && line[2]!.startsWith(base) ? line[2]!.slice(base.length) : line[2]!;
    const query = recordedQuery(record);
    try {
      const sent = await send(replay.url(record, query ? `${path}?${query}` : path), line[1]!, replayHeaders(record, record.exchange.id), recordedBody(record.request)?.bytes ?? null);
      const before = replay.recorded(record);
      const after = replay.live(record, sent.headers, sent.body, sent.events);
      replay.note(record, sent, null, comparable(recordedBody(before.response)?.bytes ?? null, before.events, this.stream), comparable(after.body, after.events, this.stream));
    } catch (err) {
      replay.note(record, null, (err as Error).message, null, null);
    }
  }
}
