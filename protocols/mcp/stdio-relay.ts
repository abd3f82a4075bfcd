// The byte relay of `tapwire wrap`: moves one direction of a stdio MCP connection chunk by
// chunk, exactly as received and with backpressure, and splits a side copy into lines so
// each message can be recorded. Nothing is re-serialised. Under policies the relay holds
// each line until it is complete and decided: it goes on as it came, is dropped (a refused
// request) or is replaced by one line (a filtered or refused answer).
import type { Readable, Writable } from 'node:stream';
import { LineSplitter, type Line } from '../../core/lines.js';

/** What becomes of one complete line: undefined, its own bytes go on; null, nothing; a Buffer, that line instead. */
export type LineFate = Buffer | null | undefined;

const LF = Buffer.from('\n');

/**
 * Relays `from` to `to` and hands each complete line of the side copy to `onLine`.
 * Resolves when `from` ends or fails; `to` is left open for the caller to end. With
 * `hold`, only whole lines are written, each as `onLine` decides; without, every chunk is
 * written at once and what `onLine` returns is ignored.
 */
export function relayLines(from: Readable, to: Writable, onLine: (line: Line) => LineFate | void, hold = false): Promise<void> {
  const splitter = new LineSplitter();
  /** Held mode: the bytes of the line not yet complete, as received. */
  let partial: Buffer[] = [];
  const write = (bytes: Buffer): void => {
    if (bytes.length > 0 && !to.write(bytes) && !to.destroyed) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  };
  /** The bytes to write for a complete line whose own bytes (its "\n" included, if any) are `raw`. */
  const decided = (line: Line, raw: Buffer[], ended: boolean): Buffer[] => {
    const fate = onLine(line);
    if (fate === undefined) return raw;
    if (fate === null) return [];
    return ended ? [fate] : [fate, LF];
  };
  return new Promise((resolve) => {
    let ended = false;
    const finish = (): void => {
      if (ended) return;
      ended = true;
      const last = splitter.end();
      if (!hold) last.forEach((line) => onLine(line));
      else if (last[0]) write(Buffer.concat(decided(last[0], partial, true)));
      partial = [];
      resolve();
    };
    from.on('data', (chunk: Buffer) => {
      const lines = splitter.push(chunk);
      if (!hold) {
        write(chunk);
        for (const line of lines) onLine(line);
        return;
      }
      const out: Buffer[] = [];
      let start = 0;
      for (const line of lines) {
        const lf = chunk.indexOf(0x0a, start);
        partial.push(chunk.subarray(start, lf + 1));
        out.push(...decided(line, partial, false));
        partial = [];
        start = lf + 1;
      }
      if (start < chunk.length) partial.push(chunk.subarray(start));
      write(out.length === 1 ? out[0]! : Buffer.concat(out));
    });
    from.once('end', finish);
    from.once('error', finish);
    from.once('close', finish);
  });
}
