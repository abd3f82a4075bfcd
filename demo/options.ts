// The options of `tapwire demo`, shared by its command (cli/commands/demo.ts) and what it runs
// (run.ts); kept apart from run.ts so the command loads nothing else until the demo starts.

/** Pause between rounds with --forever: a gentle rate, under the example hourly token budget. */
export const FOREVER_PAUSE_MS = 20_000;

export interface DemoOptions {
  db: string;
  listen: string;
  otlp?: string;
  forever?: boolean;
}
