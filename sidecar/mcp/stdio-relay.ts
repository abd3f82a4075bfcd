// The byte relay of `tapwire wrap`: moves one direction of a stdio MCP connection chunk by
// chunk, exactly as received and with backpressure, and splits a side copy into lines so
// each message can be recorded. Nothing is re-serialised.
import type { Readable, Writable } from 'node:stream';
import { LineSplitter, type Line } from './stdio-lines.js';

/**
 * Relays `from` to `to` and hands each complete line of the side copy to `onLine`.
 * Resolves when `from` ends or fails; `to` is left open for the caller to end.
 *
 * Policies will plug in here: a rule that may deny a message has to hold its bytes until
 * its line is complete and decided, instead of writing each chunk through at once.
 */
export function relayLines(from: Readable, to: Writable, onLine: (line: Line) => void): Promise<void> {
  const splitter = new LineSplitter();
  return new Promise((resolve) => {
    let ended = false;
    const finish = (): void => {
      if (ended) return;
      ended = true;
      for (const line of splitter.end()) onLine(line);
      resolve();
    };
    from.on('data', (chunk: Buffer) => {
      if (!to.write(chunk) && !to.destroyed) {
        from.pause();
        to.once('drain', () => from.resume());
      }
      for (const line of splitter.push(chunk)) onLine(line);
    });
    from.once('end', finish);
    from.once('error', finish);
    from.once('close', finish);
  });
}
