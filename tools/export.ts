// Exports of the record: one JSON line per exchange (every column, both payloads with their
// bodies, the stream events) and HAR (tools/har.ts). What is exported passes the redaction
// an exporter asks for first: the credential headers, query credentials in URLs, and the
// redact rules of a config's policy files, applied again to the copy (records written
// before a rule existed are masked too). The TUI exports single exchanges with exchangeJsonLine.
import { isUtf8 } from 'node:buffer';
import type { Config } from '../config/config.js';
import type { ExchangeRecord, Payload } from '../core/exchange.js';
import { DEFAULT_REDACTED, redactHeaders } from '../core/headers.js';
import { redactQueryCredentials } from '../core/url-credentials.js';
import { PolicySet } from '../policies/engine.js';
import { loadPolicyFiles } from '../policies/load.js';
import { PROTOCOL_CONTEXTS } from '../protocols/registry.js';
import { reviewKeepingBytes } from '../core/binary-bodies.js';
import { recordedBody } from '../store/bodies.js';
import type { RecordReader } from '../store/record-store.js';

/** What an export masks: credential header names, and the redact rules to apply. */
export interface ExportRedaction {
  headers: ReadonlySet<string>;
  /** Only the redact rules of the policy files (null: none). */
  rules: PolicySet | null;
}

/** The built-in credential headers only. */
export const DEFAULT_EXPORT_REDACTION: ExportRedaction = { headers: new Set(DEFAULT_REDACTED), rules: null };

/** A config's redaction: its `store.redact_headers` and the redact rules of its policy files (a bad file throws PolicyError). */
export function exportRedaction(config: Config): ExportRedaction {
  const files = loadPolicyFiles(config.policies).map((file) => ({ ...file, rules: file.rules.filter((rule) => rule.action === 'redact') }));
  return {
    headers: new Set([...DEFAULT_REDACTED, ...config.store.redact_headers.map((h) => h.toLowerCase())]),
    rules: files.some((f) => f.rules.length > 0) ? new PolicySet(files) : null,
  };
}

function copyPayload(payload: Payload | null, headers: ReadonlySet<string>): Payload | null {
  if (!payload) return null;
  return { ...payload, headers: redactHeaders(payload.headers, headers), body: payload.body ? Buffer.from(payload.body) : null };
}

/** A redacted copy of a record (the input is not changed). Bodies are decompressed first, so patterns can match them. */
export function redactedCopy(record: ExchangeRecord, redaction: ExportRedaction = DEFAULT_EXPORT_REDACTION): ExchangeRecord {
  const decode = (payload: Payload | null): Payload | null => {
    const copy = copyPayload(payload, redaction.headers);
    const body = recordedBody(copy);
    if (!copy || !body?.decoded || body.bytes === copy.body) return copy;
    // The body is now the decompressed one, so it no longer carries its content-encoding.
    const headers = { ...copy.headers };
    delete headers['content-encoding'];
    return { ...copy, headers, body: body.bytes };
  };
  const copy: ExchangeRecord = {
    exchange: { ...record.exchange },
    request: decode(record.request),
    response: decode(record.response),
    events: record.events.map((e) => ({ ...e })),
  };
  redactQueryCredentials(copy);
  const rules = redaction.rules;
  if (rules) reviewKeepingBytes(copy, (r) => rules.review(r, { protocols: PROTOCOL_CONTEXTS }));
  return copy;
}

/** A body for JSON output: text when it is UTF-8, else base64. */
export interface ExportedBody {
  text: string;
  encoding: 'utf8' | 'base64';
}

export function exportedBody(bytes: Buffer): ExportedBody {
  return isUtf8(bytes) ? { text: bytes.toString('utf8'), encoding: 'utf8' } : { text: bytes.toString('base64'), encoding: 'base64' };
}

interface ExportedPayload {
  headers: Payload['headers'];
  body: string | null;
  body_encoding: ExportedBody['encoding'] | null;
  body_size: number;
  truncated: boolean;
}

function exportedPayload(payload: Payload | null): ExportedPayload | null {
  if (!payload) return null;
  const body = payload.body ? exportedBody(payload.body) : null;
  return { headers: payload.headers, body: body?.text ?? null, body_encoding: body?.encoding ?? null, body_size: payload.body_size, truncated: payload.truncated };
}

/** One exchange as one JSON line (no trailing newline): {exchange, request, response, events}. */
export function exchangeJsonLine(record: ExchangeRecord, redaction: ExportRedaction = DEFAULT_EXPORT_REDACTION): string {
  const r = redactedCopy(record, redaction);
  return JSON.stringify({ exchange: r.exchange, request: exportedPayload(r.request), response: exportedPayload(r.response), events: r.events });
}

/** The JSON line of one recorded exchange by id, or null when there is none. */
export async function exportExchangeById(reader: RecordReader, id: string, redaction: ExportRedaction = DEFAULT_EXPORT_REDACTION): Promise<string | null> {
  const record = await reader.get(id);
  return record ? exchangeJsonLine(record, redaction) : null;
}

/**
 * Writes JSONL, one line per record; returns how many were written. A record that cannot be
 * exported is left out and handed to `onSkip` (without one, the error is thrown).
 */
export async function writeJsonl(
  records: AsyncIterable<ExchangeRecord> | Iterable<ExchangeRecord>,
  write: (text: string) => void,
  redaction: ExportRedaction = DEFAULT_EXPORT_REDACTION,
  onSkip?: (id: string, reason: string) => void,
): Promise<number> {
  let count = 0;
  for await (const record of records) {
    let line: string;
    try {
      line = exchangeJsonLine(record, redaction);
    } catch (err) {
      if (!onSkip) throw err;
      onSkip(record.exchange.id, (err as Error).message);
      continue;
    }
    write(`${line}\n`);
    count++;
  }
  return count;
}
