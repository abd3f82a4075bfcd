// The TUI's view of the calls a running sidecar holds for approval: read from its admin
// endpoint each refresh (the TUI itself only reads the database), one row per held call with
// its route, method, tool or model, rule, reason and arguments; approving or denying the
// selected one, as the TUI's user (the OS user name), with an optional note.
import blessed from 'blessed';
import type { ApprovalVerdict } from '../policies/decision.js';
import type { PendingApproval, Settlement } from '../policies/approvals.js';

/** Where the held calls come from and are settled: a sidecar's admin endpoint (proxy/approvals-client.ts). */
export interface ApprovalsSource {
  list(): Promise<PendingApproval[]>;
  settle(id: string, settlement: Settlement): Promise<ApprovalVerdict>;
}

/** The longest arguments text a row shows. */
const ARGUMENTS_SHOWN = 120;

export class ApprovalsPane {
  readonly list: blessed.Widgets.ListElement;
  private rows: PendingApproval[] = [];
  private selectedIndex = 0;
  /** Why the held calls could not be read (the sidecar is not running, a wrong token), or null. */
  problem: string | null = null;

  constructor(
    screen: blessed.Widgets.Screen,
    private readonly source: ApprovalsSource,
    /** Who decides here, as the record keeps it. */
    private readonly user: string,
  ) {
    this.list = blessed.list({ parent: screen, top: 1, left: 0, width: '100%', height: '100%-3', hidden: true, tags: false, style: { selected: { inverse: true } } });
  }

  /** How many calls are held. */
  get count(): number {
    return this.rows.length;
  }

  /** Reads the held calls again; keeps the selection on the same call when it is still held. */
  async refresh(): Promise<void> {
    const chosen = this.selected()?.id;
    try {
      this.rows = await this.source.list();
      this.problem = null;
    } catch (err) {
      this.problem = (err as Error).message;
      this.rows = [];
    }
    const again = this.rows.findIndex((r) => r.id === chosen);
    this.selectedIndex = again >= 0 ? again : Math.min(this.selectedIndex, Math.max(0, this.rows.length - 1));
  }

  draw(now: number): void {
    const items = this.rows.map((r) => {
      const args = JSON.stringify(r.arguments) ?? '';
      const left = Math.max(0, Math.round((r.expires_at - now) / 1000));
      return `${r.id}  ${r.route} ${r.method ?? ''} ${r.target ?? ''}  rule ${r.rule}: ${r.reason}  args ${args.length > ARGUMENTS_SHOWN ? `${args.slice(0, ARGUMENTS_SHOWN)}…` : args}  (denied in ${left}s)`;
    });
    const empty = this.problem ? `cannot read the held calls: ${this.problem}` : 'no calls are held for approval';
    this.list.setItems(items.length > 0 ? items : [empty]);
    this.list.select(this.selectedIndex);
  }

  move(step: number): void {
    this.selectedIndex = Math.max(0, Math.min(this.rows.length - 1, this.selectedIndex + step));
    this.list.select(this.selectedIndex);
  }

  selected(): PendingApproval | undefined {
    return this.rows[this.selectedIndex];
  }

  /** Settles the selected call; a line for the status bar. */
  async settle(decision: Settlement['decision'], note: string): Promise<string> {
    const chosen = this.selected();
    if (!chosen) return 'no held call is selected';
    const verdict = await this.source.settle(chosen.id, { decision, by: this.user, note: note.trim() || null });
    await this.refresh();
    return `${verdict.decision} ${chosen.target ?? chosen.method ?? chosen.id} (${chosen.id}) as ${this.user}`;
  }
}
