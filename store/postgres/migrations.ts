// Schema migrations of the central PostgreSQL record. The versions applied are rows of
// `schema_version`; each migration runs in one transaction under an advisory lock, so
// sidecars starting together migrate once. Append only: never edit a migration that has
// shipped, add the next one.
//
// exchanges, payloads and events are partitioned by day (range on started_at, Unix ms, UTC
// days): retention drops whole days, and partitions are created as records arrive
// (partitions.ts). A partitioned table's keys must hold the partition key, so each key is
// (id, started_at): an exchange's started_at never changes, so shipping a record twice
// still hits the same key and is ignored. Ids compare in the "C" collation, as SQLite
// compares them (bytes), so keyset pages by id order the same on both.
import type { PoolClient } from 'pg';
import { StoreError } from '../record-store.js';

export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'exchanges, payloads and events partitioned by day, with indexes for the readers',
    sql: `
      CREATE TABLE exchanges (
        id text COLLATE "C" NOT NULL,
        started_at bigint NOT NULL,
        ended_at bigint,
        duration_ms double precision,
        ttfb_ms double precision,
        ttft_ms double precision,
        agent text NOT NULL,
        route text NOT NULL,
        protocol text NOT NULL,
        direction text NOT NULL,
        method text,
        target text,
        session_id text,
        jsonrpc_id text,
        trace_id text,
        span_id text,
        status text NOT NULL,
        http_status integer,
        error_code text,
        error_message text,
        policy_rule text,
        policy_action text,
        policy_reason text,
        provider text,
        operation text,
        model text,
        response_model text,
        response_id text,
        finish_reasons text,
        input_tokens bigint,
        output_tokens bigint,
        cache_read_tokens bigint,
        cache_write_tokens bigint,
        reasoning_tokens bigint,
        tokens_estimated smallint NOT NULL DEFAULT 0,
        cost_usd double precision,
        streamed smallint NOT NULL DEFAULT 0,
        request_bytes bigint NOT NULL DEFAULT 0,
        response_bytes bigint NOT NULL DEFAULT 0,
        replay_of text,
        details text,
        task_id text,
        task_state text,
        parent_id text COLLATE "C",
        event_count bigint,
        events_truncated smallint NOT NULL DEFAULT 0,
        PRIMARY KEY (id, started_at)
      ) PARTITION BY RANGE (started_at);
      CREATE TABLE payloads (
        exchange_id text COLLATE "C" NOT NULL,
        started_at bigint NOT NULL,
        kind text NOT NULL CHECK (kind IN ('request', 'response')),
        headers text NOT NULL,
        body bytea,
        body_size bigint NOT NULL,
        truncated smallint NOT NULL DEFAULT 0,
        PRIMARY KEY (exchange_id, kind, started_at)
      ) PARTITION BY RANGE (started_at);
      CREATE TABLE events (
        exchange_id text COLLATE "C" NOT NULL,
        started_at bigint NOT NULL,
        seq integer NOT NULL,
        offset_ms double precision NOT NULL,
        event text,
        event_id text,
        data text NOT NULL,
        PRIMARY KEY (exchange_id, seq, started_at)
      ) PARTITION BY RANGE (started_at);
      CREATE INDEX exchanges_started_at ON exchanges (started_at);
      CREATE INDEX exchanges_agent ON exchanges (agent, id);
      CREATE INDEX exchanges_route ON exchanges (route, id);
      CREATE INDEX exchanges_protocol ON exchanges (protocol, id);
      CREATE INDEX exchanges_status ON exchanges (status, id);
      CREATE INDEX exchanges_model ON exchanges (model) WHERE model IS NOT NULL;
      CREATE INDEX exchanges_target ON exchanges (target) WHERE target IS NOT NULL;
      CREATE INDEX exchanges_session ON exchanges (session_id) WHERE session_id IS NOT NULL;
      CREATE INDEX exchanges_task ON exchanges (task_id) WHERE task_id IS NOT NULL;
      CREATE INDEX exchanges_parent ON exchanges (parent_id) WHERE parent_id IS NOT NULL;
      CREATE INDEX exchanges_replay_of ON exchanges (replay_of) WHERE replay_of IS NOT NULL;
    `,
  },
  {
    version: 2,
    description: "the agent's labels (agent.labels) per exchange, as JSON object text, so readers filter on them",
    sql: 'ALTER TABLE exchanges ADD COLUMN agent_labels text',
  },
  {
    version: 3,
    description: 'what transform rules changed in a call before it was forwarded, as a JSON list',
    sql: 'ALTER TABLE exchanges ADD COLUMN transform text',
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** One lock for every tapwire schema change (migrations, partitions): a constant key. */
export const SCHEMA_LOCK = 0x7a9_5c4e;

const VERSION_TABLE = `CREATE TABLE IF NOT EXISTS schema_version (
  version integer PRIMARY KEY,
  description text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

/** The schema version of the database (0: no tapwire schema yet). */
export async function schemaVersion(client: PoolClient): Promise<number> {
  const table = await client.query<{ exists: boolean }>("SELECT to_regclass('schema_version') IS NOT NULL AS exists");
  if (!table.rows[0]!.exists) return 0;
  const result = await client.query<{ version: number | null }>('SELECT max(version) AS version FROM schema_version');
  return result.rows[0]!.version ?? 0;
}

/** The message for a database written by a newer tapwire. */
export function tooNew(where: string, version: number): string {
  return (
    `PostgreSQL database ${where} has schema version ${version}, but this tapwire knows versions up to ${SCHEMA_VERSION}: ` +
    'it was written by a newer tapwire; upgrade tapwire or point it at another database'
  );
}

/** Brings the schema up to date (creating it), refusing a newer one with StoreError. */
export async function migrate(client: PoolClient, where: string, target = SCHEMA_VERSION): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
    await client.query(VERSION_TABLE);
    const version = await schemaVersion(client);
    if (version > SCHEMA_VERSION) throw new StoreError(tooNew(where, version));
    for (const migration of MIGRATIONS.filter((m) => m.version > version && m.version <= target)) {
      await client.query(migration.sql);
      await client.query('INSERT INTO schema_version (version, description) VALUES ($1, $2)', [migration.version, migration.description]);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
