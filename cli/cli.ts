#!/usr/bin/env node
// The tapwire command line: registers one command per file of cli/commands/, and turns the
// failures a user can cause (a bad config, policy file or database) into one line and exit 2.
import { Command } from 'commander';
import { VERSION } from '../core/package.js';
import { knownFailure } from './failures.js';
import { approvalsCommand } from './commands/approvals.js';
import { caCommand } from './commands/ca.js';
import { demoCommand } from './commands/demo.js';
import { exportCommand } from './commands/export.js';
import { mockCommand } from './commands/mock.js';
import { policyCommand } from './commands/policy.js';
import { pricesCommand } from './commands/prices.js';
import { replayCommand } from './commands/replay.js';
import { runCommand } from './commands/run.js';
import { tuiCommand } from './commands/tui.js';
import { wrapCliCommand } from './commands/wrap.js';


const program = new Command()
  .name('tapwire')
  .description('A sidecar for AI agents: forwards, governs and records their LLM, MCP and A2A calls.')
  .version(VERSION, '-v, --version')
  .showHelpAfterError()
  // tapwire's own options come before the command, so `wrap` can hand everything after the
  // server's command to the server (passThroughOptions).
  .enablePositionalOptions();

/** The command whose action is running, for naming its --db in a failure. */
let running: Command | null = null;
/** Commands that serve rather than report: their stdout is a protocol or a log, handled where they run. */
const SERVING = new Set(['run', 'wrap', 'demo', 'mock', 'tui']);
program.hook('preAction', (_program, command) => {
  running = command;
  let top = command;
  while (top.parent && top.parent !== program) top = top.parent;
  if (SERVING.has(top.name())) return;
  // A reader that stops early (`tapwire export | head`) closes the pipe: stop quietly, as Unix tools do.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(0);
  });
});

/** Adds a command with the program's settings (help after an error), as program.command() gives them. */
function adopt(command: Command, parent: Command = program): void {
  command.copyInheritedSettings(parent);
  for (const sub of command.commands) adopt(sub, command);
  if (parent === program) program.addCommand(command);
}

for (const command of [runCommand(), wrapCliCommand(), demoCommand, policyCommand(), approvalsCommand(), tuiCommand, exportCommand(), mockCommand(), replayCommand(), pricesCommand(), caCommand()]) adopt(command);

try {
  await program.parseAsync();
} catch (err) {
  const failure = knownFailure(err, running);
  if (failure === null) throw err;
  process.stderr.write(`tapwire: ${failure}\n`);
  process.exit(2);
}
