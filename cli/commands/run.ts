// `tapwire run`: loads the config (or the built-in routes), starts the sidecar, and on SIGINT
// or SIGTERM finishes in-flight requests and flushes the record before exiting.
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { listenOption } from '../options.js';
import { configToRun, loadConfig } from '../../config/config.js';
import { createLogger } from '../../core/log.js';
import { routeProblems } from '../../protocols/registry.js';
import { startSidecar } from '../../proxy/sidecar.js';

export function runCommand(): Command {
  return new Command('run')
    .description('start the sidecar (built-in openai and anthropic routes when no config is given)')
    .option('-c, --config <file>', 'tapwire.yaml to load (default: ./tapwire.yaml when there is one)')
    .option('--no-config', 'ignore ./tapwire.yaml: the built-in openai and anthropic routes and the defaults')
    .addOption(listenOption('address to listen on (overrides the config; default 127.0.0.1:4100)'))
    .option('--db <file>', 'SQLite file to record into (overrides store.path; default tapwire.db)')
    .addOption(new Option('--log-level <level>', 'log level (overrides log.level)').choices(['trace', 'debug', 'info', 'warn', 'error', 'silent']))
    .option('--insecure-listen', 'allow listening off loopback without auth.tokens / admin.token (warned at every start)')
    .action(async (opts: { config?: string | false; listen?: string; db?: string; logLevel?: string; insecureListen?: boolean }) => {
      const chosen = configToRun(opts.config);
      const config = loadConfig(chosen.file ?? undefined, process.env, routeProblems);
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
}
