// Failed OTLP exports (an endpoint that refuses, times out or answers with an error): each is
// counted per signal, for the tapwire.otlp.export_failures metric, and logged at most once a
// minute per signal with the endpoint and the error, so a mistyped endpoint shows without
// flooding the log. The data of a failed export is dropped; the next batch tries again.
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { Logger } from '../core/log.js';

type Signal = 'traces' | 'metrics';

/** At most one log line per signal in this long. */
const FAILURE_LOG_INTERVAL_MS = 60_000;

/** An OTLP exporter: span and metric exporters both report each export through a callback. */
interface Exporter<Items> {
  export(items: Items, resultCallback: (result: ExportResult) => void): void;
}

/** The endpoint as logged: no user, password or query string, which may carry credentials. */
function loggedEndpoint(url: string): string {
  const parsed = new URL(url);
  parsed.username = '';
  parsed.password = '';
  parsed.search = '';
  return parsed.href;
}

export class ExportFailures {
  private readonly counts: Record<Signal, number> = { traces: 0, metrics: 0 };
  /** Failures since the signal's last log line, and when that line was written. */
  private readonly unlogged: Record<Signal, number> = { traces: 0, metrics: 0 };
  private readonly loggedAt: Record<Signal, number | null> = { traces: null, metrics: null };

  constructor(private readonly log: Logger) {}

  /** Reports every failed export of `exporter` (sending `signal` to `url`). */
  watch<Items>(signal: Signal, url: string, exporter: Exporter<Items>): void {
    const endpoint = loggedEndpoint(url);
    const send = exporter.export.bind(exporter);
    exporter.export = (items, resultCallback) =>
      send(items, (result) => {
        if (result.code !== ExportResultCode.SUCCESS) this.failed(signal, endpoint, result.error);
        resultCallback(result);
      });
  }

  /** Failed exports of `signal` so far. */
  count(signal: Signal): number {
    return this.counts[signal];
  }

  private failed(signal: Signal, endpoint: string, error: Error | undefined): void {
    this.counts[signal]++;
    this.unlogged[signal]++;
    const now = Date.now();
    const last = this.loggedAt[signal];
    if (last !== null && now - last < FAILURE_LOG_INTERVAL_MS) return;
    this.log.warn(
      { signal, endpoint, err: error?.message ?? 'unknown error', failures: this.unlogged[signal] },
      `OTLP ${signal} export to ${endpoint} failed (the data is dropped; logged at most once a minute, counted in tapwire_otlp_export_failures_total)`,
    );
    this.loggedAt[signal] = now;
    this.unlogged[signal] = 0;
  }
}
