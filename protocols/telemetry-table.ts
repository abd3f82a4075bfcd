// Each protocol's OpenTelemetry (span attributes, counted method, metrics), by protocol name:
// the table the composition root (proxy/recording.ts) hands to Telemetry, which sits below
// protocols/ and so cannot import them itself. A new protocol adds one line here.
import type { ProtocolTelemetryTable } from '../telemetry/protocol-telemetry.js';
import { a2aTelemetry } from './a2a/telemetry.js';
import { httpTelemetry } from './http/telemetry.js';
import { llmTelemetry } from './llm/telemetry.js';
import { mcpTelemetry } from './mcp/telemetry.js';

export const PROTOCOL_TELEMETRY: ProtocolTelemetryTable = {
  llm: llmTelemetry,
  mcp: mcpTelemetry,
  a2a: a2aTelemetry,
  http: httpTelemetry,
};
