// A batch of records on its way from the local file to the central record: the rows of the
// record's three tables as JSON text, which the central insert hands to PostgreSQL in one
// parameter a table (json_to_recordset). The shipper has SQLite write that JSON itself
// (json_object, json_group_array), so shipping builds no object per record and parses no
// stored headers only to serialise them again: building objects was most of what shipping
// cost per record. Bodies travel as hex (SQLite's hex(), PostgreSQL's decode(…, 'hex')); every
// payload and event row carries its exchange's started_at, the partition key.

/** A payload row as it travels (JSON). */
export interface ShippedPayload {
  exchange_id: string;
  started_at: number;
  kind: 'request' | 'response';
  /** The stored headers, JSON text. */
  headers: string;
  /** Hex of the stored body (null: none). */
  body: string | null;
  body_size: number;
  truncated: number;
}

/** An event row as it travels (JSON). */
export interface ShippedEvent {
  exchange_id: string;
  started_at: number;
  seq: number;
  offset_ms: number;
  event: string | null;
  event_id: string | null;
  data: string;
}

export interface ShipRows {
  /** JSON text: an array of Exchange objects. */
  exchanges: string;
  /** JSON text: an array of ShippedPayload. */
  payloads: string;
  /** JSON text: an array of ShippedEvent. */
  events: string;
  /** started_at of the exchanges, at least one per day they fall on (the partitions they need). */
  startedAts: number[];
}
