// HAR 1.2 export (http://www.softwareishard.com/blog/har-12-spec/): one entry per exchange,
// readable by browser dev tools and HAR viewers. What HAR has no field for goes in custom
// fields, which the format allows when they start with "_": `_events` (the SSE events of a
// stream, each with its offset in ms) and `_tapwire` (the exchange's columns).
import type { ExchangeRecord, Payload } from '../core/exchange.js';
import { exportedBody } from './export.js';

interface HarNameValue {
  name: string;
  value: string;
}

export interface HarEntry {
  startedDateTime: string;
  time: number;
  request: {
    method: string;
    url: string;
    httpVersion: string;
    cookies: never[];
    headers: HarNameValue[];
    queryString: HarNameValue[];
    postData?: { mimeType: string; text: string; params?: never[] };
    headersSize: -1;
    bodySize: number;
  };
  response: {
    status: number;
    statusText: string;
    httpVersion: string;
    cookies: never[];
    headers: HarNameValue[];
    content: { size: number; mimeType: string; text?: string; encoding?: 'base64'; comment?: string };
    redirectURL: string;
    headersSize: -1;
    bodySize: number;
  };
  cache: Record<string, never>;
  timings: { send: number; wait: number; receive: number };
  _events: ExchangeRecord['events'];
  _tapwire: ExchangeRecord['exchange'];
}

export interface Har {
  log: { version: '1.2'; creator: { name: string; version: string }; entries: HarEntry[] };
}

function headerList(payload: Payload | null): HarNameValue[] {
  if (!payload) return [];
  return Object.entries(payload.headers).flatMap(([name, value]) => (Array.isArray(value) ? value : [value]).map((v) => ({ name, value: v })));
}

function header(payload: Payload | null, name: string): string | undefined {
  const value = payload?.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The HTTP method and URL of the call as the agent made it: the Host it used, the route, and
 * the path (LLM and HTTP records carry "POST /v1/...", A2A REST calls their wire method;
 * JSON-RPC calls are POSTs to the route, whose sub-path is not recorded).
 */
function requestLine(record: ExchangeRecord): { method: string; url: string } {
  const e = record.exchange;
  const host = header(record.request, 'host') ?? 'tapwire.invalid';
  const base = `http://${host}/${encodeURIComponent(e.route)}`;
  let line = /^([A-Z]+) (\/\S*)$/.exec(e.method ?? '');
  if (!line && e.details) {
    try {
      const wire = (JSON.parse(e.details) as { wire_method?: unknown }).wire_method;
      if (typeof wire === 'string') line = /^([A-Z]+) (\/\S*)$/.exec(wire);
    } catch {
      // details are the sidecar's own JSON; unreadable ones just give no path
    }
  }
  if (line) return { method: line[1]!, url: `${base}${line[2]}` };
  return { method: e.method === 'DELETE' ? 'DELETE' : 'POST', url: base };
}

function queryOf(url: string): HarNameValue[] {
  return [...new URL(url).searchParams].map(([name, value]) => ({ name, value }));
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** One HAR entry; the record should already be redacted (tools/export.ts redactedCopy). */
export function harEntry(record: ExchangeRecord): HarEntry {
  const e = record.exchange;
  const { method, url } = requestLine(record);
  const request = record.request;
  const response = record.response;
  const requestBody = request?.body && request.body.length > 0 ? exportedBody(request.body) : null;
  const responseBody = response?.body ? exportedBody(response.body) : null;
  const duration = Math.max(0, e.duration_ms ?? 0);
  const wait = Math.min(duration, Math.max(0, e.ttfb_ms ?? duration));
  const truncated = response?.truncated ? `truncated: ${response.body?.length ?? 0} of ${response.body_size} bytes stored` : undefined;
  return {
    startedDateTime: iso(e.started_at),
    time: duration,
    request: {
      method,
      url,
      httpVersion: 'HTTP/1.1',
      cookies: [],
      headers: headerList(request),
      queryString: queryOf(url),
      ...(requestBody
        ? { postData: { mimeType: header(request, 'content-type') ?? 'application/json', text: requestBody.encoding === 'utf8' ? requestBody.text : Buffer.from(requestBody.text, 'base64').toString('latin1') } }
        : {}),
      headersSize: -1,
      bodySize: request?.body_size ?? 0,
    },
    response: {
      // HAR has no status for "no response" (a denied or aborted call may have none); 0 is what browsers write.
      status: e.http_status ?? 0,
      statusText: '',
      httpVersion: 'HTTP/1.1',
      cookies: [],
      headers: headerList(response),
      content: {
        size: response?.body?.length ?? 0,
        mimeType: header(response, 'content-type') ?? 'application/octet-stream',
        ...(responseBody ? { text: responseBody.text, ...(responseBody.encoding === 'base64' ? { encoding: 'base64' as const } : {}) } : {}),
        ...(truncated ? { comment: truncated } : {}),
      },
      redirectURL: '',
      headersSize: -1,
      bodySize: response?.body_size ?? -1,
    },
    cache: {},
    timings: { send: 0, wait, receive: duration - wait },
    _events: record.events,
    _tapwire: e,
  };
}

/**
 * Writes a HAR 1.2 document entry by entry (never the whole document as one string); a
 * record whose entry cannot be made is left out and handed to `onSkip`. Returns the entries written.
 */
export async function writeHar(
  records: AsyncIterable<ExchangeRecord> | Iterable<ExchangeRecord>,
  version: string,
  write: (text: string) => void,
  onSkip: (id: string, reason: string) => void,
): Promise<number> {
  const head: Har = { log: { version: '1.2', creator: { name: 'tapwire', version }, entries: [] } };
  const [open, close] = JSON.stringify(head, null, 2).split('"entries": []');
  write(`${open}"entries": [`);
  let count = 0;
  for await (const record of records) {
    let text: string;
    try {
      text = JSON.stringify(harEntry(record), null, 2);
    } catch (err) {
      onSkip(record.exchange.id, (err as Error).message);
      continue;
    }
    write(`${count === 0 ? '\n' : ',\n'}${text}`);
    count++;
  }
  write(`${count === 0 ? '' : '\n'}]${close}\n`);
  return count;
}
