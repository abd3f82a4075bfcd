// `tapwire mock [--db F] [--listen ADDR] [--on-miss error|forward] [--timing instant|recorded]
// [--ignore PATH]... [--filter CEL] [-c CONFIG]`: serves the record (tools/mock.ts)
// until interrupted.
import { Command, Option } from 'commander';
import { parsePath } from '../../tools/canonical-json.js';
import { DEFAULT_LLM_IGNORED } from '../../tools/replay-match.js';
import { listenOption } from '../options.js';
import { ConfigError, loadConfig } from '../../config/config.js';
import { routeProblems } from '../../protocols/registry.js';

interface MockCliOptions {
  db: string;
  listen: string;
  onMiss: 'error' | 'forward';
  timing: 'instant' | 'recorded';
  ignore: string[];
  filter?: string;
  config?: string;
}

export function mockCommand(): Command {
  return new Command('mock')
    .description('serve recorded responses in place of the upstreams, so agents run offline against recorded traffic')
    .option('--db <file|url>', 'the tapwire database (file or postgres:// URL) to serve from', 'tapwire.db')
    .addOption(listenOption('address to listen on', '127.0.0.1:4100'))
    .addOption(new Option('--on-miss <what>', 'a request no recording matches: answer an error, or forward it to the route upstream (needs --config)').choices(['error', 'forward']).default('error'))
    .addOption(new Option('--timing <timing>', 'streams: all events at once, or at their recorded offsets').choices(['instant', 'recorded']).default('instant'))
    .option('--ignore <path>', `LLM request body field left out of matching, dotted (repeatable; default: ${DEFAULT_LLM_IGNORED.join(', ')})`, (value: string, previous: string[]) => [...previous, value], [])
    .option('--filter <cel>', 'serve only exchanges this CEL expression is true for')
    .option('-c, --config <file>', "tapwire.yaml: the routes' upstreams (for --on-miss forward, with their credentials), base paths and add_stream_usage")
    .action(async (opts: MockCliOptions) => {
      const config = opts.config ? loadConfig(opts.config, process.env, routeProblems) : null;
      if (opts.onMiss === 'forward' && !config) throw new ConfigError('--on-miss forward needs --config: the routes\' upstreams come from it');
      const ignored = opts.ignore.length > 0 ? opts.ignore : DEFAULT_LLM_IGNORED;
      // The server's code and the filter's CEL are loaded when the command runs, not at every start of the CLI.
      const [{ startMock }, { compileFilter }] = await Promise.all([import('../../tools/mock.js'), import('../../tools/select.js')]);
      const mock = await startMock({
        db: opts.db,
        listen: opts.listen,
        onMiss: opts.onMiss,
        timing: opts.timing,
        ignore: ignored.map(parsePath),
        filter: opts.filter ? compileFilter(opts.filter) : null,
        config,
      });
      process.stderr.write(`tapwire mock: serving ${mock.loaded} recorded exchanges from ${opts.db} on ${mock.url}\n`);
      const stop = (): void => void mock.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
