// The Portkey AI gateway (@portkey-ai/gateway, a dev dependency) for the comparative bench's
// LLM route. It listens on every interface and has no option for that, so it is started with
// test/support/listen-localhost.js preloaded, which binds host-less listen() calls to
// 127.0.0.1 and reports the port it got. Requests reach our upstream through the headers
// `x-portkey-provider: openai` and `x-portkey-custom-host: <upstream>/v1`.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { track, type UpstreamProcess } from './processes.js';

export function portkeyHeaders(upstreamOrigin: string): Record<string, string> {
  return { 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `${upstreamOrigin}/v1` };
}

/** Starts the gateway headless on a port the OS picks; resolves once it listens. */
export async function startPortkey(): Promise<UpstreamProcess> {
  const require = createRequire(import.meta.url);
  const server = join(dirname(require.resolve('@portkey-ai/gateway/package.json')), 'build', 'start-server.js');
  const preload = fileURLToPath(new URL('../test/support/listen-localhost.js', import.meta.url));
  const child = track(
    spawn(process.execPath, ['--import', preload, server, '--port=0', '--headless'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, NODE_ENV: 'production' },
    }),
  );
  let stderr = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Portkey gateway did not listen within 15 s: ${stderr}`)), 15_000);
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /LISTENING (\d+)/.exec(stderr);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Portkey gateway exited with code ${String(code)} before listening: ${stderr}`));
    });
  });
  child.stderr?.resume();
  return { child, origin: `http://127.0.0.1:${port}` };
}
