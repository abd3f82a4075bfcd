// OTLP endpoints for the latency bench's BENCH_OTLP scenarios, run in the bench process on
// 127.0.0.1: `down` (a port nothing listens on), `hanging` (accepts connections and requests,
// never answers) and `accepting` (answers every export 200 {}). Counts what it was sent.
import { createServer, type Server } from 'node:http';
import { freePort } from './processes.js';

export const OTLP_MODES = ['down', 'hanging', 'accepting'] as const;
export type OtlpMode = (typeof OTLP_MODES)[number];

export interface OtlpTarget {
  mode: OtlpMode;
  /** The base URL to give tapwire as telemetry.endpoint. */
  url: string;
  /** Export requests received (traces and metrics); 0 for `down`. */
  requests(): number;
  close(): Promise<void>;
}

export function otlpMode(value: string | undefined): OtlpMode | null {
  if (value === undefined || value === '') return null;
  const mode = OTLP_MODES.find((m) => m === value);
  if (!mode) throw new Error(`BENCH_OTLP must be one of ${OTLP_MODES.join(', ')}, got "${value}"`);
  return mode;
}

export async function startOtlpTarget(mode: OtlpMode): Promise<OtlpTarget> {
  if (mode === 'down') {
    const port = await freePort();
    return { mode, url: `http://127.0.0.1:${port}`, requests: () => 0, close: () => Promise.resolve() };
  }
  let received = 0;
  const server: Server = createServer((req, res) => {
    received++;
    req.resume();
    if (mode === 'hanging') return; // read the export, never answer it
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = address !== null && typeof address === 'object' ? address.port : 0;
  return {
    mode,
    url: `http://127.0.0.1:${port}`,
    requests: () => received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
