// The `x-amzn-errortype` header of an AWS JSON error. tapwire's refusals on Bedrock routes are
// Bedrock's error body with the exception's name in `__type` (protocols/llm/bedrock.ts); AWS
// sends that name in this header too (`AccessDeniedException:http://internal.amazon.com/coral/com.amazon.bedrock/`),
// and the AWS SDKs read the header first, the body after. Every place tapwire writes an error
// body it made adds these headers, so its refusals carry the header as AWS's own do.

/** The header, with the type as Bedrock sends it, for an error body naming its AWS exception in `__type`; none for any other body. */
export function awsErrorTypeHeaders(body: unknown): Record<string, string> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return {};
  const type = (body as { __type?: unknown }).__type;
  return typeof type === 'string' && /^\w+$/.test(type) ? { 'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/` } : {};
}
