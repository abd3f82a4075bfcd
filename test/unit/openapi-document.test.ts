// An openapi route's document and its tools, without a network: a document that does not
// parse or validate is refused naming file:line:col and the JSON pointer (YAML and JSON
// alike, a $ref to nowhere at the $ref), $refs to another file are resolved, tools are
// named, selected and shaped from the operations, the upstream comes from the document's
// servers, and the route's config is checked like any other (its fields refused elsewhere,
// its place in a federated route).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError, parseConfig } from '../../config/config.js';
import { createLogger } from '../../core/log.js';
import { loadDocument } from '../../protocols/openapi/document.js';
import { operationsOf } from '../../protocols/openapi/operations.js';
import { loadApis } from '../../protocols/openapi/service.js';
import { routeProblems } from '../../protocols/registry.js';
import { MUSEUM_SPEC, PETSTORE_SPEC } from '../support/openapi.js';

const dir = mkdtempSync(join(tmpdir(), 'tapwire-openapi-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function refusal(location: string): Promise<string> {
  try {
    await loadDocument(location, 5000);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  return assert.fail('the document was accepted');
}

const HEAD = 'openapi: 3.0.3\ninfo:\n  title: t\n  version: "1"\n';

describe('openapi documents that do not parse or validate', () => {
  test('a schema violation: file:line:col of the key, and the JSON pointer', async () => {
    const path = file('missing-description.yaml', `${HEAD}paths:\n  /pets:\n    get:\n      responses:\n        '200':\n          descriptionx: ok\n`);
    assert.equal(await refusal(path), `invalid OpenAPI document\n${path}:9:9: /paths/~1pets/get/responses/200: must have required property 'description'`);
  });

  test('the same in a JSON document', async () => {
    const doc = { openapi: '3.1.0', info: { title: 't', version: '1' }, paths: { '/a': { get: { responses: { '200': { description: 'ok', content: 'nope' } } } } } };
    const path = file('bad.json', JSON.stringify(doc, null, 2));
    assert.match(await refusal(path), new RegExp(`^invalid OpenAPI document\\n${path}:\\d+:\\d+: /paths/~1a/get/responses/200/content: must be object`));
  });

  test('YAML that does not parse: file:line:col', async () => {
    const path = file('syntax.yaml', `${HEAD}paths:\n  /pets:\n    get: [oops\n`);
    assert.match(await refusal(path), new RegExp(`^invalid OpenAPI document\\n${path}:8:1: `));
  });

  test('a $ref to nowhere: where it is written', async () => {
    const path = file('ref.yaml', `${HEAD}paths:\n  /pets:\n    get:\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema:\n                $ref: '#/components/schemas/Nope'\n`);
    assert.match(await refusal(path), new RegExp(`^invalid OpenAPI document\\n${path}:14:23: Missing \\$ref pointer "#/components/schemas/Nope"`));
  });

  test('a document that is not OpenAPI 3.0 or 3.1, and one that is not there', async () => {
    assert.match(await refusal(file('not.yaml', 'hello: world\n')), /not\.yaml: tapwire reads OpenAPI 3\.0 and 3\.1 documents; this one has no openapi version/);
    assert.match(await refusal(file('swagger.yaml', 'swagger: "2.0"\ninfo: { title: t, version: "1" }\npaths: {}\n')), /this one has Swagger 2\.0/);
    assert.match(await refusal(file('three-two.yaml', 'openapi: 3.2.0\ninfo: { title: t, version: "1" }\npaths: {}\n')), /three-two\.yaml: tapwire reads OpenAPI 3\.0 and 3\.1 documents; this one has OpenAPI 3\.2\.0$/);
    assert.equal(await refusal(join(dir, 'none.yaml')), `cannot read the OpenAPI document ${join(dir, 'none.yaml')}: ENOENT`);
  });
});

describe('openapi tools from operations', () => {
  test('names: the operationId made valid, else method and path; clashes numbered', async () => {
    const api = (await loadDocument(file('names.yaml', `${HEAD}paths:\n  /pets/{id}:\n    parameters: [{ name: id, in: path, required: true, schema: { type: string } }]\n    get:\n      responses: { '200': { description: ok } }\n    put:\n      operationId: "update pet!"\n      responses: { '200': { description: ok } }\n    delete:\n      operationId: get_pets_id\n      responses: { '200': { description: ok } }\n`), 5000)).api;
    const { operations } = operationsOf(api, 'r');
    assert.deepEqual(operations.map((op) => op.tool.name), ['get_pets_id', 'update_pet', 'get_pets_id_2']);
    assert.deepEqual(operations.map((op) => op.tool.description), ['GET /pets/{id}', 'PUT /pets/{id}', 'DELETE /pets/{id}']);
    // The path-level parameter is every operation's.
    assert.deepEqual(operations.map((op) => op.tool.inputSchema.required), [['id'], ['id'], ['id']]);
  });

  test('include and exclude by operation, tag and path; a name that matches nothing is an error naming the field', async () => {
    const { api } = await loadDocument(MUSEUM_SPEC, 5000);
    const names = (include?: object, exclude?: object): string[] => operationsOf(api, 'museum', include, exclude).operations.map((op) => op.tool.name);
    assert.deepEqual(names({ tags: ['Operations', 'Tickets'] }), ['getMuseumHours', 'buyMuseumTickets', 'getTicketCode']);
    assert.deepEqual(names({ paths: ['/special-events/*'] }, { operations: ['deleteSpecialEvent'] }), ['getSpecialEvent', 'updateSpecialEvent']);
    assert.deepEqual(names({ paths: ['/tickets'] }), ['buyMuseumTickets']);
    assert.deepEqual(names(undefined, { tags: ['Events', 'Tickets'] }), ['getMuseumHours']);
    assert.throws(() => names({ operations: ['getMuseumHour'] }), /routes\.museum\.include\.operations\[0\]: no operation getMuseumHour; operations: getMuseumHours, listSpecialEvents, /);
    assert.throws(() => names(undefined, { tags: ['Nope'] }), /routes\.museum\.exclude\.tags\[0\]: no operation has the tag Nope/);
  });

  test('input and output schemas: parameters and a body, an object answer as it is (allOf of objects too), others under result', async () => {
    const museum = operationsOf((await loadDocument(MUSEUM_SPEC, 5000)).api, 'museum').operations;
    const update = museum.find((op) => op.tool.name === 'updateSpecialEvent')!;
    assert.deepEqual(update.tool.inputSchema.required, ['eventId', 'body']);
    assert.equal(update.tool.outputSchema?.type, 'object');
    assert.equal(update.wrapsOutput, false);
    const buy = museum.find((op) => op.tool.name === 'buyMuseumTickets')!;
    assert.equal(buy.tool.outputSchema?.type, 'object');
    assert.equal(buy.wrapsOutput, false);
    assert.equal(museum.find((op) => op.tool.name === 'getMuseumHours')!.wrapsOutput, true);
    // An image answer has no JSON schema: no outputSchema.
    assert.equal(museum.find((op) => op.tool.name === 'getTicketCode')!.tool.outputSchema, undefined);
    const pets = operationsOf((await loadDocument(PETSTORE_SPEC, 5000)).api, 'pets').operations;
    assert.equal(pets.find((op) => op.tool.name === 'findPets')!.wrapsOutput, true);
    assert.equal(pets.find((op) => op.tool.name === 'deletePet')!.tool.outputSchema, undefined);
  });

  test('$refs to other files resolve next to the document: a parameter and a schema from a second file', async () => {
    file('shared.yaml', 'Id: { name: id, in: path, required: true, description: the pet, schema: { type: integer } }\nPet: { type: object, properties: { id: { type: integer }, name: { type: string } }, required: [id] }\n');
    const path = file('split.yaml', `${HEAD}paths:\n  /pets/{id}:\n    get:\n      operationId: getPet\n      parameters: [{ $ref: './shared.yaml#/Id' }]\n      responses:\n        '200':\n          description: ok\n          content: { application/json: { schema: { $ref: './shared.yaml#/Pet' } } }\n`);
    const [pet] = operationsOf((await loadDocument(path, 5000)).api, 'r').operations;
    assert.deepEqual(pet!.tool.inputSchema, { type: 'object', properties: { id: { type: 'integer', description: 'the pet' } }, required: ['id'] });
    assert.deepEqual(pet!.tool.outputSchema, { type: 'object', properties: { id: { type: 'integer' }, name: { type: 'string' } }, required: ['id'] });
  });

  test('an operation whose body tapwire cannot send is left out, and said why', async () => {
    const api = (await loadDocument(file('upload.yaml', `${HEAD}paths:\n  /files:\n    post:\n      operationId: upload\n      requestBody:\n        content:\n          application/octet-stream: {}\n      responses: { '200': { description: ok } }\n`), 5000)).api;
    const { operations, skipped } = operationsOf(api, 'r');
    assert.equal(operations.length, 0);
    assert.deepEqual(skipped, [{ operation: 'upload', reason: 'its request body has no media type tapwire sends (JSON, form or text): application/octet-stream' }]);
  });

  test('a document from a URL: read over HTTP, a relative server resolved against it; an HTTP error named', async (t) => {
    const server = createServer((req, res) => {
      if (req.url === '/specs/api.yaml') res.end(`${HEAD}servers:\n  - url: ../v2\npaths: {}\n`);
      else res.writeHead(404).end();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(() => server.close());
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const config = parseConfig(`routes:\n  remote: { protocol: openapi, spec: "${base}/specs/api.yaml" }\n`, 't.yaml', {}, routeProblems);
    const loaded = await loadApis(config, createLogger('silent'));
    assert.equal(loaded.get('remote')?.upstream, `${base}/v2`);
    assert.equal(await refusal(`${base}/specs/none.yaml`), `cannot read the OpenAPI document ${base}/specs/none.yaml: HTTP 404`);
  });

  test('the upstream: the route\'s, else the document\'s first server; a relative one needs the route\'s', async () => {
    const log = createLogger('silent');
    const config = (routes: string): ReturnType<typeof parseConfig> => parseConfig(`routes:\n${routes}`, 't.yaml', {}, routeProblems);
    const loaded = await loadApis(config(`  pets: { protocol: openapi, spec: ${JSON.stringify(PETSTORE_SPEC)} }\n`), log);
    assert.equal(loaded.get('pets')?.upstream, 'http://petstore.swagger.io/api');
    const relative = file('relative.yaml', `${HEAD}servers:\n  - url: /v1\npaths: {}\n`);
    await assert.rejects(loadApis(config(`  rel: { protocol: openapi, spec: ${JSON.stringify(relative)} }\n`), log), /routes\.rel\.upstream: missing: the document's first server "\/v1" is relative to a file; give the route an upstream/);
    const overridden = await loadApis(config(`  rel: { protocol: openapi, spec: ${JSON.stringify(relative)}, upstream: "http://127.0.0.1:9/base" }\n`), log);
    assert.equal(overridden.get('rel')?.upstream, 'http://127.0.0.1:9/base');
  });
});

describe('openapi route config', () => {
  const configError = (yaml: string): string => {
    try {
      parseConfig(yaml, 'tapwire.yaml', {}, routeProblems);
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return err.message;
    }
    return assert.fail('accepted');
  };

  test('its fields are its own, and it needs a spec', () => {
    assert.match(configError('routes:\n  x: { protocol: mcp, upstream: "http://x.test", spec: a.yaml }\n'), /tapwire\.yaml:2:\d+: routes\.x\.spec: only routes with protocol openapi have a spec/);
    assert.match(configError('routes:\n  x: { protocol: http, upstream: "http://x.test", include: { tags: [a] } }\n'), /routes\.x\.include: only routes with protocol openapi have include/);
    assert.match(configError('routes:\n  x: { protocol: openapi }\n'), /routes\.x\.spec: /);
    assert.match(configError('routes:\n  x: { protocol: openapi, spec: a.yaml, command: npx }\n'), /routes\.x\.command: only routes with protocol mcp can run a command/);
    assert.match(configError('routes:\n  x: { protocol: openapi, spec: a.yaml, include: { paths: [pets] } }\n'), /routes\.x\.include\.paths\[0\]: a path as the document writes it/);
  });

  test('it can be a member of a federated route; an llm route still cannot', () => {
    const config = parseConfig('routes:\n  pets: { protocol: openapi, spec: a.yaml }\n  all: { protocol: mcp, servers: [pets] }\n', 't.yaml', {}, routeProblems);
    assert.deepEqual(config.routes.all?.servers, ['pets']);
    assert.match(configError('routes:\n  l: { protocol: llm, upstream: "http://x.test" }\n  all: { protocol: mcp, servers: [l] }\n'), /route l has protocol llm; servers must be mcp routes/);
  });
});
