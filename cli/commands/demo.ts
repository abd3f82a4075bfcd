// `tapwire demo`: the command and its options. Everything it runs (the SDKs, the upstreams,
// the scripted agent) is loaded only when the demo starts, so other commands start as fast
// as before. Its SDKs and servers are optional peers of tapwire: when one is missing, the
// command names what to install (exit 2).
import { Command } from 'commander';
import { missingDemoPeers } from '../demo-peers.js';
import { listenOption } from '../options.js';
import { FOREVER_PAUSE_MS, type DemoOptions } from '../../demo/options.js';

export const demoCommand = new Command('demo')
  .description('run tapwire against real MCP, A2A and LLM upstreams on 127.0.0.1 with a scripted agent, then summarise the record')
  .option('--db <file>', 'SQLite file to record into', 'tapwire-demo.db')
  .addOption(listenOption('address for the sidecar (port 0: any free port)', '127.0.0.1:0'))
  .option('--otlp <url>', 'OTLP/HTTP endpoint for spans and metrics, e.g. http://127.0.0.1:4318')
  .option('--forever', `keep generating traffic, one round every ${FOREVER_PAUSE_MS / 1000} s, until SIGINT or SIGTERM`)
  .action(async (options: DemoOptions) => {
    const missing = missingDemoPeers();
    if (missing.length > 0) {
      process.stderr.write(`tapwire: the demo needs packages a sidecar's install leaves out; install them with:\n  npm install ${missing.join(' ')}\n`);
      process.exitCode = 2;
      return;
    }
    const { runDemo } = await import('../../demo/run.js');
    process.exitCode = await runDemo(options);
  });
