// The mock's A2A routes: a request is described the way the sidecar describes it live
// (protocols/a2a/wire.ts describeCall, for the recorded request too) and matched by
// version, method and message parts or params (tools/replay-match.ts); the answer carries
// the live JSON-RPC id and the task and context ids the live message names, and an agent
// card points back at the mock. The card is also served at the mock's root when there is
// one A2A route.
import type { ExchangeRecord } from '../../core/exchange.js';
import { sseText } from '../../core/sse-text.js';
import { isAgentCard } from '../../protocols/a2a/card.js';
import { AGENT_CARD_PATH, describeCall, OLD_AGENT_CARD_PATH, type A2aCall } from '../../protocols/a2a/wire.js';
import { recordedBody, recordedJson } from '../../store/bodies.js';
import { replaceStrings } from '../canonical-json.js';
import { a2aKey, type KeyPart } from '../replay-match.js';
import { header, missAnswer, parseJson, responseHeaders, withId, type MockContext, type MockProtocol, type MockRequest } from './mock-protocol.js';

/** The A2A key of a call described from the wire. */
function callKey(call: A2aCall): KeyPart[] | null {
  if (!call.method) return null;
  const key = a2aKey(call.version, call.method, call.params);
  if (call.pathTaskId !== null) key.push({ name: 'task', value: call.pathTaskId });
  return key;
}

/** The A2A call a recorded exchange was, rebuilt from its request and `details` (binding and wire method). */
function recordedCall(record: ExchangeRecord): A2aCall | null {
  let details: { binding?: string; wire_method?: string } = {};
  try {
    details = JSON.parse(record.exchange.details ?? '{}') as typeof details;
  } catch {
    return null;
  }
  const a2aVersion = header(record.request?.headers, 'a2a-version') ?? null;
  const body = record.request?.body ?? null;
  if (details.binding === 'card') return describeCall({ httpMethod: 'GET', path: AGENT_CARD_PATH, a2aVersion, body: null });
  if (details.binding === 'JSONRPC') return describeCall({ httpMethod: 'POST', path: '/', a2aVersion, body });
  const line = /^([A-Z]+) (\S+)$/.exec(details.wire_method ?? '');
  if (!line) return null;
  return describeCall({ httpMethod: line[1]!, path: line[2]!, a2aVersion, body });
}

function recordedKey(record: ExchangeRecord): KeyPart[] | null {
  const call = recordedCall(record);
  return call ? callKey(call) : null;
}

/**
 * Ids the live message names in place of the recorded call's, recorded → live, to put into
 * the answer: its task id, and its context id (a client may choose its own; the recorded one
 * may have been the server's, kept as the exchange's session id).
 */
function messageIds(record: ExchangeRecord, liveParams: unknown): Map<string, string> {
  const message = (params: unknown): Record<string, unknown> => {
    const p = (params ?? {}) as Record<string, unknown>;
    return (p.message ?? p.request ?? {}) as Record<string, unknown>;
  };
  const recorded = message(recordedCall(record)?.params);
  const live = message(liveParams);
  const ids = new Map<string, string>();
  const pairs: [unknown, unknown][] = [
    [recorded.taskId, live.taskId],
    [typeof recorded.contextId === 'string' && recorded.contextId !== '' ? recorded.contextId : record.exchange.session_id, live.contextId],
  ];
  for (const [from, to] of pairs) {
    if (typeof from === 'string' && from !== '' && typeof to === 'string' && to !== '' && from !== to) ids.set(from, to);
  }
  return ids;
}

/** A recorded agent card with its interface URLs moved under the mock's route (same path). */
function cardForMock(card: Record<string, unknown>, name: string, origin: string): Record<string, unknown> {
  const copy = structuredClone(card);
  const move = (holder: Record<string, unknown>): void => {
    if (typeof holder.url !== 'string') return;
    try {
      const url = new URL(holder.url);
      const routed = url.pathname.startsWith(`/${name}/`) ? url.pathname : `/${name}${url.pathname}`;
      holder.url = `${origin}${routed}${url.search}`;
    } catch {
      // not a URL: left as recorded
    }
  };
  move(copy);
  for (const list of [copy.additionalInterfaces, copy.supportedInterfaces]) {
    if (Array.isArray(list)) for (const entry of list) if (entry && typeof entry === 'object') move(entry as Record<string, unknown>);
  }
  return copy;
}

async function serve(mock: MockContext, request: MockRequest): Promise<void> {
  const { req, res, name, route, rest, body } = request;
  const path = rest.split('?', 1)[0]!;
  const call = describeCall({ httpMethod: req.method ?? 'GET', path: path.endsWith(OLD_AGENT_CARD_PATH) ? AGENT_CARD_PATH : path, a2aVersion: header(req.headers, 'a2a-version') ?? null, body });
  const key = callKey(call);
  const found = key ? route.pool.take(key) : { miss: { field: 'method', request: call.wireMethod, recorded: '', nearest: null, message: `tapwire mock: ${call.wireMethod} is not an A2A call` } };
  if ('miss' in found) {
    if (await mock.forwardMiss(request)) return;
    // REST (HTTP+JSON) calls get a plain JSON error; JSON-RPC calls a JSON-RPC one.
    return missAnswer(res, found.miss, call.binding === 'JSONRPC' ? (call.jsonrpcId ?? undefined) : undefined);
  }
  const record = found.hit;
  const status = record.exchange.http_status ?? 200;
  const ids = messageIds(record, call.params);
  if (record.exchange.streamed === 1) {
    res.writeHead(status, responseHeaders(record));
    await mock.writeEvents(res, record.events, (event) => {
      const parsed = parseJson(Buffer.from(event.data));
      if (parsed === undefined) return sseText(event);
      const mapped = replaceStrings(parsed, ids);
      return sseText({ ...event, data: JSON.stringify(call.binding === 'JSONRPC' ? withId(mapped, call.jsonrpcId) : mapped) });
    });
    return;
  }
  let answer = replaceStrings(recordedJson(record.response), ids);
  if (answer === undefined) {
    res.writeHead(status, responseHeaders(record)).end(recordedBody(record.response)?.bytes ?? Buffer.alloc(0));
    return;
  }
  if (call.binding === 'JSONRPC') answer = withId(answer, call.jsonrpcId);
  const result = (answer as { result?: unknown }).result;
  if (isAgentCard(answer)) answer = cardForMock(answer, name, mock.origin);
  else if (isAgentCard(result)) answer = { ...(answer as Record<string, unknown>), result: cardForMock(result, name, mock.origin) };
  const text = JSON.stringify(answer);
  res.writeHead(status, { ...responseHeaders(record), 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export const a2aMock: MockProtocol = { recordedKey, serve, rootPaths: [AGENT_CARD_PATH, OLD_AGENT_CARD_PATH] };
