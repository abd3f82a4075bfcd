// Opt-in message content on spans (telemetry.capture_content): the GenAI conventions'
// content attributes (gen_ai.input.messages, gen_ai.tool.call.arguments, ...) are JSON
// strings, built from the record after the policies' redact rules have masked it, each
// capped at CONTENT_MAX_CHARS. Which content a protocol has is its own (protocols/llm/
// telemetry-content.ts, protocols/mcp/telemetry.ts); the cap is the same for all.
import type { Attributes } from '@opentelemetry/api';

/** The longest content attribute, in characters; longer ones are cut and end with TRUNCATED_MARK. */
export const CONTENT_MAX_CHARS = 16 * 1024;
export const TRUNCATED_MARK = '…[truncated]';

function capped(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > CONTENT_MAX_CHARS ? text.slice(0, CONTENT_MAX_CHARS - TRUNCATED_MARK.length) + TRUNCATED_MARK : text;
}

/** Sets a content attribute (as JSON text unless it is a string, capped) unless the value is absent or an empty list. */
export function putContent(attributes: Attributes, key: string, value: unknown): void {
  if (value !== undefined && value !== null && !(Array.isArray(value) && value.length === 0)) attributes[key] = capped(value);
}
