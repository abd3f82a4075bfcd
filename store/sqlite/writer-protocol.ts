// Messages between the recorder (request thread) and the writer worker.
import type { ExchangeRecord } from '../../core/exchange.js';

export type WriterRequest = { type: 'batch'; seq: number; records: ExchangeRecord[] } | { type: 'close' };

/** `warning`: a problem the writer repaired before writing (e.g. it recreated a deleted database file). */
export type WriterReply =
  | { type: 'committed'; seq: number; count: number; warning?: string }
  | { type: 'failed'; seq: number; count: number; message: string; warning?: string }
  | { type: 'retention'; deleted: number; error?: string }
  | { type: 'closed' };
