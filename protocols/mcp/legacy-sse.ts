// The legacy HTTP+SSE transport (2024-11-05) as tapwire relays it. A session is its GET
// stream; the client's POSTs find it by the endpoint URL that stream announced, whatever that
// URL's query parameters are called (`sessionId` from the TypeScript SDK, `session_id` from
// the Python SDK). Answers travel on the GET stream, never on the POST (which gets 202), so
// what tapwire answers in the server's place (a refusal) is sent there, and the answers the
// policies must review before the agent sees them (list filtering, response-phase rules)
// are reviewed there.
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { AnswerReviews } from './answer-review.js';
import type { McpTracker } from './tracker.js';

/** A legacy session's GET stream to the agent. */
export class LegacyStream {
  /** Reviews of the answers to requests let through, by request id. */
  readonly reviews = new AnswerReviews();

  constructor(
    private readonly agent: ServerResponse,
    /** The session id its exchanges are recorded under. */
    readonly sessionId: string,
  ) {}

  /**
   * Sends JSON-RPC messages to the agent as the transport's `message` events, whole events
   * between the server's (the relay re-emits those whole). False when the stream is gone.
   */
  send(messages: readonly unknown[]): boolean {
    if (this.agent.destroyed || !this.agent.writable) return false;
    this.agent.write(messages.map((message) => `event: message\ndata: ${JSON.stringify(message)}\n\n`).join(''));
    return true;
  }
}

/** The tracker key of the legacy session whose endpoint is `url`, a path and query on tapwire. */
export function endpointKey(url: string): string {
  const parsed = new URL(url, 'http://tapwire.invalid');
  return `legacy-sse ${parsed.pathname}${parsed.search}`;
}

/**
 * The session id recorded for a legacy session: the value of the endpoint's query parameter
 * that names it (`sessionId`, `session_id`, any case), else the endpoint's path and query.
 * Only the record's label depends on the name; correlation uses the whole URL.
 */
export function endpointSessionId(endpoint: URL): string {
  for (const [name, value] of endpoint.searchParams) {
    if (value && name.replace(/[-_]/g, '').toLowerCase() === 'sessionid') return value;
  }
  return `${endpoint.pathname}${endpoint.search}`;
}

/** The GET stream of the legacy session a POST (without Mcp-Session-Id) was sent to, if tapwire relays one. */
export function legacyStreamOf(tracker: McpTracker, req: { url?: string; headers: IncomingHttpHeaders }): LegacyStream | null {
  if (req.headers['mcp-session-id'] !== undefined) return null;
  return tracker.find(endpointKey(req.url ?? '/'))?.legacy ?? null;
}
