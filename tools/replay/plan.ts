// What each protocol's replay is given and gives back. tools/replay.ts picks one plan per
// protocol from its table; a plan takes the selected calls of its protocol and turns them into
// units (an LLM call, an MCP session, an A2A route) that run `concurrency` at a time, and
// reports each call through the replayer (ReplayContext): sent, compared, or skipped.
import type { Exchange, ExchangeEvent, ExchangeRecord } from '../../core/exchange.js';
import type { HeaderMap } from '../../core/headers.js';
import type { SseEvent } from '../../core/sse.js';
import type { JsonPath } from '../canonical-json.js';
import type { ReplayOptions } from '../replay.js';
import type { Sent } from './send.js';

/** Independent work: its calls are sent in order, apart from every other unit's. */
export type ReplayUnit = () => Promise<void>;

/** What the replayer does for every protocol. */
export interface ReplayContext {
  readonly options: ReplayOptions;
  /** The sidecar URL of `path` under the route `record` is replayed on. */
  url(record: ExchangeRecord, path: string): string;
  /** Records a call's outcome: what it got (`sent`, or the `error` that kept it from being sent), and its answer compared with the recorded one. */
  note(record: ExchangeRecord, sent: Sent | null, error: string | null, before: unknown, after: unknown, ignore?: readonly JsonPath[]): void;
  /** True once a call's outcome was noted. */
  noted(record: ExchangeRecord): boolean;
  /** Records that a call was not sent, and why. */
  skip(record: ExchangeRecord, why: string): void;
  /** The record as the comparison sees it: through the config's redaction. */
  recorded(record: ExchangeRecord): ExchangeRecord;
  /** A live answer as the record would keep it (masked by the config's redaction), judged as an answer to `record`'s request. */
  live(record: ExchangeRecord, headers: HeaderMap, body: Buffer, events: readonly SseEvent[] | null): { body: Buffer; events: ExchangeEvent[] | null };
}

/** Records a plan reads besides the selected ones. */
export interface RecordLookup {
  /** The initialize an MCP session's call was made under (the newest one recorded before it), or null. */
  sessionInitialize(e: Exchange): Promise<ExchangeRecord | null>;
  /** The JSON-RPC endpoint's path under an A2A route, from the newest agent card recorded on it, or null. */
  jsonRpcPathFromCard(route: string): Promise<string | null>;
}

/** How one protocol's selected calls are replayed. */
export interface ReplayPlan {
  /**
   * Takes a selected client request whose body was recorded whole, in selection order: its
   * unit when it is replayed on its own, else null (kept for a unit of finish(), or skipped).
   */
  add(record: ExchangeRecord): ReplayUnit | null;
  /** The units of the calls kept (sessions, routes), once every selected call was added. */
  finish(): Promise<ReplayUnit[]>;
}

export type ReplayPlanFactory = (replay: ReplayContext, lookup: RecordLookup) => ReplayPlan;
