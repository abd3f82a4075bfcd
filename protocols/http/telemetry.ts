// A plain HTTP exchange's OpenTelemetry (a route of protocol `http`): the span is named after
// its method and path ("GET /v1/items/42") and carries only the protocol-neutral attributes;
// it is counted under its HTTP verb alone, since paths carry ids. Telemetry picks it from its
// table (protocols/telemetry-table.ts).
import type { ProtocolTelemetry } from '../../telemetry/protocol-telemetry.js';

export const httpTelemetry: ProtocolTelemetry = {
  span: (record) => record.exchange.method ?? 'HTTP',
  countedMethod: (record) => record.exchange.method?.split(' ', 1)[0] ?? 'unknown',
};
