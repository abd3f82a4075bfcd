// Names and attributes of an exchange's span, per the OpenTelemetry GenAI, MCP and A2A semantic
// conventions (v1.41 names, or the newer ones when opted in), read from the finished record.
// The protocol-neutral attributes are set here; each protocol adds its own and names the span
// (ProtocolTelemetry.span, protocols/*/telemetry.ts), with the helpers below.
import type { Attributes } from '@opentelemetry/api';
import type { ExchangeRecord, Payload } from '../core/exchange.js';
import { parseJson } from '../core/json-body.js';
import type { ProtocolTelemetryTable } from './protocol-telemetry.js';

/** Where a route sends its calls, for server.address / server.port and network.transport. */
export interface RouteTarget {
  address: string | null;
  port: number | null;
  /** True for a stdio MCP server tapwire runs (network.transport = pipe). */
  pipe: boolean;
}

export interface SpanOptions {
  /** Adds message content (prompts, answers, tool arguments and results): telemetry.capture_content. */
  captureContent: boolean;
  /** OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental: the newer GenAI and A2A names. */
  latestConventions: boolean;
}

export interface SpanDescription {
  name: string;
  attributes: Attributes;
}

/** A span name: the JSON-RPC method or LLM operation, then its target (tool, model, agent) when there is one. */
export function withTarget(name: string, target: string | null): string {
  return target ? `${name} ${target}` : name;
}

/** A recorded request header's (first) value. */
export function requestHeader(record: ExchangeRecord, name: string): string | undefined {
  const value = record.request?.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Sets an attribute unless the value is absent (null or undefined); returns the attributes. */
export function setAttribute(attributes: Attributes, key: string, value: string | number | boolean | string[] | null | undefined): Attributes {
  if (value !== null && value !== undefined) attributes[key] = value;
  return attributes;
}

/** A JSON object from recorded text (a body or the details column); {} when absent, truncated or not an object. */
export function jsonObject(text: string | null | undefined): Record<string, unknown> {
  if (!text) return {};
  try {
    const parsed = parseJson(text);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** A recorded body as a JSON object, parsed once per span ({} when it was truncated or is not JSON). */
export function bodyJson(payload: Payload | null): Record<string, unknown> {
  return payload?.body && !payload.truncated ? jsonObject(payload.body.toString('utf8')) : {};
}

/**
 * A call held for approval: how it was settled, by whom, after how long (details.approval).
 * The GenAI conventions have no settled names for a tool call's approval yet (open proposals:
 * semantic-conventions-genai#95, #373), so these are tapwire's own.
 */
function approvalAttributes(attributes: Attributes, details: string | null): void {
  // Most exchanges were never held: their details are not parsed for it.
  if (!details?.includes('"approval"')) return;
  const approval = jsonObject(details).approval;
  if (approval === null || typeof approval !== 'object') return;
  const { decision, by, wait_ms: waitMs, remembered } = approval as Record<string, unknown>;
  setAttribute(attributes, 'tapwire.approval.decision', typeof decision === 'string' ? decision : null);
  setAttribute(attributes, 'tapwire.approval.decided_by', typeof by === 'string' ? by : null);
  setAttribute(attributes, 'tapwire.approval.wait_ms', typeof waitMs === 'number' ? waitMs : null);
  setAttribute(attributes, 'tapwire.approval.remembered', typeof remembered === 'boolean' ? remembered : null);
}

/** The span name and attributes of a finished exchange: the protocol-neutral attributes, then its protocol's. */
export function describeSpan(record: ExchangeRecord, route: RouteTarget, options: SpanOptions, protocols: ProtocolTelemetryTable): SpanDescription {
  const e = record.exchange;
  const attributes: Attributes = { 'tapwire.exchange.id': e.id, 'tapwire.route': e.route, 'tapwire.protocol': e.protocol };
  setAttribute(attributes, 'tapwire.status', e.status);
  setAttribute(attributes, 'tapwire.policy.rule', e.policy_rule);
  setAttribute(attributes, 'tapwire.policy.action', e.policy_action);
  approvalAttributes(attributes, e.details);
  setAttribute(attributes, 'server.address', route.address);
  setAttribute(attributes, 'server.port', route.port);
  setAttribute(attributes, 'http.response.status_code', e.http_status);
  if (e.status !== 'ok') setAttribute(attributes, 'error.type', e.error_code ?? (e.status === 'aborted' ? 'aborted' : '_OTHER'));
  const name = protocols[e.protocol].span(record, attributes, route, options);
  return { name, attributes };
}
