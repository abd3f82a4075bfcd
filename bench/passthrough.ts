// The bare Node pass-through of the comparative bench: the least any Node.js proxy does
// (node:http in, node:http out over a keep-alive pool, bodies piped both ways, no parsing,
// no recording), so what tapwire adds over it is tapwire's own cost. Forked by the bench
// with the upstream origin as argv[2]; reports its port to the parent over IPC.
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { UpstreamReady } from './upstream.js';

const upstream = new URL(process.argv[2] ?? 'http://127.0.0.1:1');
const agent = new Agent({ keepAlive: true, maxSockets: 1024 });

const server = createServer((req, res) => {
  const outgoing = request(
    { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host }, agent },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  outgoing.on('error', () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  req.pipe(outgoing);
});
server.keepAliveTimeout = 120_000;
server.listen(0, '127.0.0.1', () => {
  const ready: UpstreamReady = { type: 'ready', port: (server.address() as AddressInfo).port };
  process.send?.(ready);
});
process.on('disconnect', () => process.exit(0));
