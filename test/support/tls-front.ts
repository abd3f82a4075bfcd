// A TLS front for a plain-HTTP test server: aimock serves HTTP only (its options have no
// certificate or key), so its bytes are passed through a node:tls server whose certificate
// comes from a test CA of its own, a CA tapwire is told to trust through a route's `ca:`.
// The certificates are made with tapwire's own CA code (proxy/ca.ts), as a separate CA.
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { createServer } from 'node:tls';
import { createCa, mintLeaf, signer } from '../../proxy/ca.js';

export interface TlsFront {
  /** https://127.0.0.1:<port> */
  url: string;
  port: number;
  /** The test CA's certificate (PEM file): what a client or a route's ca: trusts. */
  caFile: string;
  caPem: string;
  close(): Promise<void>;
}

/** Serves TLS on 127.0.0.1 (certificate for 127.0.0.1 and localhost) in front of `target` (http://host:port). */
export async function startTlsFront(target: string, dir: string): Promise<TlsFront> {
  const ca = createCa('tapwire test upstream CA');
  const leafKeys = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const cert = mintLeaf(['127.0.0.1', 'localhost'], leafKeys.publicKey, signer(ca));
  const caFile = join(dir, 'upstream-ca.pem');
  writeFileSync(caFile, ca.cert);
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  const server = createServer({ key: leafKeys.privateKey, cert }, (socket) => {
    const upstream = connect(Number(port), hostname);
    sockets.add(socket).add(upstream);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
    socket.pipe(upstream).pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const frontPort = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${frontPort}`,
    port: frontPort,
    caFile,
    caPem: ca.cert,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
