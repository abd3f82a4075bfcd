// `tapwire tui [--db FILE|URL]`: opens the recorded traffic in the terminal UI. The database is
// checked before the screen takes over the terminal, so a wrong path is one plain message.
// The UI's code is loaded when the command runs, not at every start of the CLI.
import { Command } from 'commander';

export const tuiCommand = new Command('tui')
  .description('explore the recorded traffic in a terminal UI (read-only; works while the sidecar records)')
  .option('--db <file|url>', 'the SQLite file or postgres:// URL to open', 'tapwire.db')
  .option('-c, --config <file>', "tapwire.yaml: its redaction applies to exports, and `r` replays through its routes")
  .action(async (opts: { db: string; config?: string }) => {
    const [{ default: blessed }, { actionHooks }, { TuiApp }, { openRecordReader, printableLocation }] = await Promise.all([
      import('blessed'),
      import('../../tui/actions.js'),
      import('../../tui/app.js'),
      import('../../store/open.js'),
    ]);
    const hooks = actionHooks({ config: opts.config, exportDir: '.' });
    const reader = await openRecordReader(opts.db, 'browse');
    const screen = blessed.screen({ smartCSR: true, title: `tapwire ${printableLocation(opts.db)}`, warnings: false, fullUnicode: true });
    const app = new TuiApp({ reader, dbPath: opts.db, screen, hooks });
    try {
      await app.start();
    } finally {
      await reader.close();
    }
  });
