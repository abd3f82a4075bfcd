// The admin endpoint of calls held for approval: GET /_tapwire/approvals lists them, POST
// /_tapwire/approvals/<id>/approve (or /deny) with {"as": "who", "note": "why"} settles one.
// The TUI and `tapwire approvals` use it; it sits behind the admin token like the others.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { jsonValue } from '../core/json-body.js';
import type { Approvals } from '../policies/approvals.js';
import { BodyTooLarge, readBody } from '../protocols/refusal.js';
import { sendJson } from './responses.js';

export const APPROVALS_PATH = '/_tapwire/approvals';

/** The largest settlement body read: a name and a note. */
const MAX_SETTLEMENT_BYTES = 16 * 1024;
/** The longest `as` and `note` kept. */
const MAX_NAME_CHARS = 200;
const MAX_NOTE_CHARS = 2000;

/** Held calls' ids are their exchanges' ids (ULIDs). */
const SETTLE = /^\/_tapwire\/approvals\/([0-9A-Za-z]+)\/(approve|deny)$/;

/** True for a path this endpoint serves. */
export function isApprovalsPath(url: string): boolean {
  return url === APPROVALS_PATH || SETTLE.test(url);
}

/**
 * Serves a request for `url` (isApprovalsPath). `caller`: who decides when the body names
 * nobody (the admin token's holder, or a caller on loopback).
 */
export async function serveApprovals(req: IncomingMessage, res: ServerResponse, url: string, approvals: Approvals, caller: string): Promise<void> {
  if (url === APPROVALS_PATH) {
    if (req.method !== 'GET') return sendJson(res, 405, { error: { code: 'method_not_allowed', message: `GET ${APPROVALS_PATH} lists the held calls` } }, { allow: 'GET' });
    return sendJson(res, 200, { approvals: approvals.list() });
  }
  const [, id, action] = SETTLE.exec(url)!;
  if (req.method !== 'POST') return sendJson(res, 405, { error: { code: 'method_not_allowed', message: `POST ${url} with {"as": "name", "note": "text"}` } }, { allow: 'POST' });
  let body: Buffer;
  try {
    body = await readBody(req, MAX_SETTLEMENT_BYTES);
  } catch (err) {
    if (err instanceof BodyTooLarge) return sendJson(res, 413, { error: { code: 'too_large', message: `a settlement is at most ${MAX_SETTLEMENT_BYTES} bytes` } });
    return; // the caller went away
  }
  const fields = body.length === 0 ? {} : jsonValue(body);
  if (fields === null || typeof fields !== 'object' || Array.isArray(fields)) {
    return sendJson(res, 400, { error: { code: 'bad_request', message: 'the body is a JSON object: {"as": "name", "note": "text"}, both optional' } });
  }
  const { as, note } = fields as Record<string, unknown>;
  for (const [name, value, max] of [['as', as, MAX_NAME_CHARS], ['note', note, MAX_NOTE_CHARS]] as const) {
    if (value !== undefined && (typeof value !== 'string' || value.length > max)) {
      return sendJson(res, 400, { error: { code: 'bad_request', message: `${name}: text of at most ${max} characters` } });
    }
  }
  const settled = approvals.settle(id!, {
    decision: action === 'approve' ? 'approve' : 'deny',
    by: typeof as === 'string' && as !== '' ? as : caller,
    note: typeof note === 'string' && note !== '' ? note : null,
  });
  if ('problem' in settled) return sendJson(res, 404, { error: { code: 'not_held', message: settled.problem } });
  sendJson(res, 200, { approval: settled.verdict });
}
