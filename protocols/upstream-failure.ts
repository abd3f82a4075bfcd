// Why a call to a route's upstream failed, as a status, a code and a message naming the
// upstream and the route's timeout at fault: what the proxy answers an agent with, and what
// an openapi route's tool call reports (protocols/openapi/).
import { errors as undiciErrors } from 'undici';
import type { Route } from './route.js';

export interface GatewayFailure {
  status: 502 | 503 | 504;
  code: string;
  message: string;
}

export function classifyUpstreamError(err: unknown, route: Route): GatewayFailure {
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const code = e.code ?? e.cause?.code ?? '';
  const where = `upstream ${route.upstream.origin} (route ${route.name})`;
  const t = route.config.timeouts;
  if (err instanceof undiciErrors.ConnectTimeoutError || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return { status: 504, code: 'upstream_connect_timeout', message: `could not connect to ${where} within ${t.connect_ms} ms` };
  }
  if (err instanceof undiciErrors.HeadersTimeoutError || code === 'UND_ERR_HEADERS_TIMEOUT') {
    return { status: 504, code: 'upstream_timeout', message: `${where} sent no response within ${t.response_ms} ms` };
  }
  if (err instanceof undiciErrors.BodyTimeoutError || code === 'UND_ERR_BODY_TIMEOUT') {
    return { status: 504, code: 'upstream_timeout', message: `${where} sent nothing for ${t.idle_ms} ms mid-response` };
  }
  if (['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'].includes(code)) {
    return { status: 502, code: 'upstream_unreachable', message: `cannot reach ${where}: ${code}` };
  }
  if (['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'].includes(code) || err instanceof undiciErrors.SocketError) {
    return { status: 502, code: 'upstream_reset', message: `${where} closed the connection: ${e.message}` };
  }
  return { status: 502, code: 'upstream_error', message: `${where} failed: ${e.message ?? String(err)}` };
}
