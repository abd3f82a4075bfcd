// The selected exchange as a curl command that sends the recorded request again through the
// sidecar's route. Credentials stay as the record holds them ("[redacted]"): the command says
// which headers need the real value, and never carries one.
import type { ExchangeRecord } from '../sidecar/exchange.js';
import { REDACTED } from '../sidecar/headers.js';

/** Headers curl or the HTTP stack sets itself. */
const SKIP = new Set(['host', 'content-length', 'connection', 'keep-alive', 'transfer-encoding', 'accept-encoding', 'traceparent', 'tracestate']);

/** A single-quoted shell word. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * curl for the recorded request, against `${TAPWIRE_URL}` (the sidecar, default
 * http://127.0.0.1:4100) and the exchange's route. LLM and HTTP records carry the path under
 * the route; JSON-RPC records (MCP, A2A) do not, so those post to the route's root.
 */
export function curlCommand(record: ExchangeRecord): string {
  const e = record.exchange;
  const http = /^([A-Z]+) (\S+)$/.exec(e.method ?? '');
  const verb = http?.[1] ?? 'POST';
  const path = http?.[2] ?? '';
  const headers = Object.entries(record.request?.headers ?? {}).filter(([name]) => !SKIP.has(name.toLowerCase()));
  const redacted = headers.filter(([, value]) => value === REDACTED).map(([name]) => name);
  const lines = [
    '#!/bin/sh',
    `# tapwire exchange ${e.id}: ${e.protocol} ${e.method ?? ''} ${e.target ?? ''} (${e.status}), recorded ${new Date(e.started_at).toISOString()}`,
    ...(redacted.length > 0 ? [`# ${redacted.join(', ')}: redacted in the record; put the real value in before sending`] : []),
    ...(http ? [] : ['# JSON-RPC records do not keep the path under the route: add it to the URL if the server needs one (e.g. /mcp)']),
    ...(record.request?.truncated ? ['# the recorded body was truncated: this is not the whole request'] : []),
    `curl -sS -X ${verb} "\${TAPWIRE_URL:-http://127.0.0.1:4100}/${e.route}${path}" \\`,
    ...headers.map(([name, value]) => `  -H ${shellQuote(`${name}: ${Array.isArray(value) ? value.join(', ') : value}`)} \\`),
  ];
  const body = record.request?.body;
  if (body && body.length > 0) lines.push(`  --data-binary ${shellQuote(body.toString('utf8'))}`);
  else lines[lines.length - 1] = lines[lines.length - 1]!.replace(/ \\$/, '');
  return `${lines.join('\n')}\n`;
}
