// Headers an error body asks to be sent with it. A protocol's error body may need headers of its
// own (Bedrock's `x-amzn-errortype`, which the AWS SDKs read before the body); the places that
// write an error body tapwire made add errorHeadersOf(body) without knowing which protocol made
// it. The headers ride on the body under a symbol, which JSON.stringify leaves out.

const ERROR_HEADERS = Symbol('tapwire.errorHeaders');

type WithErrorHeaders = { [ERROR_HEADERS]?: Readonly<Record<string, string>> };

/** `body`, carrying `headers` to be sent with it. */
export function withErrorHeaders<T extends object>(body: T, headers: Readonly<Record<string, string>>): T {
  Object.defineProperty(body, ERROR_HEADERS, { value: headers, enumerable: false });
  return body;
}

/** The headers `body` asks to be sent with it; none for a body that asks none. */
export function errorHeadersOf(body: unknown): Readonly<Record<string, string>> {
  return (body !== null && typeof body === 'object' && (body as WithErrorHeaders)[ERROR_HEADERS]) || {};
}
