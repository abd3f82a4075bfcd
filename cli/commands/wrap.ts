// `tapwire wrap --route NAME [options] [--] [COMMAND ARGS...]`: stands in for a stdio MCP
// server in the client's config, relaying and recording its messages (proxy/wrap.ts).
import { Command, Option } from 'commander';
import { configForCommand, loadConfig } from '../../config/config.js';
import { createLogger } from '../../core/log.js';
import { routeProblems } from '../../protocols/registry.js';
import { runWrap, wrapCommand } from '../../proxy/wrap.js';

export function wrapCliCommand(): Command {
  return (
    new Command('wrap')
      .description("run a stdio MCP server in place of the client's command, relaying and recording its messages")
      .usage('--route <name> [options] [--] [<command> [args...]]')
      // Everything from the server's command on is the server's, with or without `--`.
      .passThroughOptions()
      .requiredOption('--route <name>', 'the mcp route to record under (without --config: any name)')
      .option('-c, --config <file>', 'tapwire.yaml to load (agent, store, and the route: its command, env, cwd)')
      .option('--db <file>', 'SQLite file to record into (overrides store.path; default tapwire.db)')
      .addOption(
        new Option('--log-level <level>', "tapwire's own messages, on stderr (stdout is the protocol's)")
          .choices(['trace', 'debug', 'info', 'warn', 'error', 'silent'])
          .default('warn'),
      )
      .argument('[command...]', "the server's command and arguments; default: the route's command")
      .action(async (commandLine: string[], opts: { route: string; config?: string; db?: string; logLevel: string }) => {
        const config = opts.config ? loadConfig(opts.config, process.env, routeProblems) : configForCommand(opts.route, commandLine[0] ?? '', commandLine.slice(1));
        if (opts.db) config.store.path = opts.db;
        const command = wrapCommand(config, opts.route, commandLine);
        const log = createLogger(opts.logLevel, process.stderr);
        process.exit(await runWrap({ config, routeName: opts.route, command, log }));
      })
  );
}
