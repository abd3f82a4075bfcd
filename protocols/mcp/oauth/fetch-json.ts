// The HTTP calls tapwire makes for MCP authorization (metadata, token endpoints,
// introspection): bounded in time and size, answered as status plus a JSON object, so an
// authorization server or upstream that hangs or floods never holds a call up or exhausts memory.

/** The largest metadata or token-endpoint answer read (real ones are a few KiB). */
const MAX_ANSWER_BYTES = 1024 * 1024;

export interface JsonAnswer {
  status: number;
  /** The body when it is a JSON object, else null. */
  json: Record<string, unknown> | null;
}

/** GET (or `init`'s method) `url`; rejects when it cannot be reached within `timeoutMs` or its body is too large. */
export async function fetchJson(url: string | URL, init: RequestInit, timeoutMs: number): Promise<JsonAnswer> {
  const response = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (response.body) {
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength;
      if (size > MAX_ANSWER_BYTES) throw new Error(`${String(url)} answered more than ${MAX_ANSWER_BYTES} bytes`);
      chunks.push(chunk);
    }
  }
  let json: unknown = null;
  try {
    json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    json = null;
  }
  return { status: response.status, json: json !== null && typeof json === 'object' && !Array.isArray(json) ? (json as Record<string, unknown>) : null };
}

/** An application/x-www-form-urlencoded POST to a token or introspection endpoint, with HTTP Basic client authentication (RFC 6749 §2.3.1). */
export function formPost(url: string, client: { client_id: string; client_secret: string }, form: Record<string, string | undefined>, timeoutMs: number): Promise<JsonAnswer> {
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(form)) if (value !== undefined) body.set(name, value);
  const basic = Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`).toString('base64');
  return fetchJson(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', authorization: `Basic ${basic}` }, body }, timeoutMs);
}
