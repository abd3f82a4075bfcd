// Incremental Server-Sent Events parser (WHATWG event-stream rules). It observes bytes as
// they pass: feed it each chunk, get back the events that chunk completed. Each event keeps
// its raw text so a caller that must edit a stream can re-emit events it leaves unchanged.
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
}

export class SseParser {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';
  private raw = '';
  private event: string | null = null;
  private data: string[] = [];
  private id: string | null = null;
  private retry: number | null = null;
  private sawField = false;

  push(chunk: Buffer): SseEvent[] {
    return this.consume(this.pending + this.decoder.write(chunk), false);
  }

  /** Ends the stream; an event not closed by a blank line is discarded, as the spec says. */
  end(): SseEvent[] {
    return this.consume(this.pending + this.decoder.end(), true);
  }

  /**
   * After end(): the text no event carried (an event not closed by a blank line), so a caller
   * that re-emits events can still pass every byte on. The events' raw texts followed by this
   * are exactly the stream.
   */
  unterminated(): string {
    return this.raw + this.pending;
  }

  private consume(text: string, final: boolean): SseEvent[] {
    const out: SseEvent[] = [];
    let start = 0;
    for (;;) {
      const lf = text.indexOf('\n', start);
      const cr = text.indexOf('\r', start);
      let end: number;
      let next: number;
      if (cr !== -1 && (lf === -1 || cr < lf)) {
        // A trailing "\r" may be the first half of "\r\n": wait for the next chunk.
        if (cr === text.length - 1 && !final) break;
        end = cr;
        next = text[cr + 1] === '\n' ? cr + 2 : cr + 1;
      } else if (lf !== -1) {
        end = lf;
        next = lf + 1;
      } else break;
      const line = text.slice(start, end);
      this.raw += text.slice(start, next);
      start = next;
      if (line === '') {
        // A blank line with no field before it dispatches nothing: its bytes go with the next event.
        if (this.sawField) out.push(this.dispatch());
        continue;
      }
      this.field(line);
    }
    this.pending = text.slice(start);
    return out;
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
    const event: SseEvent = { event: this.event, data: this.data.join('\n'), id: this.id, retry: this.retry, raw: this.raw };
    this.raw = '';
    this.event = null;
    this.data = [];
    this.retry = null;
    this.sawField = false;
    // Per the spec the last event id persists across events; we record each event's own.
    this.id = null;
    return event;
  }
}
