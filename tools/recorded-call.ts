// What a recorded exchange was, read back the way the sidecar read it live, so the mock can
// key recordings and live requests with one function: the LLM path and body, the MCP method
// and params, the A2A call (version, method, params, path task id) via describeCall.
import type { ExchangeRecord } from '../core/exchange.js';
import { recordedJson } from '../store/bodies.js';
import { a2aKey, llmKey, mcpKey, type KeyPart } from './replay-match.js';
import type { JsonPath } from './canonical-json.js';
import { describeCall, AGENT_CARD_PATH, type A2aCall } from '../protocols/a2a/wire.js';
import { classify } from '../core/jsonrpc.js';

function header(headers: Record<string, string | string[] | undefined> | undefined, name: string): string | null {
  const value = headers?.[name];
  return (Array.isArray(value) ? value[0] : value) ?? null;
}

/** The A2A key of a call described from the wire. */
export function a2aCallKey(call: A2aCall): KeyPart[] | null {
  if (!call.method) return null;
  const key = a2aKey(call.version, call.method, call.params);
  if (call.pathTaskId !== null) key.push({ name: 'task', value: call.pathTaskId });
  return key;
}

/** The A2A call a recorded exchange was, rebuilt from its request and `details` (binding and wire method). */
export function recordedA2aCall(record: ExchangeRecord): A2aCall | null {
  let details: { binding?: string; wire_method?: string } = {};
  try {
    details = JSON.parse(record.exchange.details ?? '{}') as typeof details;
  } catch {
    return null;
  }
  const a2aVersion = header(record.request?.headers, 'a2a-version');
  const body = record.request?.body ?? null;
  if (details.binding === 'card') return describeCall({ httpMethod: 'GET', path: AGENT_CARD_PATH, a2aVersion, body: null });
  if (details.binding === 'JSONRPC') return describeCall({ httpMethod: 'POST', path: '/', a2aVersion, body });
  const line = /^([A-Z]+) (\S+)$/.exec(details.wire_method ?? '');
  if (!line) return null;
  return describeCall({ httpMethod: line[1]!, path: line[2]!, a2aVersion, body });
}

/** The JSON-RPC request a recorded MCP exchange carried, or null for anything else (notifications, DELETE). */
export function recordedMcpRequest(record: ExchangeRecord): { method: string; params: unknown } | null {
  const message = classify(recordedJson(record.request));
  return message.kind === 'request' ? { method: message.method, params: message.params } : null;
}

/** The match key of a recorded exchange, or null when the mock cannot serve it. `basePath`: the route upstream's path, stripped from LLM paths. */
export function recordedKey(record: ExchangeRecord, ignored: readonly JsonPath[], basePath = ''): KeyPart[] | null {
  const e = record.exchange;
  if (e.direction !== 'client_to_server' || !record.response) return null;
  if (e.protocol === 'llm') {
    const line = /^([A-Z]+) (\S+)$/.exec(e.method ?? '');
    if (!line) return null;
    const path = basePath && line[2]!.startsWith(basePath) ? line[2]!.slice(basePath.length) : line[2]!;
    return llmKey(e.provider ?? '', `${line[1]} ${path}`, recordedJson(record.request) ?? null, ignored);
  }
  if (e.protocol === 'mcp') {
    const request = recordedMcpRequest(record);
    return request ? mcpKey(request.method, request.params) : null;
  }
  if (e.protocol === 'a2a') {
    const call = recordedA2aCall(record);
    return call ? a2aCallKey(call) : null;
  }
  return null;
}
