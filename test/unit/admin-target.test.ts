// Where `tapwire approvals` and `tapwire tui` find a running sidecar's admin endpoint and its
// token (tools/admin-target.ts): what was given outright first, then TAPWIRE_ADMIN_TOKEN for the
// token, then the config (admin.listen, else listen; admin.token), else the default listen.
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { ConfigError } from '../../config/config.js';
import { adminTarget } from '../../tools/admin-target.js';
import { tempFile } from '../support/temp-file.js';

const CONFIG_TOKEN = 'config-admin-token-0001';
const ENV_TOKEN = 'env-admin-token-000002';

const configFile = (t: TestContext, yaml: string): string => tempFile(t, 'tapwire.yaml', yaml);

describe('adminTarget', () => {
  test('nothing given: the default listen, no token', () => {
    assert.deepEqual(adminTarget({}, {}), { url: 'http://127.0.0.1:4100', token: null });
  });

  test("a config: its admin.listen and admin.token; the agents' listener (any address reached on loopback) without admin.listen", (t) => {
    const admin = configFile(t, `listen: 127.0.0.1:4200\nadmin: { listen: 127.0.0.1:4300, token: ${CONFIG_TOKEN} }\n`);
    assert.deepEqual(adminTarget({ config: admin }, {}), { url: 'http://127.0.0.1:4300', token: CONFIG_TOKEN });
    const listener = configFile(t, 'listen: 0.0.0.0:4200\n');
    assert.deepEqual(adminTarget({ config: listener }, {}), { url: 'http://127.0.0.1:4200', token: null });
  });

  test('TAPWIRE_ADMIN_TOKEN before the config\'s token; what was given outright before both', (t) => {
    const config = configFile(t, `admin: { listen: 127.0.0.1:4300, token: ${CONFIG_TOKEN} }\n`);
    const env = { TAPWIRE_ADMIN_TOKEN: ENV_TOKEN };
    assert.deepEqual(adminTarget({ config }, env), { url: 'http://127.0.0.1:4300', token: ENV_TOKEN });
    assert.deepEqual(adminTarget({ url: 'http://10.0.0.5:9000', config }, {}), { url: 'http://10.0.0.5:9000', token: CONFIG_TOKEN });
    assert.deepEqual(adminTarget({ url: 'http://10.0.0.5:9000', token: 'given-token', config }, env), { url: 'http://10.0.0.5:9000', token: 'given-token' });
  });

  test('a bad config is a ConfigError naming the file', (t) => {
    const bad = configFile(t, 'admin: { token: short }\n');
    assert.throws(() => adminTarget({ config: bad }, {}), (err: unknown) => err instanceof ConfigError && err.message.includes('tapwire.yaml') && /admin\.token/.test(err.message));
  });
});
