// Lines out of a byte stream: splits a side copy of chunks into lines (without their "\n"),
// each kept up to a bound, for the record of newline-delimited protocols (MCP's stdio framing,
// Ollama's JSON-lines streams); the stream itself passes untouched.

/** The longest line kept for the record; the SDKs' own stdio buffer limit is 10 MiB. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

export type Line = { bytes: Buffer; overflowed: false } | { bytes: Buffer; overflowed: true; size: number };

/** Splits chunks into lines (without their "\n"); a line longer than `maxBytes` keeps only its start. */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;

  constructor(private readonly maxBytes: number = MAX_LINE_BYTES) {}

  push(chunk: Buffer): Line[] {
    const lines: Line[] = [];
    let start = 0;
    for (let lf = chunk.indexOf(0x0a); lf !== -1; lf = chunk.indexOf(0x0a, start)) {
      this.keep(chunk.subarray(start, lf));
      lines.push(this.take());
      start = lf + 1;
    }
    if (start < chunk.length) this.keep(chunk.subarray(start));
    return lines;
  }

  /** The stream ended: the last line if it had no "\n". */
  end(): Line[] {
    return this.size > 0 ? [this.take()] : [];
  }

  private keep(part: Buffer): void {
    const room = this.maxBytes - Math.min(this.size, this.maxBytes);
    // Chunks are referenced, not copied, until a line is complete.
    if (room > 0 && part.length > 0) this.parts.push(part.length > room ? part.subarray(0, room) : part);
    this.size += part.length;
  }

  private take(): Line {
    const bytes = this.parts.length === 1 ? Buffer.from(this.parts[0]!) : Buffer.concat(this.parts);
    const line: Line = this.size > this.maxBytes ? { bytes, overflowed: true, size: this.size } : { bytes, overflowed: false };
    this.parts = [];
    this.size = 0;
    return line;
  }
}
