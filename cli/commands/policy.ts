// `tapwire policy check|test`: the command group; each subcommand's work is in its own file
// (policy-check.ts, policy-test.ts), loaded when it runs: the CLI's other commands, `run`
// above all, load no CEL (issue 23).
import { Command } from 'commander';

export function policyCommand(): Command {
  const policy = new Command('policy').description('check and test CEL policy files');
  policy
    .command('check')
    .description('parse and type-check policy files; errors name the file, line and column')
    .argument('<files...>', 'policy files (wildcards allowed in the file name)')
    .action(async (files: string[]) => {
      const { policyCheck } = await import('./policy-check.js');
      process.exitCode = policyCheck(files, process.stdout, process.stderr);
    });
  policy
    .command('test')
    .description("run policy files' inline tests; with --db, what they would have done to the recorded traffic")
    .argument('<files...>', 'policy files (wildcards allowed in the file name)')
    .option('--db <file|url>', 'a tapwire database (file or postgres:// URL) to evaluate the policies against')
    .option('--since <duration>', 'only exchanges recorded within this long, e.g. 12h or 7d')
    .action(async (files: string[], opts: { db?: string; since?: string }) => {
      const { policyTest } = await import('./policy-test.js');
      process.exitCode = await policyTest(files, opts, process.stdout, process.stderr);
    });
  return policy;
}
