// `tapwire approvals [list | approve ID | deny ID]`: the calls a running sidecar holds for a
// person's approval, and settling one, through its admin endpoint (--url, or the config's
// admin.listen or listen; --token, TAPWIRE_ADMIN_TOKEN or the config's admin.token).
import { userInfo } from 'node:os';
import { Command } from 'commander';
import type { PendingApproval } from '../../policies/approvals.js';
import { ApprovalsClient } from '../../proxy/approvals-client.js';
import { adminTarget, type AdminTargetGiven } from '../../tools/admin-target.js';

/** The longest arguments text a listing shows of each call. */
const ARGUMENTS_SHOWN = 200;

/** One held call as the listing prints it: id, how long it has waited and has left, route, method and target, rule, reason, arguments. */
function describeHeld(held: PendingApproval, now: number): string {
  const waited = Math.round((now - held.held_at) / 1000);
  const left = Math.max(0, Math.round((held.expires_at - now) / 1000));
  const args = JSON.stringify(held.arguments) ?? '';
  const shown = args.length > ARGUMENTS_SHOWN ? `${args.slice(0, ARGUMENTS_SHOWN)}…` : args;
  return [
    `${held.id}  waiting ${waited}s, denied in ${left}s`,
    `  ${held.route} (${held.protocol})  ${held.method ?? ''}${held.target ? `  ${held.target}` : ''}`,
    `  rule ${held.rule}: ${held.reason}`,
    `  arguments ${shown}`,
  ].join('\n');
}

function withTarget(command: Command): Command {
  return command
    .option('--url <url>', "the sidecar's admin URL (default: from --config, else http://127.0.0.1:4100)")
    .option('--token <token>', 'the admin token (default: TAPWIRE_ADMIN_TOKEN, else the config\'s admin.token)')
    .option('-c, --config <file>', "tapwire.yaml of the running sidecar: its admin.listen (or listen) and admin.token");
}

function settleCommand(decision: 'approve' | 'deny'): Command {
  return withTarget(new Command(decision))
    .description(decision === 'approve' ? 'let a held call go on to its upstream' : 'refuse a held call (the agent gets the policy refusal)')
    .argument('<id>', 'the held call\'s id, as `tapwire approvals list` shows it')
    .option('--as <name>', 'who decides, as the record keeps it (default: your user name)')
    .option('--note <text>', 'why, kept in the record (and, for a denial, told to the agent)')
    .action(async (id: string, opts: AdminTargetGiven & { as?: string; note?: string }) => {
      const verdict = await new ApprovalsClient(adminTarget(opts)).settle(id, { decision, by: opts.as ?? userInfo().username, note: opts.note ?? null });
      process.stdout.write(`${verdict.id}: ${verdict.decision} by ${verdict.by ?? ''} after ${Math.round(verdict.wait_ms / 1000)}s\n`);
    });
}

export function approvalsCommand(): Command {
  const approvals = new Command('approvals').description('list the calls a running sidecar holds for approval, and approve or deny them');
  approvals.addCommand(
    withTarget(new Command('list'))
      .description('the held calls, oldest first (the default)')
      .action(async (opts: AdminTargetGiven) => {
        const held = await new ApprovalsClient(adminTarget(opts)).list();
        const now = Date.now();
        process.stdout.write(held.length === 0 ? 'no calls are held for approval\n' : `${held.map((h) => describeHeld(h, now)).join('\n\n')}\n`);
      }),
    { isDefault: true },
  );
  approvals.addCommand(settleCommand('approve'));
  approvals.addCommand(settleCommand('deny'));
  return approvals;
}
