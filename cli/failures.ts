// The failures a command reports as one line on stderr with exit code 2 (bad input: a
// config, policy file, selection, database, listen address, or a sidecar's admin endpoint
// that cannot be reached or refuses), in one place for every
// command. Anything else is a bug in tapwire and keeps its stack trace.
import type { Command } from 'commander';
import { ConfigError } from '../config/config.js';
import { StoreError } from '../store/record-store.js';
import { PolicyError } from '../policies/policy-error.js';
import { SelectionError } from '../tools/selection-error.js';
import { AdminCallError } from '../proxy/approvals-client.js';

/** The errno codes of a listen that failed, e.g. an address in use. */
const LISTEN_CODES = new Set(['EADDRINUSE', 'EACCES', 'EADDRNOTAVAIL', 'ERR_SOCKET_BAD_PORT']);

/**
 * What to print for `err` (without the "tapwire: " prefix), or null when it is not bad
 * input. `command` is the command that was running: a database problem names its --db.
 */
export function knownFailure(err: unknown, command: Command | null): string | null {
  if (err instanceof StoreError) {
    return command?.opts<{ db?: unknown }>().db !== undefined ? `--db: ${err.message}` : err.message;
  }
  if (err instanceof ConfigError || err instanceof PolicyError || err instanceof SelectionError || err instanceof AdminCallError) return err.message;
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code !== undefined && LISTEN_CODES.has(code)) return `cannot listen: ${(err as Error).message}`;
  return null;
}
