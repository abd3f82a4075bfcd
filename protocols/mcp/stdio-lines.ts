// Newline-delimited JSON-RPC, the stdio framing of MCP: turns each line (core/lines.ts splits
// them) into a message for the tracker. A line that is not JSON-RPC is recorded as invalid.
import type { Direction } from '../../core/exchange.js';
import { classify, type JsonRpcMessage } from '../../core/jsonrpc.js';
import type { Carrier, McpSession, McpTracker } from './tracker.js';
import { parseJson } from '../../core/json-body.js';
import { MAX_LINE_BYTES, type Line } from '../../core/lines.js';

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
