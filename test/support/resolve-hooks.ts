// Module customization hooks (Node 20.6+, registered by record-resolutions.ts): each
// specifier the process resolves is appended, one a line, to the log file it was given.
import { appendFileSync } from 'node:fs';

let log = '';

export function initialize(data: { log: string }): void {
  log = data.log;
}

type Resolve = (specifier: string, context: unknown) => Promise<unknown>;

export async function resolve(specifier: string, context: unknown, next: Resolve): Promise<unknown> {
  appendFileSync(log, `${specifier}\n`);
  return next(specifier, context);
}
