// Structured logging with pino: JSON lines (to stdout when it is not a TTY, else to stderr
// in a short human form). JSON lines are written asynchronously in blocks of at least 4 KiB
// so a log line per exchange costs no system call of its own; flush() on exit.
import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, destination: NodeJS.WritableStream | null = null): Logger {
  if (destination) return pino({ level, base: undefined }, destination);
  if (process.stdout.isTTY) {
    return pino({ level, base: undefined, timestamp: false }, humanLines(process.stderr));
  }
  const logger = pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ fd: 1, sync: false, minLength: 4096 }));
  // A quiet sidecar's lines still appear within a second.
  setInterval(() => logger.flush(), 1000).unref();
  return logger;
}

/** A TTY-friendly rendering of pino's JSON: "level message key=value ...". */
function humanLines(out: NodeJS.WritableStream): { write(line: string): void } {
  const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
  return {
    write(line: string): void {
      const { level, msg, ...fields } = JSON.parse(line) as { level: number; msg?: string } & Record<string, unknown>;
      const rest = Object.entries(fields)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      out.write(`${new Date().toISOString().slice(11, 23)} ${(LEVELS[level] ?? String(level)).padEnd(5)} ${msg ?? ''} ${rest}\n`);
    },
  };
}
