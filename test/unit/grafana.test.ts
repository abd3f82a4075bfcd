// The compose stack's pieces fit, checked without a Docker engine (none runs on our
// machines): docker-compose.yml and every file it mounts parse, every mounted path and the
// Dockerfile's inputs exist, the services point at each other consistently, images are
// pinned, the dashboards use only provisioned datasources and link to dashboards that exist,
// and each dashboard type-checks against @grafana/schema's Dashboard type. The fleet: two
// agents each in its sidecar's network namespace, the sidecars' config valid with compose's
// environment and pointing at the compose Redis, PostgreSQL and LLM services.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { parseConfig } from '../../config/config.js';
import { loadPolicyFiles } from '../../policies/load.js';
import { METRICS_PATH } from '../../telemetry/telemetry.js';
import { REPO, readDashboards, typeCheckDashboard } from '../support/grafana.js';

interface ComposeService {
  image?: string;
  build?: string | { context: string; target?: string };
  command?: string[];
  entrypoint?: string[];
  network_mode?: string;
  user?: string;
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  depends_on?: string[];
}

interface Compose {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

function readYaml<T>(relativePath: string): T {
  const text = readFileSync(join(REPO, relativePath), 'utf8');
  return parse(text, { prettyErrors: true, uniqueKeys: true }) as T;
}

const compose = readYaml<Compose>('docker-compose.yml');
const services = compose.services;

function service(name: string): ComposeService {
  const found = services[name];
  assert.ok(found, `docker-compose.yml has a ${name} service`);
  return found;
}

/** A service's volume entries as { source, target, readOnly, bind }. */
function mounts(s: ComposeService): { source: string; target: string; readOnly: boolean; bind: boolean }[] {
  return (s.volumes ?? []).map((entry) => {
    const [source, target, mode] = entry.split(':');
    assert.ok(source && target, `volume entry "${entry}" has a source and a target`);
    return { source, target, readOnly: mode === 'ro', bind: source.startsWith('.') || source.startsWith('/') };
  });
}

/**
 * What a service's container runs: its own `command`, else the CMD of the Dockerfile stage it
 * builds (its `target`, else the last stage), which a stage without one takes from its base.
 */
function commandOf(s: ComposeService): string[] {
  if (s.command) return s.command;
  assert.ok(s.build, 'a service without a command builds the image whose CMD it runs');
  const stages: { name: string | null; base: string; cmd: string[] | null }[] = [];
  for (const line of readFileSync(join(REPO, 'Dockerfile'), 'utf8').split('\n')) {
    const from = /^FROM (\S+)(?: AS (\S+))?$/.exec(line);
    if (from) stages.push({ name: from[2] ?? null, base: from[1]!, cmd: null });
    const cmd = /^CMD (\[.*\])$/.exec(line);
    if (cmd) stages.at(-1)!.cmd = JSON.parse(cmd[1]!) as string[];
  }
  const target = typeof s.build === 'string' ? undefined : s.build.target;
  let stage = target === undefined ? stages.at(-1) : stages.find((st) => st.name === target);
  while (stage && !stage.cmd) {
    const base = stage.base;
    stage = stages.find((st) => st.name === base);
  }
  assert.ok(stage?.cmd, `the Dockerfile stage ${target ?? '(last)'} has a CMD`);
  return stage.cmd;
}

/** The value after `flag` in a command line. */
function option(command: string[] | undefined, flag: string): string {
  const i = (command ?? []).indexOf(flag);
  assert.ok(i >= 0 && command![i + 1], `the command has ${flag} <value>: ${JSON.stringify(command)}`);
  return command![i + 1]!;
}

describe('docker-compose.yml', () => {
  test('has the five services and the fleet, each image pinned to a version', () => {
    assert.deepEqual(Object.keys(services).sort(), [
      'agent-a',
      'agent-b',
      'grafana',
      'llm',
      'otel-collector',
      'postgres',
      'prometheus',
      'redis',
      'sidecar-a',
      'sidecar-b',
      'tapwire',
      'tempo',
    ]);
    for (const [name, s] of Object.entries(services)) {
      if (s.build !== undefined) continue;
      const image = s.image ?? '';
      const tag = image.split(':')[1];
      assert.ok(tag && tag !== 'latest' && /\d+\.\d+/.test(tag), `${name}: image "${image}" is pinned to a version`);
    }
    assert.match(service('grafana').image!, /^grafana\/grafana:/);
    assert.match(service('otel-collector').image!, /^otel\/opentelemetry-collector-contrib:/);
    assert.match(service('tempo').image!, /^grafana\/tempo:/);
    assert.match(service('prometheus').image!, /^prom\/prometheus:/);
    assert.match(service('postgres').image!, /^postgres:15\./);
    assert.match(service('redis').image!, /^redis:/);
  });

  test('every bind-mounted file or directory exists, and every mounted config file parses', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const m of mounts(s)) {
        if (!m.bind) {
          assert.ok(compose.volumes && m.source in compose.volumes, `${name}: named volume ${m.source} is declared`);
          continue;
        }
        const path = join(REPO, m.source);
        assert.ok(existsSync(path), `${name}: ${m.source} exists`);
        assert.ok(m.readOnly, `${name}: ${m.source} is mounted read-only`);
        const files = statSync(path).isDirectory() ? [] : [path];
        for (const file of files) if (/\.ya?ml$/.test(file)) assert.doesNotThrow(() => parse(readFileSync(file, 'utf8')), `${file} parses`);
      }
    }
  });

  test('tapwire is built from this repository, runs the demo forever, and records into the volume Grafana reads', () => {
    const tapwire = service('tapwire');
    // The Dockerfile's demo target: the sidecar's image (production dependencies) and the demo's packages.
    assert.deepEqual(tapwire.build, { context: '.', target: 'demo' });
    assert.match(readFileSync(join(REPO, 'Dockerfile'), 'utf8'), /^FROM sidecar AS demo$/m);
    assert.ok(existsSync(join(REPO, 'Dockerfile')));
    assert.equal(tapwire.command?.[0], 'demo');
    assert.ok(tapwire.command?.includes('--forever'));
    const db = option(tapwire.command, '--db');
    const tapwireVolume = mounts(tapwire).find((m) => db.startsWith(`${m.target}/`));
    assert.ok(tapwireVolume && !tapwireVolume.bind, `--db ${db} is on a named volume`);
    const grafanaVolume = mounts(service('grafana')).find((m) => m.source === tapwireVolume.source);
    assert.ok(grafanaVolume, 'Grafana mounts the same volume');
    // SQLite opens a WAL database only with write access to its directory (the -shm file).
    assert.equal(grafanaVolume.readOnly, false);
    const sqlite = readYaml<{ datasources: { type: string; jsonData?: { path?: string } }[] }>('grafana/provisioning/datasources/tapwire.yaml').datasources.find(
      (d) => d.type === 'frser-sqlite-datasource',
    );
    assert.equal(sqlite?.jsonData?.path, db.replace(tapwireVolume.target, grafanaVolume.target), 'the SQLite datasource opens the database tapwire writes');
    // tapwire writes its database 0600: Grafana's process must be its owner.
    assert.equal(tapwire.user, '472', "tapwire runs as Grafana's user id");
    assert.equal(service('grafana').user ?? '472', '472');
  });

  test('spans go tapwire -> collector -> Tempo, and Prometheus scrapes tapwire', () => {
    const tapwire = service('tapwire');
    const otlp = new URL(option(tapwire.command, '--otlp'));
    assert.equal(otlp.hostname, 'otel-collector');
    const collector = readYaml<{
      receivers: { otlp: { protocols: { http: { endpoint: string } } } };
      exporters: Record<string, { endpoint: string }>;
      service: { pipelines: { traces: { receivers: string[]; exporters: string[] } } };
    }>('deploy/otel-collector.yaml');
    assert.equal(collector.receivers.otlp.protocols.http.endpoint, `0.0.0.0:${otlp.port}`);
    const traces = collector.service.pipelines.traces;
    assert.deepEqual(traces.receivers, ['otlp']);
    const exporter = collector.exporters[traces.exporters[0]!];
    const tempo = readYaml<{ server: { http_listen_port: number }; distributor: { receivers: { otlp: { protocols: { grpc: { endpoint: string } } } } } }>('deploy/tempo.yaml');
    assert.equal(exporter?.endpoint, `tempo:${tempo.distributor.receivers.otlp.protocols.grpc.endpoint.split(':')[1]}`);
    assert.equal(tapwire.environment?.OTEL_METRICS_EXPORTER, 'none', 'metrics are scraped, not pushed through the collector');

    const listenPort = option(tapwire.command, '--listen').split(':')[1];
    const prometheus = readYaml<{ scrape_configs: { metrics_path: string; static_configs: { targets: string[] }[] }[] }>('deploy/prometheus.yml');
    const scrape = prometheus.scrape_configs[0]!;
    assert.equal(scrape.metrics_path, METRICS_PATH);
    assert.deepEqual(scrape.static_configs[0]?.targets, [`tapwire:${listenPort}`]);

    const datasources = readYaml<{ datasources: { type: string; url?: string }[] }>('grafana/provisioning/datasources/tapwire.yaml').datasources;
    assert.equal(datasources.find((d) => d.type === 'tempo')?.url, `http://tempo:${tempo.server.http_listen_port}`);
    assert.equal(datasources.find((d) => d.type === 'prometheus')?.url, 'http://prometheus:9090');
  });

  test('Grafana: the plugin, anonymous read-only access on localhost:3000, provisioning and dashboards mounted', () => {
    const grafana = service('grafana');
    const env = grafana.environment ?? {};
    assert.match(env.GF_INSTALL_PLUGINS ?? '', /^frser-sqlite-datasource \d+\.\d+\.\d+$/);
    assert.equal(env.GF_AUTH_ANONYMOUS_ENABLED, 'true');
    assert.equal(env.GF_AUTH_ANONYMOUS_ORG_ROLE, 'Viewer');
    assert.deepEqual(grafana.ports, ['127.0.0.1:3000:3000']);
    const targets = new Map(mounts(grafana).map((m) => [m.target, m.source]));
    assert.equal(targets.get('/etc/grafana/provisioning/datasources/tapwire.yaml'), './grafana/provisioning/datasources/tapwire.yaml');
    assert.equal(targets.get('/etc/grafana/provisioning/dashboards/tapwire.yaml'), './grafana/provisioning/dashboards/tapwire.yaml');
    const providers = readYaml<{ providers: { options: { path: string } }[] }>('grafana/provisioning/dashboards/tapwire.yaml').providers;
    const dashboardsSource = targets.get(providers[0]!.options.path);
    assert.equal(dashboardsSource, './grafana/dashboards', 'the dashboard provider reads the mounted grafana/dashboards');
    const home = env.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH ?? '';
    assert.ok(existsSync(join(REPO, home.replace(providers[0]!.options.path, dashboardsSource))), `the home dashboard ${home} exists`);
  });

  test("the Dockerfile's inputs exist and the image runs the bundled CLI, package.json's bin", () => {
    const dockerfile = readFileSync(join(REPO, 'Dockerfile'), 'utf8');
    for (const match of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const source of match[1]!.split(/\s+/)) if (source !== '.') assert.ok(existsSync(join(REPO, source)), `Dockerfile COPY ${source} exists`);
    }
    const bin = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { bin: { tapwire: string } }).bin.tapwire;
    assert.ok(dockerfile.includes(`ENTRYPOINT ["node", "/app/${bin}"]`), `the image runs ${bin}`);
    assert.ok(dockerfile.includes(`COPY --from=build /app/${dirname(bin)} ./${dirname(bin)}`), 'the image carries the bundle');
    assert.match(dockerfile, /COPY --from=build \/app\/policies\/examples/, 'the demo finds the example policies next to dist/');
    const ignored = readFileSync(join(REPO, '.dockerignore'), 'utf8').split('\n');
    assert.ok(ignored.includes('node_modules') && ignored.includes('dist'), 'the build context leaves out installed and built files');
  });
});

describe('docker-compose.yml: the fleet', () => {
  /** `${NAME:-default}` in a compose value, as compose fills it in with NAME unset. */
  const composeDefault = (value: string): string => value.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');
  const postgres = service('postgres');
  const pairs = [
    ['agent-a', 'sidecar-a'],
    ['agent-b', 'sidecar-b'],
  ] as const;

  /** A sidecar's tapwire.yaml, parsed with the sidecar's environment. */
  function sidecarConfig(name: string): { raw: { store: { central: { url: string } } }; config: ReturnType<typeof parseConfig>; dir: string } {
    const sidecar = service(name);
    const configPath = option(commandOf(sidecar), '--config');
    const mount = mounts(sidecar).find((m) => configPath.startsWith(`${m.target}/`));
    assert.ok(mount?.bind, `${name}: ${configPath} is bind-mounted from the repository`);
    const dir = join(REPO, mount.source);
    const file = join(dir, configPath.slice(mount.target.length + 1));
    const env = Object.fromEntries(Object.entries(sidecar.environment ?? {}).map(([k, v]) => [k, composeDefault(v)]));
    const raw = parse(readFileSync(file, 'utf8')) as { store: { central: { url: string } } };
    // store.central comes with branch fleet-postgres; until it is merged this branch's schema
    // does not know the key, so the rest of the file is validated without it.
    const withoutCentral = structuredClone(raw) as { store: Record<string, unknown> };
    delete withoutCentral.store.central;
    return { raw, config: parseConfig(stringify(withoutCentral), file, env), dir };
  }

  test('each agent runs in its own sidecar\'s network namespace and calls it on loopback', () => {
    for (const [agent, sidecar] of pairs) {
      assert.equal(service(agent).network_mode, `service:${sidecar}`);
      const { config } = sidecarConfig(sidecar);
      assert.equal(new URL(service(agent).environment?.SIDECAR ?? '').host, config.listen, `${agent} calls ${sidecar} where it listens`);
      assert.match(config.listen, /^127\.0\.0\.1:/, 'loopback: no token needed inside the pod');
      assert.ok(existsSync(join(REPO, mounts(service(agent)).find((m) => m.target === service(agent).entrypoint?.[1])?.source ?? 'missing')), `${agent}: its script is mounted`);
    }
  });

  test('the sidecars are two agents of one team, each with its own record, sharing one Redis budget and one PostgreSQL', () => {
    const names = new Set<string>();
    for (const [, sidecar] of pairs) {
      const s = service(sidecar);
      assert.equal(s.build, '.');
      assert.equal(commandOf(s)[0], 'run');
      const { raw, config, dir } = sidecarConfig(sidecar);
      names.add(config.agent.name);
      assert.equal(config.agent.labels.team, 'research');
      const data = mounts(s).find((m) => config.store.path.startsWith(`${m.target}/`));
      assert.ok(data && !data.bind && data.source === `${sidecar}-data`, `${sidecar}: its SQLite buffer on its own volume`);
      // limits.redis: the compose Redis, default port.
      assert.equal(config.limits.redis?.url, 'redis://redis:6379');
      // store.central.url: the compose PostgreSQL, with its user, password and database.
      const central = new URL(composeDefault(raw.store.central.url.replace('${POSTGRES_PASSWORD}', s.environment?.POSTGRES_PASSWORD ?? '')));
      assert.equal(central.hostname, 'postgres');
      assert.equal(central.username, postgres.environment?.POSTGRES_USER);
      assert.equal(central.password, composeDefault(postgres.environment?.POSTGRES_PASSWORD ?? ''));
      assert.equal(central.pathname, `/${postgres.environment?.POSTGRES_DB}`);
      // The LLM route: the compose mock, on the port it listens on.
      const upstream = new URL(config.routes.openai?.upstream ?? '');
      assert.equal(upstream.hostname, 'llm');
      assert.equal(upstream.port, option(service('llm').command, '--port'));
      // The team budget: a token limit keyed by the team label, so both sidecars share it.
      const rules = loadPolicyFiles(config.policies.map((p) => join(dir, p))).flatMap((f) => f.rules);
      const budget = rules.find((r) => r.limit?.kind === 'tokens');
      assert.equal(budget?.limit?.key?.source, 'agent.labels.team');
      for (const dependency of ['postgres', 'redis', 'llm']) assert.ok(s.depends_on?.includes(dependency), `${sidecar} depends on ${dependency}`);
    }
    assert.equal(names.size, 2, 'two agent names');
  });

  test("Grafana shows the central record: the fleet Audit dashboard and its datasource on the compose PostgreSQL, as a read-only role", () => {
    const grafana = service('grafana');
    const env = grafana.environment ?? {};
    const targets = new Map(mounts(grafana).map((m) => [m.target, m.source]));
    const provisioned = <T>(kind: 'datasources' | 'dashboards'): T => {
      const file = [...targets].find(([target, source]) => target.startsWith(`/etc/grafana/provisioning/${kind}/`) && source.startsWith('./grafana/fleet/'));
      assert.ok(file, `the fleet's ${kind} provisioning is mounted`);
      return readYaml<T>(file[1]);
    };
    // The dashboards provider reads the mounted grafana/fleet/dashboards.
    const providers = provisioned<{ providers: { options: { path: string } }[] }>('dashboards').providers;
    assert.equal(targets.get(providers[0]!.options.path), './grafana/fleet/dashboards');
    // The datasource the dashboard names, its ${VAR:-default} filled in from Grafana's environment as Grafana does.
    const fill = (value: string): string => value.replace(/\$\{([A-Z_]+)(?::-([^}]*))?\}/g, (_m, name: string, fallback?: string) => composeDefault(env[name] ?? fallback ?? ''));
    const datasource = provisioned<{ datasources: { uid: string; type: string; url: string; user: string; jsonData: { database: string }; secureJsonData: { password: string } }[] }>('datasources').datasources[0]!;
    const dashboard = JSON.parse(readFileSync(join(REPO, 'grafana/fleet/dashboards/audit.json'), 'utf8')) as { panels: { datasource?: { uid: string; type: string } }[] };
    for (const panel of dashboard.panels) if (panel.datasource) assert.deepEqual(panel.datasource, { uid: datasource.uid, type: datasource.type });
    assert.equal(fill(datasource.url), 'postgres:5432', 'the compose PostgreSQL service, on its port');
    assert.equal(fill(datasource.jsonData.database), postgres.environment?.POSTGRES_DB);
    assert.ok(grafana.depends_on?.includes('postgres'));
    // The role: created by the init script the compose PostgreSQL runs, with the password Grafana is given.
    const init = mounts(postgres).find((m) => m.target.startsWith('/docker-entrypoint-initdb.d/'));
    assert.ok(init?.bind && init.readOnly, 'an init script is mounted into the PostgreSQL container');
    const script = readFileSync(join(REPO, init.source), 'utf8');
    const user = fill(datasource.user);
    assert.match(script, new RegExp(`CREATE ROLE ${user} LOGIN PASSWORD :'password'`));
    assert.match(script, new RegExp(`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO ${user};`));
    assert.doesNotMatch(script, /GRANT (ALL|INSERT|UPDATE|DELETE)/, 'read-only');
    const passwordVariable = /-v password="\$([A-Z_]+)"/.exec(script)?.[1];
    assert.ok(passwordVariable);
    assert.equal(fill(datasource.secureJsonData.password), composeDefault(postgres.environment?.[passwordVariable] ?? ''));
    assert.notEqual(fill(datasource.secureJsonData.password), '');
  });

  test("the LLM mock's fixtures are mounted and answer the agents' question", () => {
    const fixtures = mounts(service('llm')).find((m) => m.target === option(service('llm').command, '--fixtures'));
    assert.ok(fixtures);
    const text = readFileSync(join(REPO, fixtures.source), 'utf8');
    const question = /"content":"([^"]+)"/.exec(readFileSync(join(REPO, 'deploy/fleet/agent.sh'), 'utf8'))?.[1];
    assert.ok(question && text.includes(question), 'the fixture matches what agent.sh asks');
  });
});

describe('Grafana provisioning and dashboards', () => {
  const dashboards = readDashboards();
  const datasources = readYaml<{ apiVersion: number; datasources: { uid: string; type: string }[] }>('grafana/provisioning/datasources/tapwire.yaml');

  test('the three dashboards exist, tagged tapwire, with agent, route, protocol and model variables', () => {
    assert.deepEqual([...dashboards.keys()].sort(), ['tapwire-audit', 'tapwire-overview', 'tapwire-traces']);
    for (const { dashboard } of dashboards.values()) {
      const names = dashboard.templating.list.map((v) => v.name);
      for (const name of ['agent', 'route', 'protocol', 'model']) {
        if (dashboard.uid === 'tapwire-traces' && name === 'protocol') continue; // the Traces panels each show one kind of call
        assert.ok(names.includes(name), `${dashboard.uid} has a ${name} variable`);
      }
    }
  });

  test('every datasource a dashboard uses is provisioned with that type', () => {
    const provisioned = new Map(datasources.datasources.map((d) => [d.uid, d.type]));
    for (const { dashboard } of dashboards.values()) {
      const refs = [
        ...dashboard.panels.flatMap((p) => [p.datasource, ...(p.targets ?? []).map((t) => t.datasource)]),
        ...dashboard.templating.list.map((v) => v.datasource),
      ].filter((r) => r !== undefined);
      assert.ok(refs.length > 0);
      for (const ref of refs) assert.equal(provisioned.get(ref.uid), ref.type, `${dashboard.uid}: datasource ${ref.uid} (${ref.type}) is provisioned`);
    }
  });

  test('links between the dashboards lead to dashboards that exist', () => {
    const audit = dashboards.get('tapwire-audit')!.dashboard;
    const traceLinks = audit.panels.flatMap((p) =>
      (p.fieldConfig?.overrides ?? []).flatMap((o) => o.properties.filter((prop) => prop.id === 'links').flatMap((prop) => prop.value as { url: string }[])),
    );
    assert.ok(traceLinks.length >= 3, 'the Audit tables link trace ids to the Traces dashboard');
    for (const link of traceLinks) {
      const uid = /\/d\/([^/?]+)/.exec(link.url)?.[1];
      assert.ok(uid && dashboards.has(uid), `link ${link.url} names an existing dashboard`);
      const variable = /var-(\w+)=/.exec(link.url)?.[1];
      assert.ok(dashboards.get(uid)!.dashboard.templating.list.some((v) => v.name === variable), `the Traces dashboard has the ${variable} variable the link sets`);
    }
    for (const { dashboard } of dashboards.values()) {
      assert.ok((dashboard.links ?? []).length > 0, `${dashboard.uid} links to the other tapwire dashboards`);
    }
  });

  test("each dashboard type-checks against @grafana/schema's Dashboard type", () => {
    for (const { file, text } of dashboards.values()) {
      assert.deepEqual(typeCheckDashboard(text), [], `${file} validates`);
    }
  });

  test('the schema check rejects a dashboard with a wrong type or an unknown field', () => {
    const valid = dashboards.get('tapwire-overview')!.dashboard;
    const wrongType = typeCheckDashboard(JSON.stringify({ ...valid, schemaVersion: '41' }));
    assert.ok(wrongType.some((d) => /schemaVersion|not assignable to type 'number'/.test(d)), wrongType.join('\n'));
    const unknownField = typeCheckDashboard(JSON.stringify({ ...valid, time: { from: 'now-1h', to: 'now', until: 'later' } }));
    assert.ok(unknownField.some((d) => /until\W* does not exist/.test(d)), unknownField.join('\n'));
  });
});
