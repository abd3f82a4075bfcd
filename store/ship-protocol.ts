// Messages between the shipper (store/shipper.ts, on the sidecar's thread) and its worker
// (store/ship-worker.ts), and what the worker reports.

/** What the shipper knows of its progress, for logs and metrics. */
export interface ShipStats {
  /** Records stored centrally by this process (a record sent twice counts twice). */
  shipped: number;
  /** Committed local records not yet stored centrally. */
  backlog: number;
  /** How long ago the first of them (arrival order) started, in ms; 0 when there is none. */
  lagMs: number;
  /** Batches that failed (each retried). */
  failures: number;
  /** Why the central record is not taking records right now, or null when it is. */
  failure: string | null;
}

export interface ShipSettings {
  /** The local SQLite file. */
  path: string;
  /** The central record (postgres:// URL). */
  url: string;
  batchRecords: number;
  intervalMs: number;
  retryIntervalMs: number;
  /** Day partitions older than this are dropped centrally (none: kept). */
  retentionDays?: number;
}

export type ShipRequest = { type: 'close' };

export type ShipReply =
  | { type: 'stats'; stats: ShipStats }
  | { type: 'failed'; message: string; backlog: number }
  | { type: 'recovered'; shipped: number }
  | { type: 'retention'; days: number[] }
  | { type: 'closed' };
