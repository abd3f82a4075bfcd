// What telemetry asks of each protocol: its part of an exchange's span (name and attributes),
// the method its exchanges are counted under, and the metrics of its own conventions (GenAI,
// MCP). The implementations live with their protocols (protocols/*/telemetry.ts), above this
// layer; the composition root hands Telemetry the table of them (protocols/telemetry-table.ts).
import type { Attributes } from '@opentelemetry/api';
import type { ExchangeRecord, Protocol } from '../core/exchange.js';
import type { RouteTarget, SpanOptions } from './attributes.js';
import type { InstrumentFactory } from './local-instruments.js';

export type { InstrumentFactory };

/** The conventions a protocol's metrics follow. */
export interface MetricOptions {
  /** OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental: the newer GenAI instruments. */
  latestConventions: boolean;
}

/** A protocol's own instruments, fed each finished exchange of that protocol. */
export interface ProtocolMetrics {
  /** `errorType`: the error.type of a failed exchange, null when it succeeded. */
  record(record: ExchangeRecord, target: RouteTarget, errorType: string | null): void;
}

export interface ProtocolTelemetry {
  /**
   * Adds the protocol's attributes to an exchange's span (the protocol-neutral ones, from
   * tapwire.* to error.type, are already set) and returns the span's name.
   */
  span(record: ExchangeRecord, attributes: Attributes, route: RouteTarget, options: SpanOptions): string;
  /** The exchange counter's tapwire.method: the operation, with no path or id in it (low cardinality). */
  countedMethod(record: ExchangeRecord): string;
  /** Creates the protocol's instruments (telemetry/local-instruments.ts); absent for a protocol with none. */
  metrics?(meter: InstrumentFactory, options: MetricOptions): ProtocolMetrics;
}

/** One implementation per protocol, as the composition root builds it. */
export type ProtocolTelemetryTable = Readonly<Record<Protocol, ProtocolTelemetry>>;
