// The path every finished record takes, shared by `tapwire run` and `tapwire wrap`: policy
// files and URLs (compiled, then watched or polled), the shared limits (limits.redis), the
// record store's writer (and, with store.central, the shipper of what it commits to the
// central record), telemetry, and the sink: a list of stages run in order on each record,
// built in one place (recordStages) from the config.
// The policies' review runs on the whole bodies (so its redactions reach both the store and
// the spans) before they are cut to store.max_body_bytes. A new exporter is one more stage.
import { startRecordWriter } from '../store/open.js';
import type { RecordWriter } from '../store/record-store.js';
import { Shipper } from '../store/shipper.js';
import type { PolicyWatcher } from '../policies/watch.js';
import type { SharedLimits } from '../policies/redis/shared-limits.js';
import type { Config } from '../config/config.js';
import { reviewKeepingBytes } from '../core/binary-bodies.js';
import type { ExchangeRecord, Payload } from '../core/exchange.js';
import { DEFAULT_REDACTED, REPLAY_OF_HEADER } from '../core/headers.js';
import type { Logger } from '../core/log.js';
import type { RecordSink } from '../protocols/observer.js';
import { Telemetry, type TelemetryOptions } from '../telemetry/telemetry.js';
import { PROTOCOL_TELEMETRY } from '../protocols/telemetry-table.js';
import { PROTOCOL_CONTEXTS } from '../protocols/registry.js';
import { redactQueryCredentials } from '../core/url-credentials.js';

/** One step of a finished record's path; it may change the record in place for the stages after it. */
export type RecordStage = (record: ExchangeRecord) => void;

interface StageParts {
  /** The policy files, when the config has any. */
  policies: PolicyWatcher | null;
  writer: RecordWriter;
  telemetry: Telemetry;
  /** Where each exchange's one-line summary goes (`tapwire run`'s log at info), or null. */
  exchangeLog: Logger | null;
}

/** The stages, in order: each sees the record as the ones before it left it. */
function recordStages(config: Config, { policies, writer, telemetry, exchangeLog }: StageParts): RecordStage[] {
  const maxBodyBytes = config.store.max_body_bytes;
  const source = { agentLabels: config.agent.labels, protocols: PROTOCOL_CONTEXTS };
  const agentLabels = JSON.stringify(config.agent.labels);
  return [
    // Kept with each exchange so readers (a fleet's central record above all) filter on them.
    (record) => {
      record.exchange.agent_labels = agentLabels;
    },
    markReplay,
    redactQueryCredentials,
    // The record-time rules (token charges, audits, redactions); the live decisions came with
    // the record. Redact rules see the whole bodies; only then are they cut to what the store keeps.
    ...(policies ? [(record: ExchangeRecord) => reviewKeepingBytes(record, (r) => policies.current.review(r, source))] : []),
    (record) => {
      truncateBody(record.request, maxBodyBytes);
      truncateBody(record.response, maxBodyBytes);
    },
    (record) => writer.record(record),
    (record) => telemetry.record(record),
    ...(exchangeLog ? [logLine(exchangeLog)] : []),
  ];
}

export class Recording {
  /** Credential headers never stored in clear: the built-in ones and `store.redact_headers`. */
  readonly redacted: ReadonlySet<string>;
  readonly sink: RecordSink;

  private constructor(
    config: Config,
    readonly policies: PolicyWatcher | null,
    /** limits.redis: the fleet's shared limit counters. */
    private readonly sharedLimits: SharedLimits | null,
    readonly recorder: RecordWriter,
    readonly shipper: Shipper | null,
    readonly telemetry: Telemetry,
    exchangeLog: Logger | null,
  ) {
    this.redacted = new Set([...DEFAULT_REDACTED, ...config.store.redact_headers.map((h) => h.toLowerCase())]);
    const stages = recordStages(config, { policies, writer: recorder, telemetry, exchangeLog });
    this.sink = (record) => {
      for (const stage of stages) stage(record);
    };
  }

  /** Compiles the policy files (a bad one throws) and opens the store, then telemetry. */
  static async open(
    config: Config,
    log: Logger,
    env: NodeJS.ProcessEnv,
    options: { telemetry?: TelemetryOptions; logExchanges?: boolean } = {},
  ): Promise<Recording> {
    // The Redis client is loaded only for a config that names limits.redis.
    const sharedLimits = config.limits.redis ? await (await import('../policies/redis/shared-limits.js')).SharedLimits.open(config.limits.redis, log) : null;
    let policies: PolicyWatcher | null = null;
    try {
      // CEL is loaded only for a config that names policy files (issue 23: a sidecar without them carries none of it).
      if (config.policies.length > 0) {
        const { watchPolicies } = await import('../policies/watch.js');
        policies = await watchPolicies(config.policies, log, { counters: sharedLimits?.counters, pollMs: config.policies_poll_ms });
      }
    } catch (err) {
      await sharedLimits?.close();
      throw err;
    }
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
    }).catch(async (err: unknown) => {
      policies?.close();
      await sharedLimits?.close();
      throw err;
    });
    const shipper = config.store.central ? startShipper(config, log) : null;
    const telemetry = await Telemetry.start(config, env, log, PROTOCOL_TELEMETRY, options.telemetry);
    telemetry.watchStore(() => recorder.getStats());
    if (shipper) telemetry.watchShipping(() => shipper.getStats());
    if (sharedLimits) telemetry.watchSharedLimits(() => sharedLimits.stats());
    return new Recording(config, policies, sharedLimits, recorder, shipper, telemetry, options.logExchanges ? log : null);
  }

  /**
   * Stops watching policies, flushes the record, ships what it committed to the central
   * record, then exports the last spans and metrics, waiting at most `telemetryDeadlineMs`
   * for each of the central record and a telemetry endpoint that is down or hanging.
   */
  async close(telemetryDeadlineMs: number): Promise<void> {
    this.policies?.close();
    await this.recorder.close();
    // After the record: its last reviews charged their tokens.
    await this.sharedLimits?.close();
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

/** The log stage: one line per exchange at info (nothing is built when info is off). */
function logLine(log: Logger): RecordStage {
  return ({ exchange: e }) => {
    if (!log.isLevelEnabled('info')) return;
    log.info(
      {
        id: e.id,
        route: e.route,
        method: e.method,
        target: e.target,
        status: e.status,
        http_status: e.http_status,
        input_tokens: e.input_tokens,
        output_tokens: e.output_tokens,
        cost_usd: e.cost_usd,
        duration_ms: e.duration_ms === null ? null : Math.round(e.duration_ms * 10) / 10,
        ...(e.error_code ? { error_code: e.error_code } : {}),
      },
      'exchange',
    );
  };
}
