// Facts of A2A messages in either protocol version: task and context ids, the task state
// normalised to one vocabulary, the text of message parts (for token estimates), the skill a
// message names, and errors (JSON-RPC and REST shapes).
import { obj } from '../../core/json-body.js';

export type TaskState =
  | 'submitted' | 'working' | 'input-required' | 'auth-required'
  | 'completed' | 'failed' | 'canceled' | 'rejected' | 'unknown';

const STATES = new Set<string>(['submitted', 'working', 'input-required', 'auth-required', 'completed', 'failed', 'canceled', 'rejected']);

/** v1.0 TaskState enum numbers (proto-JSON may carry them as numbers). */
const STATE_NUMBERS: readonly TaskState[] = ['unknown', 'submitted', 'working', 'completed', 'failed', 'canceled', 'input-required', 'rejected', 'auth-required'];

/** `TASK_STATE_INPUT_REQUIRED`, `input-required`, `TASK_STATE_CANCELLED`, 6 → one vocabulary. */
export function normaliseState(state: unknown): TaskState {
  if (typeof state === 'number') return STATE_NUMBERS[state] ?? 'unknown';
  if (typeof state !== 'string') return 'unknown';
  const name = state.replace(/^TASK_STATE_/i, '').toLowerCase().replace(/_/g, '-');
  if (name === 'cancelled') return 'canceled';
  return STATES.has(name) ? (name as TaskState) : 'unknown';
}

type Json = Record<string, unknown>;

function asString(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** What one A2A payload (a result, a stream event, a REST body) says. */
export interface PayloadFacts {
  taskId: string | null;
  contextId: string | null;
  state: TaskState | null;
  /** The text of the parts it carries to the receiver, one entry per part. */
  texts: string[];
}

/** The text of one part: v1.0 `{text}` / `{data}`, v0.3 `{kind:"text",text}` / `{kind:"data",data}`; files count by name only. */
function partText(part: unknown): string | null {
  const p = obj(part);
  if (!p) return null;
  if (typeof p.text === 'string') return p.text;
  if (p.data !== undefined) return JSON.stringify(p.data);
  const file = obj(p.file);
  return asString(p.filename) ?? asString(file?.name) ?? null;
}

/** The text of a message's parts (`parts`; v0.3 REST calls them `content`). */
export function messageTexts(message: unknown): string[] {
  const m = obj(message);
  if (!m) return [];
  return [...asArray(m.parts), ...asArray(m.content)].map(partText).filter((t): t is string => t !== null);
}

function artifactTexts(artifact: unknown): string[] {
  return asArray(obj(artifact)?.parts).map(partText).filter((t): t is string => t !== null);
}

function taskFacts(task: Json): PayloadFacts {
  const status = obj(task.status);
  return {
    taskId: asString(task.id),
    contextId: asString(task.contextId),
    state: status && status.state !== undefined ? normaliseState(status.state) : null,
    // What the agent receives: the artifacts and the status message, not the history it sent.
    texts: [...asArray(task.artifacts).flatMap(artifactTexts), ...messageTexts(status?.message)],
  };
}

function statusUpdateFacts(update: Json): PayloadFacts {
  const status = obj(update.status);
  return {
    taskId: asString(update.taskId),
    contextId: asString(update.contextId),
    state: status && status.state !== undefined ? normaliseState(status.state) : null,
    texts: messageTexts(status?.message),
  };
}

function messageFacts(message: Json): PayloadFacts {
  return { taskId: asString(message.taskId), contextId: asString(message.contextId), state: null, texts: messageTexts(message) };
}

const NONE: PayloadFacts = { taskId: null, contextId: null, state: null, texts: [] };

/**
 * Reads a response payload of either version: v1.0 wrappers (`{task}`, `{message}`,
 * `{statusUpdate}`, `{artifactUpdate}`), v0.3 objects with `kind`, a bare Task (GetTask,
 * CancelTask), or a task list (ListTasks: its texts only).
 */
export function payloadFacts(value: unknown): PayloadFacts {
  const v = obj(value);
  if (!v) return NONE;
  const task = obj(v.task);
  if (task) return taskFacts(task);
  const message = obj(v.message);
  if (message) return messageFacts(message);
  const statusUpdate = obj(v.statusUpdate);
  if (statusUpdate) return statusUpdateFacts(statusUpdate);
  const artifactUpdate = obj(v.artifactUpdate);
  if (artifactUpdate) return { ...statusUpdateFacts(artifactUpdate), texts: artifactTexts(artifactUpdate.artifact) };
  switch (v.kind) {
    case 'task':
      return taskFacts(v);
    case 'message':
      return messageFacts(v);
    case 'status-update':
      return statusUpdateFacts(v);
    case 'artifact-update':
      return { ...statusUpdateFacts(v), texts: artifactTexts(v.artifact) };
  }
  if (Array.isArray(v.tasks)) {
    return { ...NONE, texts: v.tasks.flatMap((t) => (obj(t) ? taskFacts(obj(t)!).texts : [])) };
  }
  if (asString(v.id) && obj(v.status)) return taskFacts(v);
  return NONE;
}

/** What the agent's request says: the message it sends (ids, text, skill) or the task it names. */
export interface RequestFacts {
  taskId: string | null;
  contextId: string | null;
  texts: string[];
  skill: string | null;
}

/** The skill a message names in its metadata (`skill`, `skillId` or `skill_id`), the request's metadata as fallback. */
function skillOf(...metadatas: unknown[]): string | null {
  for (const metadata of metadatas) {
    const m = obj(metadata);
    const skill = asString(m?.skill) ?? asString(m?.skillId) ?? asString(m?.skill_id);
    if (skill) return skill;
  }
  return null;
}

export function requestFacts(method: string | null, params: unknown, pathTaskId: string | null): RequestFacts {
  const p = obj(params);
  // v0.3 REST named the message `request` in some drafts; the SDKs send `message`.
  const message = obj(p?.message) ?? obj(p?.request);
  if (message) {
    return {
      taskId: asString(message.taskId),
      contextId: asString(message.contextId),
      texts: messageTexts(message),
      skill: skillOf(message.metadata, p?.metadata),
    };
  }
  let taskId = pathTaskId;
  if (!taskId && p) {
    // Push-notification configs name their task `taskId` (v1.0, v0.3 set) or `id` (v0.3 get/list/delete); task methods `id`.
    const pushConfig = method?.includes('PushNotificationConfig') ?? false;
    taskId = pushConfig ? (asString(p.taskId) ?? asString(p.id)) : asString(p.id);
    if (pushConfig && method === 'CreateTaskPushNotificationConfig' && !asString(p.taskId)) taskId = null;
  }
  return { taskId, contextId: asString(p?.contextId), texts: [], skill: null };
}

/** The A2A error codes and their names (the v1.0 `ErrorInfo.reason`). */
export const A2A_ERRORS: Readonly<Record<number, string>> = {
  [-32001]: 'TASK_NOT_FOUND',
  [-32002]: 'TASK_NOT_CANCELABLE',
  [-32003]: 'PUSH_NOTIFICATION_NOT_SUPPORTED',
  [-32004]: 'UNSUPPORTED_OPERATION',
  [-32005]: 'CONTENT_TYPE_NOT_SUPPORTED',
  [-32006]: 'INVALID_AGENT_RESPONSE',
  [-32007]: 'EXTENDED_AGENT_CARD_NOT_CONFIGURED',
  [-32008]: 'EXTENSION_SUPPORT_REQUIRED',
  [-32009]: 'VERSION_NOT_SUPPORTED',
  [-32700]: 'PARSE_ERROR',
  [-32600]: 'INVALID_REQUEST',
  [-32601]: 'METHOD_NOT_FOUND',
  [-32602]: 'INVALID_PARAMS',
  [-32603]: 'INTERNAL_ERROR',
};

const CODE_OF_REASON: Readonly<Record<string, number>> = Object.fromEntries(
  Object.entries(A2A_ERRORS).map(([code, reason]) => [reason, Number(code)]),
);

export interface A2aError {
  /** The A2A (JSON-RPC) code, as text: the same for every binding, e.g. "-32001". REST errors without a known reason keep their status, e.g. "NOT_FOUND". */
  code: string;
  message: string;
  /** The error's name, e.g. TASK_NOT_FOUND, when known. */
  reason: string | null;
}

function reasonIn(details: unknown): string | null {
  for (const d of asArray(details)) {
    const reason = asString(obj(d)?.reason);
    if (reason) return reason;
  }
  return null;
}

/**
 * Reads an error of any shape A2A uses: a JSON-RPC error object, a v1.0 REST body
 * `{"error":{"code":404,"status":"NOT_FOUND","message","details":[{"reason"}]}}`, or a v0.3
 * REST body `{"code":-32001,"message"}`.
 */
export function errorFacts(error: unknown): A2aError | null {
  const e = obj(error);
  if (!e) return null;
  const nested = obj(e.error);
  if (nested) {
    // v1.0 REST (google.rpc.Status) or a JSON-RPC response carrying an error.
    const reason = reasonIn(nested.details) ?? reasonIn(nested.data);
    const code = typeof nested.code === 'number' && nested.code < 0 ? nested.code : reason ? CODE_OF_REASON[reason] : undefined;
    return {
      code: code !== undefined ? String(code) : (asString(nested.status) ?? (typeof nested.code === 'number' ? String(nested.code) : 'error')),
      message: asString(nested.message) ?? '',
      reason: reason ?? (code !== undefined ? (A2A_ERRORS[code] ?? null) : null),
    };
  }
  if (typeof e.code === 'number') {
    return { code: String(e.code), message: asString(e.message) ?? '', reason: reasonIn(e.data) ?? A2A_ERRORS[e.code] ?? null };
  }
  return null;
}
