// A body's JSON, parsed at most once: the policy gate, the CEL context and the protocol
// observer all read the same request (and response) Buffer, and share one parse of it.

export type JsonBody = { ok: true; value: unknown } | { ok: false; reason: string };

const parsed = new WeakMap<Buffer, JsonBody>();

export function jsonBody(body: Buffer): JsonBody {
  let result = parsed.get(body);
  if (!result) {
    try {
      result = { ok: true, value: JSON.parse(body.toString('utf8')) as unknown };
    } catch (err) {
      result = { ok: false, reason: `invalid JSON: ${(err as Error).message}` };
    }
    parsed.set(body, result);
  }
  return result;
}

/** The body's JSON value, or undefined when there is no body or it is not JSON. */
export function jsonValue(body: Buffer | null | undefined): unknown {
  if (!body || body.length === 0) return undefined;
  const result = jsonBody(body);
  return result.ok ? result.value : undefined;
}
