// The mock's MCP routes (Streamable HTTP): a request is matched by method and params
// (tools/replay-match.ts); the answer carries the live JSON-RPC id, progress notifications
// the live progress token, and an initialize a fresh session id. Notifications and
// responses are accepted (202), GET has no stream (405), DELETE ends nothing (200).
import { randomUUID } from 'node:crypto';
import type { ExchangeEvent, ExchangeRecord } from '../../core/exchange.js';
import type { HeaderMap } from '../../core/headers.js';
import { classify, errorResponse } from '../../core/jsonrpc.js';
import { sseText } from '../../core/sse-text.js';
import { recordedJson } from '../../store/bodies.js';
import { mcpKey, type KeyPart } from '../replay-match.js';
import { header, missAnswer, parseJson, sendJson, withId, type MockContext, type MockProtocol, type MockRequest } from './mock-protocol.js';

/** The JSON-RPC request a recorded MCP exchange carried, or null for anything else (notifications, DELETE). */
function recordedRequest(record: ExchangeRecord): { method: string; params: unknown } | null {
  const message = classify(recordedJson(record.request));
  return message.kind === 'request' ? { method: message.method, params: message.params } : null;
}

function recordedKey(record: ExchangeRecord): KeyPart[] | null {
  const request = recordedRequest(record);
  return request ? mcpKey(request.method, request.params) : null;
}

function progressToken(params: unknown): unknown {
  const meta = (params as { _meta?: { progressToken?: unknown } } | null | undefined)?._meta;
  return meta?.progressToken;
}

/** Replaces the recorded progress token in a notification with the live one. */
function withProgressToken(message: unknown, recorded: unknown, live: unknown): unknown {
  if (recorded === undefined || message === null || typeof message !== 'object') return message;
  const m = message as { method?: unknown; params?: Record<string, unknown> };
  if (m.method !== 'notifications/progress' || m.params?.progressToken !== recorded) return message;
  return { ...m, params: { ...m.params, progressToken: live } };
}

async function serve(mock: MockContext, request: MockRequest): Promise<void> {
  const { req, res, route, body } = request;
  if (req.method === 'GET') {
    res.writeHead(405, { allow: 'POST, DELETE' }).end();
    return;
  }
  if (req.method === 'DELETE') {
    res.writeHead(200).end();
    return;
  }
  const message = classify(parseJson(body));
  if (message.kind === 'invalid') return sendJson(res, 400, errorResponse(null, -32700, `tapwire mock: not a JSON-RPC message: ${message.reason}`));
  if (message.kind !== 'request') {
    res.writeHead(202).end();
    return;
  }
  const found = route.pool.take(mcpKey(message.method, message.params));
  if ('miss' in found) {
    if (await mock.forwardMiss(request)) return;
    return missAnswer(res, found.miss, message.id);
  }
  const record = found.hit;
  const headers: HeaderMap = {};
  let session = header(req.headers, 'mcp-session-id');
  // A recorded session becomes a fresh live one: the client gets a new id, as from a server.
  if (message.method === 'initialize' && record.response?.headers['mcp-session-id']) session = randomUUID();
  if (session) headers['mcp-session-id'] = session;
  const answer = withId(recordedJson(record.response), message.id);
  const recordedToken = progressToken(recordedRequest(record)?.params);
  const liveToken = progressToken(message.params);
  const streamed = /text\/event-stream/.test(String(record.response?.headers['content-type'] ?? '')) && /text\/event-stream/.test(header(req.headers, 'accept') ?? '');
  if (!streamed) return sendJson(res, record.exchange.http_status ?? 200, answer, headers);
  res.writeHead(record.exchange.http_status ?? 200, { ...headers, 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const notifications = record.events.map((event) => ({ ...event, event: 'message', event_id: null }));
  const final: ExchangeEvent = { offset_ms: record.exchange.duration_ms ?? 0, event: 'message', event_id: null, data: JSON.stringify(answer) };
  await mock.writeEvents(res, [...notifications, final], (event) => {
    if (event === final) return sseText(event);
    const parsed = parseJson(Buffer.from(event.data));
    return sseText({ ...event, data: JSON.stringify(withProgressToken(parsed, recordedToken, liveToken)) });
  });
}

export const mcpMock: MockProtocol = { recordedKey, serve };
