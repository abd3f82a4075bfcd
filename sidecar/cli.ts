#!/usr/bin/env node
// The tapwire command line: `tapwire run` starts the sidecar; `tapwire wrap` stands in for a
// stdio MCP server and records its traffic; `tapwire policy` checks and tests policy files;
// `demo`, `tui`, `replay`, `mock` and `export` come from their own modules.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { knownFailure } from './cli-failures.js';
import { listenOption } from './cli-options.js';
import { configForCommand, configToRun, loadConfig } from '../config/config.js';
import { createLogger } from '../core/log.js';
import { demoCommand } from './demo/command.js';
import { runWrap, wrapCommand } from './mcp/stdio-wrap.js';
import { startSidecar } from './sidecar.js';
import { policyCheck } from '../policies/cli-check.js';
import { policyTest } from '../policies/cli-test.js';
import { tuiCommand } from '../tui/command.js';
import { exportCommand } from './replay/export-cli.js';
import { mockCommand } from './replay/mock-cli.js';
import { replayCommand } from './replay/replay-cli.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command()
  .name('tapwire')
  .description('A sidecar for AI agents: forwards, governs and records their LLM, MCP and A2A calls.')
  .version(pkg.version, '-v, --version')
  .showHelpAfterError()
  // tapwire's own options come before the command, so `wrap` can hand everything after the
  // server's command to the server (passThroughOptions).
  .enablePositionalOptions();

/** The command whose action is running, for naming its --db in a failure. */
let running: Command | null = null;
program.hook('preAction', (_program, command) => {
  running = command;
});

program
  .command('run')
  .description('start the sidecar (built-in openai and anthropic routes when no config is given)')
  .option('-c, --config <file>', 'tapwire.yaml to load (default: ./tapwire.yaml when there is one)')
  .option('--no-config', 'ignore ./tapwire.yaml: the built-in openai and anthropic routes and the defaults')
  .addOption(listenOption('address to listen on (overrides the config; default 127.0.0.1:4100)'))
  .option('--db <file>', 'SQLite file to record into (overrides store.path; default tapwire.db)')
  .addOption(new Option('--log-level <level>', 'log level (overrides log.level)').choices(['trace', 'debug', 'info', 'warn', 'error', 'silent']))
  .option('--insecure-listen', 'allow listening off loopback without auth.tokens / admin.token (warned at every start)')
  .action(async (opts: { config?: string | false; listen?: string; db?: string; logLevel?: string; insecureListen?: boolean }) => {
    const chosen = configToRun(opts.config);
    const config = loadConfig(chosen.file ?? undefined);
    if (opts.listen) config.listen = opts.listen;
    if (opts.db) config.store.path = opts.db;
    if (opts.logLevel) config.log.level = opts.logLevel as typeof config.log.level;
    const log = createLogger(config.log.level);
    const configFile = chosen.file === null ? null : resolve(chosen.file);
    log.info({ config: configFile }, configFile ? `config: ${configFile}` : `config: none (${chosen.reason})`);
    const sidecar = await startSidecar(config, log, process.env, { insecureListen: opts.insecureListen ?? false });
    log.info({ url: sidecar.url, db: config.store.path, routes: Object.keys(config.routes), agent: config.agent.name }, 'tapwire listening');
    log.flush();
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) {
        log.warn({ signal }, 'second signal: exiting without waiting');
        process.exit(1);
      }
      stopping = true;
      log.info({ signal, deadline_ms: config.shutdown_timeout_ms }, 'stopping: finishing in-flight requests, then flushing the record');
      sidecar
        .close()
        .then(() => {
          const stats = sidecar.recorder.getStats();
          log.info({ recorded: stats.committed, failed: stats.failed }, 'stopped');
          log.flush();
          process.exitCode = stats.failed > 0 ? 1 : 0;
        })
        .catch((err: unknown) => {
          log.error({ err }, 'stop failed');
          log.flush();
          process.exitCode = 1;
        });
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });

program
  .command('wrap')
  .description('run a stdio MCP server in place of the client\'s command, relaying and recording its messages')
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
    const config = opts.config
      ? loadConfig(opts.config)
      : configForCommand(opts.route, commandLine[0] ?? '', commandLine.slice(1));
    if (opts.db) config.store.path = opts.db;
    const command = wrapCommand(config, opts.route, commandLine);
    const log = createLogger(opts.logLevel, process.stderr);
    process.exit(await runWrap({ config, routeName: opts.route, command, log }));
  });

program.addCommand(demoCommand);

const policy = program.command('policy').description('check and test CEL policy files');
policy
  .command('check')
  .description('parse and type-check policy files; errors name the file, line and column')
  .argument('<files...>', 'policy files (wildcards allowed in the file name)')
  .action((files: string[]) => {
    process.exitCode = policyCheck(files, process.stdout, process.stderr);
  });
policy
  .command('test')
  .description("run policy files' inline tests; with --db, what they would have done to the recorded traffic")
  .argument('<files...>', 'policy files (wildcards allowed in the file name)')
  .option('--db <file>', 'a tapwire database to evaluate the policies against')
  .option('--since <duration>', 'only exchanges recorded within this long, e.g. 12h or 7d')
  .action((files: string[], opts: { db?: string; since?: string }) => {
    process.exitCode = policyTest(files, opts, process.stdout, process.stderr);
  });

program.addCommand(tuiCommand);
program.addCommand(exportCommand());
program.addCommand(mockCommand());
program.addCommand(replayCommand());

try {
  await program.parseAsync();
} catch (err) {
  const failure = knownFailure(err, running);
  if (failure === null) throw err;
  process.stderr.write(`tapwire: ${failure}\n`);
  process.exit(2);
}
