// A recorded SSE event written back as event-stream text: how `tapwire mock` serves recorded
// streams, and how a stream a policy cut short is stored as the bytes the agent received.
import type { ExchangeEvent } from './exchange.js';

/** One SSE event as text; multi-line data becomes several data lines. */
export function sseText(event: Pick<ExchangeEvent, 'event' | 'event_id' | 'data'>): string {
  let out = '';
  if (event.event) out += `event: ${event.event}\n`;
  if (event.event_id) out += `id: ${event.event_id}\n`;
  for (const line of event.data.split('\n')) out += `data: ${line}\n`;
  return `${out}\n`;
}
