// The admin endpoints (/_tapwire/health, /_tapwire/metrics, /_tapwire/approvals), on the
// agents' listener or on admin.listen's own, behind the admin token when one is set.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Config } from '../config/config.js';
import type { Approvals } from '../policies/approvals.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import { METRICS_PATH } from '../telemetry/telemetry.js';
import { ADMIN_PREFIX, type InboundGuard } from './inbound.js';
import { refuse, sendJson } from './responses.js';
import { isApprovalsPath, serveApprovals } from './approvals-endpoint.js';

export class AdminEndpoints {
  constructor(
    private readonly config: Config,
    private readonly guard: InboundGuard,
    private readonly telemetry: Telemetry,
    private readonly approvals: Approvals,
  ) {}

  /** True for a request the admin endpoints answer rather than a route. */
  static isAdmin(url: string): boolean {
    return url.startsWith(ADMIN_PREFIX);
  }

  /** Answers an admin request that came to the agents' listener. */
  serveOnAgentListener(req: IncomingMessage, res: ServerResponse): void {
    // With an admin listener of their own, the admin endpoints are not on the agents' one.
    if (this.config.admin.listen) return sendJson(res, 404, { error: { code: 'not_found', message: `the admin endpoints are on ${this.config.admin.listen}` } });
    this.serve(req, res);
  }

  /** admin.listen's own listener: only /_tapwire/* is there. */
  listener(): Server {
    return createServer((req, res) => {
      const refusal = this.guard.checkAgent(req);
      if (refusal) return refuse(res, refusal, null);
      if (!AdminEndpoints.isAdmin(req.url ?? '/')) return sendJson(res, 404, { error: { code: 'not_found', message: 'this is the admin listener: only /_tapwire/* is here' } });
      this.serve(req, res);
    });
  }

  /** /_tapwire/health, /_tapwire/metrics and /_tapwire/approvals, on whichever listener serves them. */
  private serve(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const refusal = this.guard.checkAdmin(req);
    if (refusal) return refuse(res, refusal, null);
    if (url === '/_tapwire/health') return sendJson(res, 200, { status: 'ok', routes: Object.keys(this.config.routes) });
    if (url === METRICS_PATH && req.method === 'GET' && this.telemetry.serveMetrics(req, res)) return;
    // Who settles a held call when the caller names nobody: whoever holds the admin token, or a caller on loopback.
    if (isApprovalsPath(url)) return void serveApprovals(req, res, url, this.approvals, this.config.admin.token ? 'admin.token' : 'loopback');
    sendJson(res, 404, { error: { code: 'not_found', message: `no admin endpoint ${url}` } });
  }
}
