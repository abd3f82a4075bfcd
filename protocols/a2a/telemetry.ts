// An A2A call's OpenTelemetry span, per the A2A semantic conventions (v1.41 names, or the
// newer TaskState values when opted in): named after the logical method and its target, with
// the a2a.* task, context and version attributes. A2A has no metrics of its own beyond the
// exchange count. Telemetry picks it from its table (protocols/telemetry-table.ts).
import type { Attributes } from '@opentelemetry/api';
import type { ExchangeRecord } from '../../core/exchange.js';
import { jsonObject, setAttribute, withTarget, type RouteTarget, type SpanOptions } from '../../telemetry/attributes.js';
import { countedRpcMethod } from '../../telemetry/metrics.js';
import type { ProtocolTelemetry } from '../../telemetry/protocol-telemetry.js';

/** The A2A conventions' TaskState value (`TASK_STATE_INPUT_REQUIRED`) of a recorded state (`input-required`). */
function taskStateEnum(state: string | null): string | null {
  if (state === null) return null;
  return state === 'unknown' ? 'TASK_STATE_UNSPECIFIED' : `TASK_STATE_${state.toUpperCase().replace(/-/g, '_')}`;
}

function a2aSpan(record: ExchangeRecord, attributes: Attributes, _route: RouteTarget, options: SpanOptions): string {
  const e = record.exchange;
  const method = e.method ?? '(unknown)';
  const extra = jsonObject(e.details);
  // The record names the logical operation (SendMessage) whatever the protocol version sent.
  setAttribute(attributes, 'a2a.method.name', method);
  setAttribute(attributes, 'a2a.task.state', options.latestConventions ? taskStateEnum(e.task_state) : e.task_state);
  setAttribute(attributes, 'a2a.task.id', e.task_id);
  setAttribute(attributes, 'a2a.context.id', e.session_id);
  setAttribute(attributes, 'a2a.protocol.version', typeof extra.version === 'string' ? extra.version : null);
  // The target is "agent name:skill" or the agent name alone (protocols/a2a/observer.ts).
  setAttribute(attributes, 'gen_ai.agent.name', e.target?.split(':', 1)[0] || null);
  setAttribute(attributes, 'jsonrpc.request.id', e.jsonrpc_id);
  return withTarget(method, e.target);
}

export const a2aTelemetry: ProtocolTelemetry = {
  span: a2aSpan,
  countedMethod: countedRpcMethod,
};
