// Messages between the recorder (request thread) and the writer worker.
import type { ExchangeRecord } from '../sidecar/exchange.js';

export type WriterRequest = { type: 'batch'; seq: number; records: ExchangeRecord[] } | { type: 'close' };

export type WriterReply =
  | { type: 'ready' }
  | { type: 'committed'; seq: number; count: number }
  | { type: 'failed'; seq: number; count: number; message: string }
  | { type: 'closed' };
