// `tapwire ca [-c CONFIG] [--rotate]`: where tapwire's local CA is (made at first use), and the
// environment lines that send an agent through tapwire's proxy trusting it (docs/intercept.md).
// Printed as shell lines, so `eval "$(tapwire ca)"` sets them.
import { Command } from 'commander';
import { configToRun, loadConfig } from '../../config/config.js';
import { routeProblems } from '../../protocols/registry.js';
import { defaultCaDir, LocalCa } from '../../proxy/ca.js';
import { splitListen } from '../../proxy/listener.js';

/** The proxy address an agent on this machine names: a wildcard listen address is reached on loopback. */
function proxyUrl(listen: string, withToken: boolean): string {
  const [host, port] = splitListen(listen);
  const reachable = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  // The token itself is never printed: the agent's environment supplies it.
  return `http://${withToken ? 'tapwire:${TAPWIRE_TOKEN}@' : ''}${reachable}:${port}`;
}

export function caCommand(): Command {
  return new Command('ca')
    .description("print where tapwire's local CA is (made at first use) and the environment lines agents need to use the proxy")
    .option('-c, --config <file>', 'tapwire.yaml (default ./tapwire.yaml if present): its proxy section names the CA directory and listen address')
    .option('--rotate', 'replace the CA with a new one (agents must trust the new certificate)')
    .action((opts: { config?: string; rotate?: boolean }) => {
      const chosen = configToRun(opts.config);
      const config = loadConfig(chosen.file ?? undefined, process.env, routeProblems);
      const dir = config.proxy?.ca_dir ?? defaultCaDir();
      const ca = opts.rotate ? LocalCa.rotate(dir) : LocalCa.open(dir);
      const listen = config.proxy?.listen ?? '127.0.0.1:4102';
      const lines = [
        `# tapwire CA certificate: ${ca.files.cert}${opts.rotate ? ' (new)' : ''}`,
        ...(config.proxy ? [] : ['# the config has no proxy: section yet; add one (docs/intercept.md) before agents use this']),
        `export HTTPS_PROXY=${proxyUrl(listen, config.auth !== undefined)}`,
        `export NODE_EXTRA_CA_CERTS=${ca.files.cert}`,
        // These replace the system's CAs: the bundle keeps the public roots beside tapwire's CA.
        `export SSL_CERT_FILE=${ca.files.bundle}`,
        `export REQUESTS_CA_BUNDLE=${ca.files.bundle}`,
        `export CURL_CA_BUNDLE=${ca.files.bundle}`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
