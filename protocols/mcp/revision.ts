// The MCP protocol revision a request speaks, read from the request itself, so the messages
// tapwire writes in a server's place (refusals) take the shape that revision requires. From
// 2026-07-28 every request names its revision (the `_meta` envelope and, over HTTP, the
// MCP-Protocol-Version header), and every result must carry `resultType`; earlier revisions
// have no resultType, and a request that names no revision is one of them.
import type { IncomingHttpHeaders } from 'node:http';
import type { HeaderMap } from '../../core/headers.js';

/** The first revision whose results carry `resultType` (and whose requests carry the `_meta` envelope). */
const MODERN_REVISION = '2026-07-28';

/** The `_meta` key naming a 2026-era request's protocol revision. */
const PROTOCOL_VERSION_META = 'io.modelcontextprotocol/protocolVersion';

const REVISION = /^\d{4}-\d{2}-\d{2}$/;

function revisionOf(value: unknown): string | null {
  const text: unknown = Array.isArray(value) ? (value as unknown[])[0] : value;
  return typeof text === 'string' && REVISION.test(text) ? text : null;
}

/** The revision `params._meta` names, else the MCP-Protocol-Version header, else null (a 2025-era or older request). */
export function requestRevision(params: unknown, headers: IncomingHttpHeaders | HeaderMap): string | null {
  const meta = params !== null && typeof params === 'object' ? (params as { _meta?: unknown })._meta : undefined;
  const named = meta !== null && typeof meta === 'object' ? revisionOf((meta as Record<string, unknown>)[PROTOCOL_VERSION_META]) : null;
  return named ?? revisionOf(headers['mcp-protocol-version']);
}

/** Whether results in `revision` must carry `resultType` (dates in ISO form compare as strings). */
export function requiresResultType(revision: string | null): boolean {
  return revision !== null && revision >= MODERN_REVISION;
}

/** A result tapwire writes for a complete answer, in the shape `revision` requires. */
export function completeResult(result: Record<string, unknown>, revision: string | null): Record<string, unknown> {
  return requiresResultType(revision) ? { ...result, resultType: 'complete' } : result;
}
