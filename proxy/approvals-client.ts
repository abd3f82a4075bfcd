// The client of a running sidecar's approvals endpoint (approvals-endpoint.ts), shared by
// `tapwire approvals` and the TUI: where the endpoint is (a URL, or the config's admin.listen
// or listen, and admin.token), listing the held calls and settling one. Failures are
// AdminCallError, one line saying what went wrong.
import type { Config } from '../config/config.js';
import type { ApprovalVerdict } from '../policies/decision.js';
import type { PendingApproval, Settlement } from '../policies/approvals.js';
import { APPROVALS_PATH } from './approvals-endpoint.js';

export class AdminCallError extends Error {
  override readonly name = 'AdminCallError';
}

/** Where a sidecar's admin endpoints are, and the token they want (null: none). */
export interface AdminTarget {
  url: string;
  token: string | null;
}

/** How long a call to the admin endpoint may take. */
const ADMIN_CALL_TIMEOUT_MS = 10_000;

/** The admin endpoints of the sidecar a config runs: admin.listen's, or the agents' listener (an any-address listen reached on loopback). */
export function adminTargetOf(config: Config): AdminTarget {
  const listen = (config.admin.listen ?? config.listen).replace(/^0\.0\.0\.0:/, '127.0.0.1:').replace(/^\[::\]:/, '[::1]:');
  return { url: `http://${listen}`, token: config.admin.token ?? null };
}

export class ApprovalsClient {
  constructor(private readonly target: AdminTarget) {}

  /** The calls held now, oldest first. */
  async list(): Promise<PendingApproval[]> {
    const body = (await this.call('GET', APPROVALS_PATH)) as { approvals: PendingApproval[] };
    return body.approvals;
  }

  /** Settles the held call `id`; AdminCallError when none is held under it. */
  async settle(id: string, settlement: Settlement): Promise<ApprovalVerdict> {
    const path = `${APPROVALS_PATH}/${encodeURIComponent(id)}/${settlement.decision}`;
    const body = (await this.call('POST', path, { as: settlement.by, ...(settlement.note ? { note: settlement.note } : {}) })) as { approval: ApprovalVerdict };
    return body.approval;
  }

  private async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.target.token) headers.authorization = `Bearer ${this.target.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const url = new URL(path, this.target.url);
    let response: Response;
    try {
      response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(ADMIN_CALL_TIMEOUT_MS) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new AdminCallError(`cannot reach the sidecar's admin endpoint at ${this.target.url} (${cause}): is tapwire running there? (--url, or --config for its admin.listen)`);
    }
    const text = await response.text();
    let parsed: unknown = null;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON: reported below by status.
    }
    if (response.ok && parsed !== null && typeof parsed === 'object') return parsed;
    const message = (parsed as { error?: { message?: unknown } } | null)?.error?.message;
    const why = typeof message === 'string' ? message : `HTTP ${response.status}`;
    if (response.status === 401) throw new AdminCallError(`${this.target.url}: ${why} (--token, TAPWIRE_ADMIN_TOKEN, or --config with admin.token)`);
    throw new AdminCallError(`${this.target.url}: ${why}`);
  }
}
