// Schema migrations for tapwire.db. The schema version lives in PRAGMA user_version; each
// migration moves the database one version up, inside one transaction. Append only: never
// edit a migration that has shipped, add the next one.

export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'exchanges, payloads and events',
    sql: `
      CREATE TABLE exchanges (
        id TEXT PRIMARY KEY,
        started_at INTEGER NOT NULL,
        ended_at INTEGER,
        duration_ms REAL,
        ttfb_ms REAL,
        agent TEXT NOT NULL,
        route TEXT NOT NULL,
        protocol TEXT NOT NULL,
        direction TEXT NOT NULL,
        method TEXT,
        target TEXT,
        session_id TEXT,
        jsonrpc_id TEXT,
        trace_id TEXT,
        span_id TEXT,
        status TEXT NOT NULL,
        http_status INTEGER,
        error_code TEXT,
        error_message TEXT,
        policy_rule TEXT,
        policy_action TEXT,
        policy_reason TEXT,
        provider TEXT,
        model TEXT,
        input_tokens INTEGER,
        output_tokens INTEGER,
        cache_read_tokens INTEGER,
        cache_write_tokens INTEGER,
        reasoning_tokens INTEGER,
        tokens_estimated INTEGER NOT NULL DEFAULT 0,
        cost_usd REAL,
        streamed INTEGER NOT NULL DEFAULT 0,
        request_bytes INTEGER NOT NULL DEFAULT 0,
        response_bytes INTEGER NOT NULL DEFAULT 0,
        replay_of TEXT
      ) STRICT;
      CREATE TABLE payloads (
        exchange_id TEXT NOT NULL REFERENCES exchanges(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('request', 'response')),
        headers TEXT NOT NULL,
        body BLOB,
        body_size INTEGER NOT NULL,
        truncated INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (exchange_id, kind)
      ) STRICT, WITHOUT ROWID;
      CREATE TABLE events (
        exchange_id TEXT NOT NULL REFERENCES exchanges(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        offset_ms REAL NOT NULL,
        event TEXT,
        event_id TEXT,
        data TEXT NOT NULL,
        PRIMARY KEY (exchange_id, seq)
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    description: 'LLM call details (operation, response model and id, finish reasons, time to first token) and list indexes',
    sql: `
      ALTER TABLE exchanges ADD COLUMN operation TEXT;
      ALTER TABLE exchanges ADD COLUMN response_model TEXT;
      ALTER TABLE exchanges ADD COLUMN response_id TEXT;
      ALTER TABLE exchanges ADD COLUMN finish_reasons TEXT;
      ALTER TABLE exchanges ADD COLUMN ttft_ms REAL;
      CREATE INDEX exchanges_started_at ON exchanges(started_at);
      CREATE INDEX exchanges_route_started_at ON exchanges(route, started_at);
      CREATE INDEX exchanges_session ON exchanges(session_id) WHERE session_id IS NOT NULL;
    `,
  },
  {
    version: 3,
    description: 'protocol-specific details (JSON), e.g. per-tool token counts of MCP tools/list',
    sql: `ALTER TABLE exchanges ADD COLUMN details TEXT;`,
  },
  {
    version: 4,
    description: 'A2A task id and normalised task state, to filter on',
    sql: `
      ALTER TABLE exchanges ADD COLUMN task_id TEXT;
      ALTER TABLE exchanges ADD COLUMN task_state TEXT;
      CREATE INDEX exchanges_task ON exchanges(task_id) WHERE task_id IS NOT NULL;
    `,
  },
  {
    version: 5,
    description: 'parent exchange id: the agent-facing exchange of a federated MCP route that caused a per-server one',
    sql: `
      ALTER TABLE exchanges ADD COLUMN parent_id TEXT;
      CREATE INDEX exchanges_parent ON exchanges(parent_id) WHERE parent_id IS NOT NULL;
    `,
  },
  {
    version: 6,
    description: 'payloads as a rowid table: in a WITHOUT ROWID table a body over ~1 KB spills into an overflow page of its own, nearly empty (bench/README.md: 5.5 GB against 2.8 GB per million exchanges)',
    sql: `
      CREATE TABLE payloads_v6 (
        exchange_id TEXT NOT NULL REFERENCES exchanges(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('request', 'response')),
        headers TEXT NOT NULL,
        body BLOB,
        body_size INTEGER NOT NULL,
        truncated INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (exchange_id, kind)
      ) STRICT;
      INSERT INTO payloads_v6 (exchange_id, kind, headers, body, body_size, truncated)
        SELECT exchange_id, kind, headers, body, body_size, truncated FROM payloads;
      DROP TABLE payloads;
      ALTER TABLE payloads_v6 RENAME TO payloads;
    `,
  },
  {
    version: 7,
    description: 'stream event counts: every event a response carried, and whether some were not stored (store.max_events, store.max_event_bytes)',
    sql: `
      ALTER TABLE exchanges ADD COLUMN event_count INTEGER;
      ALTER TABLE exchanges ADD COLUMN events_truncated INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 8,
    description: 'shipping cursors: per central record (store.central.url), the last exchange shipped, by rowid (arrival order) and id',
    sql: `
      CREATE TABLE ship_cursors (
        target TEXT PRIMARY KEY,
        last_rowid INTEGER NOT NULL,
        last_id TEXT
      ) STRICT;
    `,
  },
  {
    version: 9,
    description: "the agent's labels (agent.labels) per exchange, as JSON object text, so readers filter on them",
    sql: `ALTER TABLE exchanges ADD COLUMN agent_labels TEXT;`,
  },
  {
    version: 10,
    description: 'what transform rules changed in a call before it was forwarded, as a JSON list',
    sql: `ALTER TABLE exchanges ADD COLUMN transform TEXT;`,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
