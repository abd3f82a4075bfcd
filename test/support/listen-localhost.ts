// Preload for MCP servers that have no host option (server-everything calls app.listen(PORT)):
// `node --import <this file> server.js` forces every net.Server.listen(port[, host]) onto
// 127.0.0.1 and reports the port it got on stderr as "LISTENING <port>".
import net from 'node:net';

type Listen = (this: net.Server, ...args: unknown[]) => net.Server;

const prototype = net.Server.prototype as unknown as { listen: Listen };
const original = prototype.listen;

function report(server: net.Server): void {
  server.once('listening', () => {
    const address = server.address();
    if (address && typeof address === 'object') process.stderr.write(`LISTENING ${address.port}\n`);
  });
}

prototype.listen = function (this: net.Server, ...args: unknown[]): net.Server {
  const [first] = args;
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    report(this);
    const callback = args.find((a) => typeof a === 'function');
    return original.call(this, Number(first), '127.0.0.1', ...(callback ? [callback] : []));
  }
  if (first !== null && typeof first === 'object' && 'port' in first) {
    report(this);
    return original.call(this, { ...first, host: '127.0.0.1' }, ...args.slice(1));
  }
  return original.apply(this, args);
};
