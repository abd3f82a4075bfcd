// Incremental Server-Sent Events parser (WHATWG event-stream rules). It observes bytes as
// they pass: feed it each chunk, get back the events that chunk completed. Each event keeps
// its raw text so a caller that must edit a stream can re-emit events it leaves unchanged.
// Work is linear in the input: each chunk is scanned once, and a line split across many
// chunks is joined once, when it ends. With `maxEventChars`, an event that grows past it is
// not held: its text comes back in pieces marked `oversize`, to pass on unread.
import { StringDecoder } from 'node:string_decoder';

export interface SseEvent {
  event: string | null;
  data: string;
  id: string | null;
  retry: number | null;
  /**
   * The event's lines exactly as received, including the blank line that ended it and any
   * blank lines before it: the raw texts of all events are the stream, byte for byte.
   */
  raw: string;
  /**
   * Set on the pieces of an event longer than maxEventChars: `raw` is the next piece of its
   * text, nothing else is read ('piece'), and the last piece ('end') carries its blank line.
   */
  oversize?: 'piece' | 'end';
}

interface SseParserOptions {
  /** The longest event (its raw text, in UTF-16 units) held and parsed; longer ones pass in pieces. Default: no limit. */
  maxEventChars?: number;
}

/** Text gathered from several chunks, joined once when it is needed. */
class Pieces {
  private parts: string[] = [];
  length = 0;
  add(text: string): void {
    if (text.length === 0) return;
    this.parts.push(text);
    this.length += text.length;
  }
  take(): string {
    const text = this.parts.length === 1 ? this.parts[0]! : this.parts.join('');
    this.parts = [];
    this.length = 0;
    return text;
  }
  peek(): string {
    const text = this.take();
    this.add(text);
    return text;
  }
}

const LINE_END = /[\r\n]/g;

export class SseParser {
  private readonly decoder = new StringDecoder('utf8');
  private readonly maxEventChars: number;
  /** The current line's text, not yet ended. */
  private readonly line = new Pieces();
  /** The current line ended with "\r" at the end of a chunk: a "\n" opening the next belongs to it. */
  private crPending = false;
  /** The current event's completed lines, with their line ends. */
  private readonly raw = new Pieces();
  /** The current event is past maxEventChars: its text passes in pieces, unread. */
  private oversize = false;
  /** Oversize: the current line has no characters yet (an empty line ends the event). */
  private lineEmpty = true;
  private event: string | null = null;
  private data: string[] = [];
  private id: string | null = null;
  private retry: number | null = null;
  private sawField = false;

  constructor(options: SseParserOptions = {}) {
    this.maxEventChars = options.maxEventChars ?? Infinity;
  }

  push(chunk: Buffer): SseEvent[] {
    return this.consume(this.decoder.write(chunk), false);
  }

  /** Ends the stream; an event not closed by a blank line is discarded, as the spec says. */
  end(): SseEvent[] {
    return this.consume(this.decoder.end(), true);
  }

  /**
   * After end(): the text no event carried (an event not closed by a blank line), so a caller
   * that re-emits events can still pass every byte on. The events' raw texts followed by this
   * are exactly the stream.
   */
  unterminated(): string {
    return this.raw.peek() + this.line.peek();
  }

  private consume(text: string, final: boolean): SseEvent[] {
    const out: SseEvent[] = [];
    let start = 0;
    if (this.crPending) {
      if (text.length === 0 && !final) return out;
      // The "\r" that ended the line is already in it; a "\n" right after joins it.
      start = text.startsWith('\n') ? 1 : 0;
      this.crPending = false;
      this.line.add(text.slice(0, start));
      this.endLine(out);
    }
    LINE_END.lastIndex = start;
    for (let match = LINE_END.exec(text); match; match = LINE_END.exec(text)) {
      const at = match.index;
      if (text[at] === '\r' && at === text.length - 1 && !final) {
        // A trailing "\r" may be the first half of "\r\n": the next chunk tells.
        this.addToLine(text.slice(start), out);
        this.crPending = true;
        return out;
      }
      const next = text[at] === '\r' && text[at + 1] === '\n' ? at + 2 : at + 1;
      this.addToLine(text.slice(start, next), out);
      this.endLine(out);
      start = next;
      LINE_END.lastIndex = start;
    }
    this.addToLine(text.slice(start), out);
    if (this.oversize && !final) this.spill(out, 'piece');
    return out;
  }

  private addToLine(text: string, out: SseEvent[]): void {
    if (text.length === 0) return;
    this.line.add(text);
    if (this.oversize) {
      if (!/^[\r\n]/.test(text)) this.lineEmpty = false;
      return;
    }
    if (this.raw.length + this.line.length > this.maxEventChars) {
      this.oversize = true;
      this.lineEmpty = /^[\r\n]/.test(this.line.peek());
      this.spill(out, 'piece');
    }
  }

  /** Oversize: the text held so far goes out as a piece. */
  private spill(out: SseEvent[], mark: 'piece' | 'end'): void {
    const raw = this.raw.take() + this.line.take();
    if (raw.length > 0 || mark === 'end') out.push({ event: null, data: '', id: null, retry: null, raw, oversize: mark });
  }

  /** The current line (with its line end, in `line`) is complete. */
  private endLine(out: SseEvent[]): void {
    if (this.oversize) {
      const blank = this.lineEmpty;
      this.lineEmpty = true;
      if (!blank) return;
      this.spill(out, 'end');
      this.reset();
      return;
    }
    const withEnd = this.line.take();
    this.raw.add(withEnd);
    let end = withEnd.length;
    if (withEnd[end - 1] === '\n') end--;
    if (withEnd[end - 1] === '\r') end--;
    const line = withEnd.slice(0, end);
    if (line === '') {
      // A blank line with no field before it dispatches nothing: its bytes go with the next event.
      if (this.sawField) out.push(this.dispatch());
      return;
    }
    this.field(line);
  }

  private field(line: string): void {
    this.sawField = true;
    if (line.startsWith(':')) return; // comment: kept in `raw` only
    const colon = line.indexOf(':');
    const name = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (name) {
      case 'event':
        this.event = value;
        break;
      case 'data':
        this.data.push(value);
        break;
      case 'id':
        if (!value.includes('\0')) this.id = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
    }
  }

  private dispatch(): SseEvent {
    const event: SseEvent = { event: this.event, data: this.data.join('\n'), id: this.id, retry: this.retry, raw: this.raw.take() };
    this.reset();
    return event;
  }

  private reset(): void {
    this.oversize = false;
    this.event = null;
    this.data = [];
    this.retry = null;
    this.sawField = false;
    // Per the spec the last event id persists across events; we record each event's own.
    this.id = null;
  }
}
