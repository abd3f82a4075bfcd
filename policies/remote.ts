// Policy files served over HTTP (a `policies:` entry that is an https:// URL, or http:// on
// loopback): fetched with If-None-Match, so an unchanged set costs a 304, and each version
// named by its ETag or, when the server sends none, a hash of its content.
import { createHash } from 'node:crypto';

/** One policy file as last fetched from its URL. */
export interface RemotePolicy {
  url: string;
  text: string;
  etag: string | null;
  /** The ETag, or "sha256:" and the start of the content's hash. */
  version: string;
}

/** How long a policy server has to answer before the fetch counts as failed. */
const FETCH_TIMEOUT_MS = 10_000;

/**
 * Fetches `url`; with `previous`, asks only for a change (If-None-Match) and answers null on
 * 304. Throws an Error saying what went wrong (unreachable, timed out, an HTTP error status).
 */
export async function fetchPolicy(url: string, previous: RemotePolicy | null, timeoutMs = FETCH_TIMEOUT_MS): Promise<RemotePolicy | null> {
  const headers: Record<string, string> = { accept: 'application/yaml, text/yaml, text/plain, */*' };
  if (previous?.etag) headers['if-none-match'] = previous.etag;
  let res: Response;
  try {
    res = await fetch(url, { headers, redirect: 'error', signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(`cannot fetch policy file: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
  }
  if (res.status === 304 && previous) {
    await res.body?.cancel();
    return null;
  }
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new Error(`cannot fetch policy file: HTTP ${res.status}`);
  }
  const text = await res.text();
  const etag = res.headers.get('etag');
  return { url, text, etag, version: etag ?? `sha256:${createHash('sha256').update(text).digest('hex').slice(0, 16)}` };
}
