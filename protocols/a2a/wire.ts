// What an A2A call is, read from the wire: the binding (JSON-RPC, HTTP+JSON/REST or the
// agent-card fetch), the protocol version (v0.3 or v1.0), and the operation, named with its
// v1.0 method name whichever version the agent spoke.
import type { JsonRpcId } from '../../core/jsonrpc.js';
import { classify } from '../../core/jsonrpc.js';
import { jsonValue } from '../../core/json-body.js';

export type A2aBinding = 'JSONRPC' | 'HTTP+JSON' | 'card';
export type A2aVersion = '0.3' | '1.0';

export interface A2aCall {
  binding: A2aBinding;
  version: A2aVersion;
  /** The v1.0 method name (`SendMessage`, ...), `GetAgentCard` for the well-known card, or null when the call is not an A2A operation. */
  method: string | null;
  /** What the agent sent: the JSON-RPC method, or `POST /v1/message:send`. */
  wireMethod: string;
  /** JSON-RPC only. */
  jsonrpcId: JsonRpcId | null;
  /** JSON-RPC `params`, or the REST request body, parsed. */
  params: unknown;
  /** REST: the task id named in the path. */
  pathTaskId: string | null;
  /** REST v1.0: the tenant path segment, when the interface it is under is known. */
  tenant: string | null;
}

/** v0.3 JSON-RPC method names and their v1.0 names. */
export const V03_TO_V1_METHOD: Readonly<Record<string, string>> = {
  'message/send': 'SendMessage',
  'message/stream': 'SendStreamingMessage',
  'tasks/get': 'GetTask',
  'tasks/list': 'ListTasks',
  'tasks/cancel': 'CancelTask',
  'tasks/resubscribe': 'SubscribeToTask',
  'tasks/pushNotificationConfig/set': 'CreateTaskPushNotificationConfig',
  'tasks/pushNotificationConfig/get': 'GetTaskPushNotificationConfig',
  'tasks/pushNotificationConfig/list': 'ListTaskPushNotificationConfigs',
  'tasks/pushNotificationConfig/delete': 'DeleteTaskPushNotificationConfig',
  'agent/getAuthenticatedExtendedCard': 'GetExtendedAgentCard',
};

const V1_METHODS = new Set([
  'SendMessage', 'SendStreamingMessage', 'GetTask', 'ListTasks', 'CancelTask', 'SubscribeToTask',
  'CreateTaskPushNotificationConfig', 'GetTaskPushNotificationConfig', 'ListTaskPushNotificationConfigs',
  'DeleteTaskPushNotificationConfig', 'GetExtendedAgentCard',
]);

/** Methods whose answer is an agent card, which tapwire rewrites. */
export const CARD_METHODS = new Set(['GetAgentCard', 'GetExtendedAgentCard']);

/** The agent-card paths: the current one and the pre-0.3 one. */
export const AGENT_CARD_PATH = '/.well-known/agent-card.json';
export const OLD_AGENT_CARD_PATH = '/.well-known/agent.json';

/** The `A2A-Version` header as sent, or null. */
export function versionHeader(value: string | string[] | undefined): string | null {
  const v = Array.isArray(value) ? value[0] : value;
  return v?.trim() || null;
}

/** True for a header value that selects v1.0 or later (a missing header means v0.3). */
function headerSaysV1(header: string | null): boolean {
  if (header === null) return false;
  const major = Number.parseFloat(header);
  return Number.isFinite(major) && major >= 1;
}


function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

interface RestOperation {
  method: string;
  /** The path before the operation: interface base, then `/v1` (v0.3) or a tenant (v1.0). */
  prefix: string;
  taskId: string | null;
}

/** Matches the operation at the end of a REST path (the interface base path comes before it). */
function restOperation(httpMethod: string, path: string): RestOperation | null {
  const patterns: [RegExp, string, string][] = [
    [/^(.*)\/message:send$/, 'POST', 'SendMessage'],
    [/^(.*)\/message:stream$/, 'POST', 'SendStreamingMessage'],
    [/^(.*)\/tasks\/([^/]+):cancel$/, 'POST', 'CancelTask'],
    [/^(.*)\/tasks\/([^/]+):subscribe$/, 'POST GET', 'SubscribeToTask'],
    [/^(.*)\/tasks\/([^/]+)\/pushNotificationConfigs\/[^/]+$/, 'GET', 'GetTaskPushNotificationConfig'],
    [/^(.*)\/tasks\/([^/]+)\/pushNotificationConfigs\/[^/]+$/, 'DELETE', 'DeleteTaskPushNotificationConfig'],
    [/^(.*)\/tasks\/([^/]+)\/pushNotificationConfigs$/, 'POST', 'CreateTaskPushNotificationConfig'],
    [/^(.*)\/tasks\/([^/]+)\/pushNotificationConfigs$/, 'GET', 'ListTaskPushNotificationConfigs'],
    [/^(.*)\/tasks\/([^/:]+)$/, 'GET', 'GetTask'],
    [/^(.*)\/tasks$/, 'GET', 'ListTasks'],
    [/^(.*)\/extendedAgentCard$/, 'GET', 'GetExtendedAgentCard'],
    [/^(.*)\/v1\/card$/, 'GET', 'GetExtendedAgentCard'],
  ];
  for (const [pattern, methods, method] of patterns) {
    if (!methods.split(' ').includes(httpMethod)) continue;
    const m = pattern.exec(path);
    if (!m) continue;
    const prefix = method === 'GetExtendedAgentCard' && path.endsWith('/v1/card') ? `${m[1]}/v1` : m[1]!;
    return { method, prefix, taskId: m[2] !== undefined ? decodeSegment(m[2]) : null };
  }
  return null;
}

export interface DescribeInput {
  httpMethod: string;
  /** The path after the route segment, without the query. */
  path: string;
  a2aVersion: string | null;
  body: Buffer | null;
  /** Paths (relative to the route) of the agent's known HTTP+JSON interfaces, to tell a tenant segment apart. */
  restBases?: readonly string[];
}

/** Reads what kind of A2A call a request is. */
export function describeCall(input: DescribeInput): A2aCall {
  const { httpMethod, path, a2aVersion } = input;
  const base: A2aCall = {
    binding: 'HTTP+JSON',
    version: headerSaysV1(a2aVersion) ? '1.0' : '0.3',
    method: null,
    wireMethod: `${httpMethod} ${path}`,
    jsonrpcId: null,
    params: undefined,
    pathTaskId: null,
    tenant: null,
  };
  if (httpMethod === 'GET' && (path.endsWith(AGENT_CARD_PATH) || path.endsWith(OLD_AGENT_CARD_PATH))) {
    return { ...base, binding: 'card', method: 'GetAgentCard', version: headerSaysV1(a2aVersion) ? '1.0' : '0.3' };
  }
  const parsed = httpMethod === 'POST' ? jsonValue(input.body) : undefined;
  if (parsed !== undefined && !Array.isArray(parsed)) {
    const message = classify(parsed);
    if (message.kind === 'request' || message.kind === 'notification') {
      const v1 = V1_METHODS.has(message.method);
      const legacy = V03_TO_V1_METHOD[message.method];
      return {
        ...base,
        binding: 'JSONRPC',
        version: v1 ? '1.0' : legacy ? '0.3' : base.version,
        method: v1 ? message.method : (legacy ?? null),
        wireMethod: message.method,
        jsonrpcId: message.kind === 'request' ? message.id : null,
        params: message.params,
      };
    }
  }
  const op = restOperation(httpMethod, path);
  if (!op) return { ...base, params: parsed };
  // The v0.3 REST routes live under /v1/ and answer only requests without a v1.0 header;
  // with one, "/v1" is a tenant (that is what the SDK servers do).
  const v03 = !headerSaysV1(a2aVersion) && (op.prefix === '/v1' || op.prefix.endsWith('/v1'));
  let tenant: string | null = null;
  if (!v03) {
    for (const restBase of input.restBases ?? []) {
      const rest = op.prefix.slice(restBase.length);
      if (op.prefix.startsWith(restBase) && /^\/[^/]+$/.test(rest)) tenant = decodeSegment(rest.slice(1));
    }
  }
  return { ...base, version: v03 ? '0.3' : '1.0', method: op.method, params: parsed, pathTaskId: op.taskId, tenant };
}
