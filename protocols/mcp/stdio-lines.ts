// Newline-delimited JSON-RPC, the stdio framing of MCP: splits a side copy of a byte stream
// into lines for the record (the stream itself is relayed untouched), and turns each line
// into a message for the tracker. A line that is not JSON-RPC is recorded as invalid.
import type { Direction } from '../../core/exchange.js';
import { classify, type JsonRpcMessage } from '../../core/jsonrpc.js';
import type { Carrier, McpSession, McpTracker } from './tracker.js';
import { parseJson } from '../../core/json-body.js';

/** The longest line kept for the record; the SDKs' own stdio buffer limit is 10 MiB. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

export type Line = { bytes: Buffer; overflowed: false } | { bytes: Buffer; overflowed: true; size: number };

/** Splits chunks into lines (without their "\n"); a line longer than `maxBytes` keeps only its start. */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;

  constructor(private readonly maxBytes: number = MAX_LINE_BYTES) {}

  push(chunk: Buffer): Line[] {
    const lines: Line[] = [];
    let start = 0;
    for (let lf = chunk.indexOf(0x0a); lf !== -1; lf = chunk.indexOf(0x0a, start)) {
      this.keep(chunk.subarray(start, lf));
      lines.push(this.take());
      start = lf + 1;
    }
    if (start < chunk.length) this.keep(chunk.subarray(start));
    return lines;
  }

  /** The stream ended: the last line if it had no "\n". */
  end(): Line[] {
    return this.size > 0 ? [this.take()] : [];
  }

  private keep(part: Buffer): void {
    const room = this.maxBytes - Math.min(this.size, this.maxBytes);
    // Chunks are referenced, not copied, until a line is complete.
    if (room > 0 && part.length > 0) this.parts.push(part.length > room ? part.subarray(0, room) : part);
    this.size += part.length;
  }

  private take(): Line {
    const bytes = this.parts.length === 1 ? Buffer.from(this.parts[0]!) : Buffer.concat(this.parts);
    const line: Line = this.size > this.maxBytes ? { bytes, overflowed: true, size: this.size } : { bytes, overflowed: false };
    this.parts = [];
    this.size = 0;
    return line;
  }
}

export type LineMessage = { kind: 'blank' } | { kind: 'message'; message: JsonRpcMessage } | { kind: 'invalid'; reason: string };

/** What one line holds: nothing (blank), one JSON-RPC message, or something else. */
export function readLine(line: Line): LineMessage {
  if (line.overflowed) return { kind: 'invalid', reason: `a line of ${line.size} bytes, longer than tapwire reads (${MAX_LINE_BYTES}); only its start is recorded` };
  const text = line.bytes.toString('utf8');
  if (text.trim() === '') return { kind: 'blank' };
  let value: unknown;
  try {
    value = parseJson(text);
  } catch (err) {
    return { kind: 'invalid', reason: `not JSON: ${(err as Error).message}` };
  }
  const message = classify(value);
  if (message.kind === 'invalid') return { kind: 'invalid', reason: Array.isArray(value) ? 'a JSON array: stdio carries no batches' : message.reason };
  return { kind: 'message', message };
}

/**
 * Hands what one line held to the tracker: a request, notification or response, or an
 * invalid message. `carrier.bytes` are the line's own bytes, recorded as they were.
 */
export function trackLine(
  tracker: McpTracker,
  session: McpSession,
  direction: Direction,
  read: LineMessage,
  carrier: Carrier & { bytes: Buffer },
  owner: object | null = null,
): void {
  if (read.kind === 'blank') return;
  if (read.kind === 'invalid') return tracker.invalid(session, direction, read.reason, carrier);
  const { message } = read;
  if (message.kind === 'request') tracker.request(session, direction, message, carrier, direction === 'client_to_server' ? owner : null);
  else if (message.kind === 'notification') tracker.notification(session, direction, message, carrier);
  else if (message.kind === 'response') tracker.response(session, direction, message, carrier);
}
