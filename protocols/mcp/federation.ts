// How a federated route reaches each of its servers: through the server route's own
// transport (its undici pool for an upstream URL, its command as a stdio process), its
// exchanges recorded on that route's tracker.
import type { RouteConfig } from '../../config/config.js';
import type { Logger } from '../../core/log.js';
import type { Route } from '../route.js';
import { HttpUpstream, StdioUpstream } from './federation-upstream.js';
import type { MemberSpec } from './federation-session.js';
import { serverEnvironment } from './stdio-process.js';
import type { McpTracker } from './tracker.js';

export { federatedSessions } from './federation-session.js';

/** The member `name` of a federated route: `route` is its HTTP route, undefined for a command route. */
export function memberSpec(name: string, config: RouteConfig, route: Route | undefined, tracker: McpTracker, log: Logger): MemberSpec {
  if (route) return { name, tracker, connect: (handlers) => new HttpUpstream(route, handlers, log) };
  const command = { command: config.command!, args: config.args ?? [], env: serverEnvironment(config.env), cwd: config.cwd };
  return { name, tracker, connect: (handlers) => new StdioUpstream(name, command, handlers, log) };
}
