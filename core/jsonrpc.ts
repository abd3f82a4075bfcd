// JSON-RPC 2.0 on the wire: tells requests, notifications and responses apart in what an
// agent or a server sent, without any SDK's session state. Used by the MCP and A2A flows.

import { jsonBody, parseJson } from './json-body.js';

export type JsonRpcId = string | number;

export interface JsonRpcError {
  code: number;
  message: string;
  data?: unknown;
}

export type JsonRpcMessage =
  | { kind: 'request'; id: JsonRpcId; method: string; params: unknown; raw: Record<string, unknown> }
  | { kind: 'notification'; method: string; params: unknown; raw: Record<string, unknown> }
  | { kind: 'response'; id: JsonRpcId | null; result: unknown; error: JsonRpcError | null; raw: Record<string, unknown> }
  | { kind: 'invalid'; reason: string; raw: unknown };

function isId(value: unknown): value is JsonRpcId {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}

/** Classifies one decoded JSON value. Lenient about a missing "jsonrpc" member, as servers are. */
export function classify(value: unknown): JsonRpcMessage {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { kind: 'invalid', reason: 'not a JSON object', raw: value };
  }
  const raw = value as Record<string, unknown>;
  if (typeof raw.method === 'string') {
    if (raw.id === undefined) return { kind: 'notification', method: raw.method, params: raw.params, raw };
    if (isId(raw.id)) return { kind: 'request', id: raw.id, method: raw.method, params: raw.params, raw };
    return { kind: 'invalid', reason: 'request id is neither a string nor a number', raw };
  }
  if ('result' in raw || 'error' in raw) {
    const id = raw.id === null || isId(raw.id) ? raw.id : null;
    const e = raw.error as Partial<JsonRpcError> | undefined;
    const error =
      e && typeof e === 'object'
        ? { code: typeof e.code === 'number' ? e.code : 0, message: typeof e.message === 'string' ? e.message : '', data: e.data }
        : null;
    return { kind: 'response', id: id ?? null, result: raw.result, error, raw };
  }
  return { kind: 'invalid', reason: 'neither a request, a notification nor a response', raw };
}

export type ParsedBody = { ok: true; messages: JsonRpcMessage[]; batch: boolean } | { ok: false; reason: string };

/** Parses a body holding one JSON-RPC message or a batch of them. */
export function parseJsonRpc(text: string): ParsedBody {
  let value: unknown;
  try {
    value = parseJson(text);
  } catch (err) {
    return { ok: false, reason: `invalid JSON: ${(err as Error).message}` };
  }
  return jsonRpcOf(value);
}

/** parseJsonRpc for a request or response Buffer, sharing its one JSON parse (json-body.ts). */
export function parseJsonRpcBody(body: Buffer): ParsedBody {
  const json = jsonBody(body);
  return json.ok ? jsonRpcOf(json.value) : json;
}

function jsonRpcOf(value: unknown): ParsedBody {
  if (Array.isArray(value)) {
    if (value.length === 0) return { ok: false, reason: 'empty batch' };
    return { ok: true, messages: value.map(classify), batch: true };
  }
  const message = classify(value);
  if (message.kind === 'invalid') return { ok: false, reason: message.reason };
  return { ok: true, messages: [message], batch: false };
}

/** A map key for an id: 1 and "1" are different ids. */
export function idKey(id: JsonRpcId): string {
  return typeof id === 'number' ? `n:${id}` : `s:${id}`;
}

/** The id as the exchange record stores it (TEXT column): numbers and strings as written. */
export function idText(id: JsonRpcId | null): string | null {
  return id === null ? null : JSON.stringify(id);
}

export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
/** JSON-RPC's error code for a method the server does not have. */
export const METHOD_NOT_FOUND = -32601;
/** JSON-RPC's error code for params the method cannot take. */
export const INVALID_PARAMS = -32602;
export const INTERNAL_ERROR = -32603;
/** The MCP SDKs' ErrorCode.ConnectionClosed: the other side went away before answering. */
export const CONNECTION_CLOSED = -32000;

export function errorResponse(id: JsonRpcId | null, code: number, message: string, data?: unknown): Record<string, unknown> {
  return { jsonrpc: '2.0', id, error: data === undefined ? { code, message } : { code, message, data } };
}
