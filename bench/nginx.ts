// nginx from the system packages as a plain reverse proxy for the comparative bench: its own
// config file in the bench's temp dir, 127.0.0.1 only, one worker inside the master process
// (so one pid to pin and measure), a keep-alive pool to the upstream, proxy_buffering off,
// and every pid, log and temp path in the temp dir, run as the current user.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'undici';
import { freePort, track, type UpstreamProcess } from './processes.js';

export const NGINX_BINARY = process.env.BENCH_NGINX ?? '/usr/sbin/nginx';

export function nginxConfig(dir: string, port: number, upstreamOrigin: string): string {
  const upstream = new URL(upstreamOrigin);
  return `daemon off;
master_process off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'client_body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  upstream bench_upstream {
    server ${upstream.hostname}:${upstream.port};
    keepalive 256;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://bench_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $proxy_host;
      proxy_buffering off;
      proxy_request_buffering off;
    }
  }
}
`;
}

/** Starts nginx on a free loopback port in front of `upstreamOrigin`; waits until it answers. */
export async function startNginx(dir: string, upstreamOrigin: string): Promise<UpstreamProcess> {
  if (!existsSync(NGINX_BINARY)) throw new Error(`nginx not found at ${NGINX_BINARY} (apt-get install nginx, or set BENCH_NGINX)`);
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const configPath = join(dir, 'nginx.conf');
  writeFileSync(configPath, nginxConfig(dir, port, upstreamOrigin));
  const child = track(spawn(NGINX_BINARY, ['-p', dir, '-c', configPath, '-e', join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] }));
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const origin = `http://127.0.0.1:${port}`;
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(20)) {
    if (child.exitCode !== null) break;
    const probe = new Client(origin);
    try {
      const answer = await probe.request({ method: 'GET', path: '/_bench/ready' });
      await answer.body.dump();
      return { child, origin };
    } catch {
      // not listening yet
    } finally {
      await probe.destroy();
    }
  }
  const log = existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : '';
  throw new Error(`nginx did not start (exit ${String(child.exitCode)}): ${stderr}${log}`);
}
