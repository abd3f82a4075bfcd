// The text a streamed answer carries: each provider's SSE events read for their generated
// text (response.text of the CEL context, the response gate, the TUI, replay comparison).
import { obj } from '../core/json-body.js';
import { parseJson, str } from './context-values.js';

/**
 * The text one SSE event adds to a streamed answer: the generated text of LLM stream
 * events (OpenAI chat and completions chunks, Responses API deltas, Anthropic content
 * deltas, Gemini candidates' text parts, Bedrock's Converse deltas and Nova's chunks, Ollama's
 * JSON lines),
 * or null for an event that is not one of those.
 * It reads stream events without knowing their route's provider (the TUI, replay
 * comparison and the response gate share it), so each provider's chunk shape is here.
 */
export function eventText(data: string): string | null {
  const event = obj(parseJson(data));
  if (!event) return null;
  if (Array.isArray(event.choices)) {
    return event.choices.map((c) => {
      const choice = obj(c);
      return str(obj(choice?.delta)?.content) || str(choice?.text);
    }).join('');
  }
  if (Array.isArray(event.candidates)) {
    return event.candidates.map((c) => {
      const parts = obj(obj(c)?.content)?.parts;
      return Array.isArray(parts) ? parts.map((p) => str(obj(p)?.text) ?? '').join('') : '';
    }).join('');
  }
  // Ollama's JSON lines: a chat line's message content, a generate line's response.
  const message = obj(event.message);
  if (typeof message?.content === 'string') return message.content;
  if (typeof event.response === 'string') return event.response;
  // Bedrock's Nova InvokeModel stream nests its delta (the other families' chunks are read as their own).
  const nested = obj(event.contentBlockDelta);
  if (nested) return str(obj(nested.delta)?.text) ?? '';
  const delta = event.delta;
  if (typeof delta === 'string') return delta;
  const d = obj(delta);
  if (d) return str(d.text) || str(d.partial_json) || str(d.thinking);
  return null;
}

/** response.text of a stream: the text its LLM events carry, or else the events' data, one per line. */
export function streamText(events: readonly { data: string }[]): string {
  let out = '';
  let generated = false;
  for (const event of events) {
    const piece = eventText(event.data);
    if (piece !== null) {
      out += piece;
      generated = true;
    }
  }
  return generated ? out : events.map((event) => event.data).join('\n');
}
