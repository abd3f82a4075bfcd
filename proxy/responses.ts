// Answers the proxy gives itself, before or instead of forwarding: JSON bodies, and a
// refusal (inbound authentication, an unknown admin path) in the route's own error format.
import type { ServerResponse } from 'node:http';
import type { RouteConfig } from '../config/config.js';
import { errorHeadersOf } from '../core/error-headers.js';
import type { ProtocolHandler } from '../protocols/protocol.js';
import type { Refusal } from './inbound.js';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Answers a request tapwire refuses before forwarding it, in the route's format when it has one (`rest`: the path under it). */
export function refuse(res: ServerResponse, refusal: Refusal, route: { config: RouteConfig; handler: ProtocolHandler; rest: string } | null): void {
  const body = route ? route.handler.errorBody(route.config, route.rest, refusal.status, refusal.code, refusal.message) : { error: { code: refusal.code, message: refusal.message } };
  sendJson(res, refusal.status, body, { 'x-tapwire-error': refusal.code, ...errorHeadersOf(body), ...(refusal.status === 401 ? { 'www-authenticate': 'Bearer' } : {}) });
}
