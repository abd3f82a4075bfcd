// The path every finished record takes, shared by `tapwire run` and `tapwire wrap`: policy
// files (compiled, then watched), the record store's writer (and, with store.central, the
// shipper of what it commits to the central record), telemetry, and the sink: a list
// of stages run in order on each record, built in one place (recordStages) from the config.
// The policies' review runs on the whole bodies (so its redactions reach both the store and
// the spans) before they are cut to store.max_body_bytes. A new exporter is one more stage.
import { startRecordWriter } from '../store/open.js';
import type { RecordWriter } from '../store/record-store.js';
import { Shipper } from '../store/shipper.js';
import type { PolicyGate } from '../protocols/policy-gate.js';
import { watchPolicies, type PolicyWatcher } from '../policies/watch.js';
import type { Config } from '../config/config.js';
import { reviewKeepingBytes } from '../core/binary-bodies.js';
import type { ExchangeRecord, Payload } from '../core/exchange.js';
import { DEFAULT_REDACTED, REPLAY_OF_HEADER } from '../core/headers.js';
import type { Logger } from '../core/log.js';
import type { RecordSink } from '../protocols/observer.js';
import { Telemetry, type TelemetryOptions } from '../telemetry/telemetry.js';
import { PROTOCOL_TELEMETRY } from '../protocols/telemetry-table.js';
import { redactQueryCredentials } from '../core/url-credentials.js';

/** One step of a finished record's path; it may change the record in place for the stages after it. */
export type RecordStage = (record: ExchangeRecord) => void;

interface StageParts {
  /** The policy gate, once it exists (it is made after the sink it records through). */
  gate: () => PolicyGate | null;
  writer: RecordWriter;
  telemetry: Telemetry;
  /** The caller's last stage (the sidecar's log line). */
  afterRecord?: RecordStage;
}

/** The stages, in order: each sees the record as the ones before it left it. */
function recordStages(config: Config, { gate, writer, telemetry, afterRecord }: StageParts): RecordStage[] {
  const maxBodyBytes = config.store.max_body_bytes;
  return [
    markReplay,
    redactQueryCredentials,
    // Redact rules see the whole bodies; only then are they cut to what the store keeps.
    (record) => {
      const current = gate();
      if (current) reviewKeepingBytes(record, (r) => current.review(r));
    },
    (record) => {
      truncateBody(record.request, maxBodyBytes);
      truncateBody(record.response, maxBodyBytes);
    },
    (record) => writer.record(record),
    (record) => telemetry.record(record),
    ...(afterRecord ? [afterRecord] : []),
  ];
}

export class Recording {
  /** Set once the policy gate exists (the gate itself records through `sink`). */
  gate: PolicyGate | null = null;
  /** Credential headers never stored in clear: the built-in ones and `store.redact_headers`. */
  readonly redacted: ReadonlySet<string>;
  readonly sink: RecordSink;

  private constructor(
    config: Config,
    readonly policies: PolicyWatcher | null,
    readonly recorder: RecordWriter,
    readonly shipper: Shipper | null,
    readonly telemetry: Telemetry,
    afterRecord: RecordStage | undefined,
  ) {
    this.redacted = new Set([...DEFAULT_REDACTED, ...config.store.redact_headers.map((h) => h.toLowerCase())]);
    const stages = recordStages(config, { gate: () => this.gate, writer: recorder, telemetry, afterRecord });
    this.sink = (record) => {
      for (const stage of stages) stage(record);
    };
  }

  /** Compiles the policy files (a bad one throws) and opens the store, then telemetry. */
  static async open(
    config: Config,
    log: Logger,
    env: NodeJS.ProcessEnv,
    options: { telemetry?: TelemetryOptions; afterRecord?: RecordStage } = {},
  ): Promise<Recording> {
    const policies = watchPolicies(config.policies, log);
    const recorder = await startRecordWriter(config.store.path, {
      flushIntervalMs: config.store.flush_interval_ms,
      bufferLimit: config.store.buffer_records,
      retryIntervalMs: config.store.retry_interval_ms,
      onError: (message, buffered) =>
        log.error({ err: message, db: config.store.path, buffered, retry_ms: config.store.retry_interval_ms }, 'store write failed: records kept in memory and retried'),
      onRecover: (written) => log.warn({ db: config.store.path, written }, 'store writable again: buffered records written'),
      onDrop: (count, total) => log.error({ dropped: count, dropped_total: total, limit: config.store.buffer_records }, 'store buffer full: oldest records dropped'),
      onWarning: (message) => log.error({ db: config.store.path }, message),
      retentionDays: config.store.retention_days,
      onRetention: (deleted) => log.info({ db: config.store.path, deleted, retention_days: config.store.retention_days }, 'store: exchanges past store.retention_days deleted'),
    }).catch((err: unknown) => {
      policies?.close();
      throw err;
    });
    const shipper = config.store.central ? startShipper(config, log) : null;
    const telemetry = new Telemetry(config, env, log, PROTOCOL_TELEMETRY, options.telemetry);
    telemetry.watchStore(() => recorder.getStats());
    if (shipper) telemetry.watchShipping(() => shipper.getStats());
    return new Recording(config, policies, recorder, shipper, telemetry, options.afterRecord);
  }

  /**
   * Stops watching policies, flushes the record, ships what it committed to the central
   * record, then exports the last spans and metrics, waiting at most `telemetryDeadlineMs`
   * for each of the central record and a telemetry endpoint that is down or hanging.
   */
  async close(telemetryDeadlineMs: number): Promise<void> {
    this.policies?.close();
    await this.recorder.close();
    // What the writer committed last is shipped if the central record takes it in time; the rest ships at the next start.
    await this.shipper?.close(telemetryDeadlineMs);
    await this.telemetry.close(telemetryDeadlineMs);
  }
}

/** Ships the local record to store.central.url, logging outages and recoveries (never the URL's password). */
function startShipper(config: Config, log: Logger): Shipper {
  const central = config.store.central!;
  return Shipper.start(
    {
      path: config.store.path,
      url: central.url,
      batchRecords: central.batch_records,
      intervalMs: central.interval_ms,
      retryIntervalMs: config.store.retry_interval_ms,
      retentionDays: config.store.retention_days,
    },
    {
      onError: (message, backlog) => log.error({ err: message, backlog, retry_ms: config.store.retry_interval_ms }, 'central record unavailable: records kept locally and shipped later'),
      onRecover: (shipped) => log.warn({ shipped }, 'central record available again: shipping resumed'),
      onRetention: (days) => log.info({ days: days.map((d) => new Date(d * 86_400_000).toISOString().slice(0, 10)) }, 'central record: day partitions past store.retention_days dropped'),
    },
  );
}

/** An exchange id, as `tapwire replay` names the original in REPLAY_OF_HEADER. */
const EXCHANGE_ID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** Sets replay_of from the request's REPLAY_OF_HEADER (a replayed call), when it holds an exchange id. */
function markReplay(record: ExchangeRecord): void {
  const value = record.request?.headers[REPLAY_OF_HEADER];
  const id = Array.isArray(value) ? value[0] : value;
  if (id && EXCHANGE_ID.test(id)) record.exchange.replay_of = id;
}

/** Cuts a body longer than store.max_body_bytes to that size (a copy: the record does not hold the rest), marked truncated. */
function truncateBody(payload: Payload | null, maxBodyBytes: number): void {
  if (!payload?.body || payload.body.length <= maxBodyBytes) return;
  payload.body = Buffer.from(payload.body.subarray(0, maxBodyBytes));
  payload.truncated = true;
}
