// `tapwire tui [--db FILE|URL]`: opens the recorded traffic in the terminal UI. The database is
// checked before the screen takes over the terminal, so a wrong path is one plain message.
// With --sidecar (or --config), it also shows that running sidecar's calls held for approval,
// which its user (the OS user name) approves or denies. The UI's code is loaded when the
// command runs, not at every start of the CLI.
import { userInfo } from 'node:os';
import { Command } from 'commander';
import { ApprovalsClient } from '../../proxy/approvals-client.js';
import { adminTarget } from '../../tools/admin-target.js';

export const tuiCommand = new Command('tui')
  .description('explore the recorded traffic in a terminal UI (read-only; works while the sidecar records)')
  .option('--db <file|url>', 'the SQLite file or postgres:// URL to open', 'tapwire.db')
  .option('-c, --config <file>', "tapwire.yaml: its redaction applies to exports, `r` replays through its routes, and `A` shows its sidecar's held calls")
  .option('--sidecar <url>', "a running sidecar's admin URL: `A` shows the calls it holds for approval (token: TAPWIRE_ADMIN_TOKEN, else the config's admin.token)")
  .action(async (opts: { db: string; config?: string; sidecar?: string }) => {
    const [{ default: blessed }, { actionHooks }, { TuiApp }, { openRecordReader, printableLocation }] = await Promise.all([
      import('blessed'),
      import('../../tui/actions.js'),
      import('../../tui/app.js'),
      import('../../store/open.js'),
    ]);
    const hooks = actionHooks({ config: opts.config, exportDir: '.' });
    const target = opts.sidecar !== undefined || opts.config !== undefined ? adminTarget({ url: opts.sidecar, config: opts.config }) : null;
    const approvals = target ? { source: new ApprovalsClient(target), user: userInfo().username } : undefined;
    const reader = await openRecordReader(opts.db, 'browse');
    const screen = blessed.screen({ smartCSR: true, title: `tapwire ${printableLocation(opts.db)}`, warnings: false, fullUnicode: true });
    const app = new TuiApp({ reader, dbPath: opts.db, screen, hooks, ...(approvals ? { approvals } : {}) });
    try {
      await app.start();
    } finally {
      await reader.close();
    }
  });
