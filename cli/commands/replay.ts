// `tapwire replay [--db F] (ID... | --filter CEL) [-c CONFIG] [--route NAME | --to URL]
// [--concurrency N] [--path ROUTE=PATH]... [--ignore PATH]...`: replays the selected exchanges
// (tools/replay.ts) through a sidecar started in-process from the config, recording
// into the same database, or through a running one (--to), and prints one comparison per exchange.
import { Command } from 'commander';
import { SelectionError } from '../../tools/selection-error.js';
import type { ReplayCliOptions } from '../../tools/replay-run.js';

export function replayCommand(): Command {
  return new Command('replay')
    .description('send recorded requests again through a live route and compare the answers with the recorded ones')
    .argument('[ids...]', 'exchange ids to replay')
    .option('--db <file|url>', 'the tapwire database (file or postgres:// URL) to read from (and, without --to, record the replays into)', 'tapwire.db')
    .option('--filter <cel>', 'replay the exchanges this CEL expression is true for')
    .option('-c, --config <file>', 'tapwire.yaml: the routes, with their upstream credentials (default: the built-in openai and anthropic routes)')
    .option('--route <name>', 'send every call to this route of the config instead of its recorded one')
    .option('--to <url>', 'send through a running sidecar at this URL instead of starting one (it records the replays in its own database)')
    .option('--concurrency <n>', 'independent calls (an LLM call, an MCP session, an A2A route) replayed at once', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new SelectionError(`--concurrency ${v}: expected a whole number of at least 1`);
      return n;
    }, 1)
    .option('--path <route=path>', 'sub-path of a JSON-RPC endpoint under its route, e.g. tools=/mcp (repeatable; A2A defaults to the recorded agent card\'s)', (v: string, all: string[]) => [...all, v], [])
    .option('--ignore <path>', 'response field left out of the diff, dotted (repeatable)', (v: string, all: string[]) => [...all, v], [])
    .action(async (ids: string[], opts: Omit<ReplayCliOptions, 'ids'>) => {
      // Loaded when the command runs, not at every start of the CLI.
      const [{ runReplay }, { replayFailed }] = await Promise.all([import('../../tools/replay-run.js'), import('../../tools/replay.js')]);
      const results = await runReplay({ ...opts, ids }, process.stdout);
      const failed = results.filter(replayFailed).length;
      if (failed > 0) process.stderr.write(`tapwire replay: ${failed} of ${results.length} replays failed\n`);
      process.exitCode = failed > 0 ? 1 : 0;
    });
}
