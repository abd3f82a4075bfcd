// Where a running sidecar's admin endpoint is and the token it wants, from what a command was
// given: `tapwire approvals` (--url, --token, --config) and `tapwire tui` (--sidecar, --config)
// find it the same way.
import { loadConfig } from '../config/config.js';
import { routeProblems } from '../protocols/registry.js';
import { adminTargetOf, type AdminTarget } from '../proxy/approvals-client.js';

export interface AdminTargetGiven {
  /** The admin URL given outright. */
  url?: string;
  /** The admin token given outright. */
  token?: string;
  /** The running sidecar's tapwire.yaml. */
  config?: string;
}

/**
 * The URL given, else the config's admin.listen or listen (no config: the default listen);
 * the token given, else TAPWIRE_ADMIN_TOKEN, else the config's admin.token, else none.
 * A bad config throws ConfigError.
 */
export function adminTarget(given: AdminTargetGiven, env: NodeJS.ProcessEnv = process.env): AdminTarget {
  const fromConfig = adminTargetOf(loadConfig(given.config, env, routeProblems));
  return { url: given.url ?? fromConfig.url, token: given.token ?? env.TAPWIRE_ADMIN_TOKEN ?? fromConfig.token };
}
