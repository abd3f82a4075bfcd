// openapi routes with real peers: the official MCP SDK clients (v1 and v2) call every
// operation of two real public OpenAPI documents (the Petstore, 3.0; Redocly's Museum API,
// 3.1) and of a styles document, each implemented by a real express server. What the client
// gets (tools from operations, structuredContent, image content, HTTP errors and timeouts as
// tool errors), what the REST server gets (paths, query styles,
// headers, cookies, bodies, the route's credentials), and what is recorded (each tools/call
// an MCP exchange with its REST call as a child HTTP exchange; through a federated route,
// the per-server exchange in between) are checked.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test, type TestContext } from 'node:test';
import type { Exchange } from '../../core/exchange.js';
import { connectV1, connectV2 } from '../support/mcp-v2.js';
import { BIG_ANSWER_BYTES, MUSEUM_AUTH, MUSEUM_SPEC, PETSTORE_SPEC, startMuseum, startPetstore, startStyles, STYLES_SPEC, TICKET_PNG, type RestServer } from '../support/openapi.js';
import { writePolicyFile } from '../support/policy-sidecar.js';
import { startTestSidecarFor, type TestSidecar } from '../support/sidecar.js';

/** The route's response timeout for the styles API (its /slow answers later). */
const STYLES_TIMEOUT_MS = 300;

interface Apis {
  pets: RestServer;
  museum: RestServer;
  styles: RestServer;
}

async function startApis(t: TestContext): Promise<Apis> {
  return { pets: await startPetstore(t), museum: await startMuseum(t), styles: await startStyles(t, STYLES_TIMEOUT_MS * 10) };
}

function routesYaml(apis: Apis, top: string[] = []): string {
  return [
    ...top,
    'routes:',
    '  pets:',
    '    protocol: openapi',
    `    spec: ${JSON.stringify(PETSTORE_SPEC)}`,
    `    upstream: ${apis.pets.url}`,
    '  museum:',
    '    protocol: openapi',
    `    spec: ${JSON.stringify(MUSEUM_SPEC)}`,
    `    upstream: ${apis.museum.url}`,
    '    headers:',
    '      authorization: ${MUSEUM_AUTH}',
    '  styles:',
    '    protocol: openapi',
    `    spec: ${JSON.stringify(STYLES_SPEC)}`,
    `    upstream: ${apis.styles.url}`,
    `    timeouts: { response_ms: ${STYLES_TIMEOUT_MS} }`,
    '  all:',
    '    protocol: mcp',
    '    servers: [pets, museum]',
  ].join('\n');
}

function start(t: TestContext, apis: Apis, top: string[] = []): Promise<TestSidecar> {
  return startTestSidecarFor(t, routesYaml(apis, top), { ...process.env, MUSEUM_AUTH });
}

interface ToolResult {
  content?: { type: string; text?: string }[];
  structuredContent?: unknown;
  isError?: boolean;
}

function text(result: unknown): string {
  return ((result as ToolResult).content ?? []).map((c) => c.text ?? '').join('\n');
}

/** The REST calls recorded under the MCP exchange `parent`. */
function restCalls(exchanges: Exchange[], parent: Exchange): Exchange[] {
  return exchanges.filter((e) => e.parent_id === parent.id);
}

/** The recorded tools/call exchanges of `route` for `tool`. */
function toolCalls(exchanges: Exchange[], route: string, tool: string): Exchange[] {
  return exchanges.filter((e) => e.route === route && e.protocol === 'mcp' && e.method === 'tools/call' && e.target === tool);
}

describe('openapi routes', () => {
  test('Petstore (OpenAPI 3.0) through a v1 client: a tool per operation, every operation called, each call recorded with its REST call as child', async (t) => {
    const apis = await startApis(t);
    const tapwire = await start(t, apis);
    const client = await connectV1(t, `${tapwire.url}/pets`);
    assert.equal(client.getServerVersion()?.name, 'tapwire/pets');
    const { tools } = await client.listTools();
    // "find pet by id" has spaces: the tool name keeps what providers accept.
    assert.deepEqual(tools.map((tool) => tool.name), ['findPets', 'addPet', 'find_pet_by_id', 'deletePet']);
    const find = tools.find((tool) => tool.name === 'findPets')!;
    assert.match(find.description ?? '', /^Returns all pets from the system/);
    assert.deepEqual(find.inputSchema.properties?.tags, { type: 'array', items: { type: 'string' }, description: 'tags to filter by' });
    // The 2xx schema is an array: the answer is structuredContent.result.
    assert.equal((find.outputSchema?.properties as Record<string, { type?: string }>).result?.type, 'array');
    const add = tools.find((tool) => tool.name === 'addPet')!;
    assert.deepEqual(add.inputSchema.required, ['body']);

    const found = (await client.callTool({ name: 'findPets', arguments: { tags: ['dog', 'cat'], limit: 5 } })) as ToolResult;
    assert.deepEqual(found.structuredContent, { result: [{ id: 1, name: 'Rex', tag: 'dog' }, { id: 2, name: 'Tom', tag: 'cat' }] });
    assert.deepEqual(JSON.parse(text(found)), [{ id: 1, name: 'Rex', tag: 'dog' }, { id: 2, name: 'Tom', tag: 'cat' }]);
    const added = (await client.callTool({ name: 'addPet', arguments: { body: { name: 'Kit', tag: 'cat' } } })) as ToolResult;
    assert.deepEqual(added.structuredContent, { id: 3, name: 'Kit', tag: 'cat' });
    const byId = (await client.callTool({ name: 'find_pet_by_id', arguments: { id: 3 } })) as ToolResult;
    assert.deepEqual(byId.structuredContent, { id: 3, name: 'Kit', tag: 'cat' });
    const deleted = (await client.callTool({ name: 'deletePet', arguments: { id: 3 } })) as ToolResult;
    assert.equal(deleted.isError, undefined);
    assert.equal(text(deleted), 'HTTP 204');
    // A 4xx is a tool error carrying the status and the body.
    const missing = (await client.callTool({ name: 'find_pet_by_id', arguments: { id: 3 } })) as ToolResult;
    assert.equal(missing.isError, true);
    assert.equal(text(missing), 'HTTP 404 from GET /api/pets/3: {"code":404,"message":"no pet 3"}');

    assert.deepEqual(
      apis.pets.calls.map((c) => `${c.method} ${c.url}`),
      ['GET /api/pets?tags=dog&tags=cat&limit=5', 'POST /api/pets', 'GET /api/pets/3', 'DELETE /api/pets/3', 'GET /api/pets/3'],
    );
    assert.deepEqual(JSON.parse(apis.pets.calls[1]!.body), { name: 'Kit', tag: 'cat' });
    assert.equal(apis.pets.calls[1]!.headers['content-type'], 'application/json');

    const exchanges = await tapwire.stop();
    const calls = exchanges.filter((e) => e.route === 'pets' && e.method === 'tools/call');
    assert.equal(calls.length, 5);
    const children = calls.map((call) => restCalls(exchanges, call));
    assert.deepEqual(
      children.map((c) => c.map((e) => [e.protocol, e.method, e.http_status, e.status, e.target, e.session_id === calls[0]!.session_id])),
      [
        [['http', 'GET /api/pets', 200, 'ok', 'findPets', true]],
        [['http', 'POST /api/pets', 200, 'ok', 'addPet', true]],
        [['http', 'GET /api/pets/3', 200, 'ok', 'find_pet_by_id', true]],
        [['http', 'DELETE /api/pets/3', 204, 'ok', 'deletePet', true]],
        [['http', 'GET /api/pets/3', 404, 'error', 'find_pet_by_id', true]],
      ],
    );
    // The REST call's span is a child of its MCP exchange's.
    assert.equal(children[0]![0]!.trace_id, calls[0]!.trace_id);
    const rest = tapwire.record(children[1]![0]!.id);
    assert.deepEqual(JSON.parse(rest.request!.body!.toString()), { name: 'Kit', tag: 'cat' });
    assert.deepEqual(JSON.parse(rest.response!.body!.toString()), { id: 3, name: 'Kit', tag: 'cat' });
    // Token estimates for the generated tool definitions, as for any MCP server.
    const list = exchanges.find((e) => e.route === 'pets' && e.method === 'tools/list')!;
    const toolTokens = (JSON.parse(list.details!) as { tool_tokens?: Record<string, number> }).tool_tokens ?? {};
    assert.deepEqual(Object.keys(toolTokens).sort(), ['addPet', 'deletePet', 'findPets', 'find_pet_by_id']);
    assert.ok(Object.values(toolTokens).every((n) => n > 0));
  });

  test('the Museum API (OpenAPI 3.1) through a v2 client: every operation, the route\'s credentials sent and never recorded', async (t) => {
    const apis = await startApis(t);
    const tapwire = await start(t, apis);
    const client = await connectV2(t, `${tapwire.url}/museum`, 'auto');
    const { tools } = await client.listTools();
    // One tool per operation of the paths; the document's webhook is not one (the API calls it, not the agent).
    assert.deepEqual(tools.map((tool) => tool.name), ['getMuseumHours', 'listSpecialEvents', 'createSpecialEvent', 'getSpecialEvent', 'deleteSpecialEvent', 'updateSpecialEvent', 'buyMuseumTickets', 'getTicketCode']);
    const update = tools.find((tool) => tool.name === 'updateSpecialEvent')!;
    assert.deepEqual(update.inputSchema.required, ['eventId', 'body']);
    assert.equal(update.description, 'Update special event\n\nUpdate the details of a special event.');
    // Parameters shared through components/parameters, resolved: their schema and description.
    const hours = tools.find((tool) => tool.name === 'getMuseumHours')!;
    assert.deepEqual(Object.keys(hours.inputSchema.properties ?? {}), ['startDate', 'page', 'limit']);
    assert.equal((hours.inputSchema.properties as Record<string, { maximum?: number }>).limit?.maximum, 30);

    const open = (await client.callTool({ name: 'getMuseumHours', arguments: { startDate: '2023-09-13', page: 1, limit: 5 } })) as ToolResult;
    // The 200 schema is an array: the answer is structuredContent.result.
    assert.deepEqual((open.structuredContent as { result: { date: string }[] }).result.map((h) => h.date), ['2023-09-13', '2023-09-14']);
    const listed = (await client.callTool({ name: 'listSpecialEvents', arguments: { startDate: '2023-12-01', endDate: '2023-12-31' } })) as ToolResult;
    assert.deepEqual((listed.structuredContent as { result: { name: string }[] }).result.map((e) => e.name), ['Sasquatch Ballet']);
    const event = { name: 'Mermaid Treasure Identification and Analysis', location: 'Under the seaaa 🦀 🎶 🌊.', eventDescription: 'Join us as we review and classify a rare collection of thingamabobs.', dates: ['2023-09-05', '2023-09-08'], price: 0 };
    const created = (await client.callTool({ name: 'createSpecialEvent', arguments: { body: event } })) as ToolResult;
    const { eventId } = created.structuredContent as { eventId: string };
    assert.deepEqual(created.structuredContent, { eventId, ...event });
    const got = (await client.callTool({ name: 'getSpecialEvent', arguments: { eventId } })) as ToolResult;
    assert.equal((got.structuredContent as { location: string }).location, 'Under the seaaa 🦀 🎶 🌊.');
    const updated = (await client.callTool({ name: 'updateSpecialEvent', arguments: { eventId, body: { location: 'On the beach.', price: 15 } } })) as ToolResult;
    assert.deepEqual(updated.structuredContent, { eventId, ...event, location: 'On the beach.', price: 15 });
    // The 201 schema is an allOf of objects: the answer is structuredContent as it is.
    const bought = (await client.callTool({ name: 'buyMuseumTickets', arguments: { body: { ticketType: 'event', eventId, ticketDate: '2023-09-05', email: 'todd@example.com' } } })) as ToolResult;
    const ticket = bought.structuredContent as { ticketId: string; message: string };
    assert.equal(ticket.message, 'Museum special event ticket purchased');
    // An image answer is MCP image content, its bytes as they came.
    const qr = (await client.callTool({ name: 'getTicketCode', arguments: { ticketId: ticket.ticketId } })) as ToolResult;
    assert.deepEqual(qr.content, [{ type: 'image', data: TICKET_PNG.toString('base64'), mimeType: 'image/png' }]);
    assert.equal(qr.structuredContent, undefined);
    const removed = (await client.callTool({ name: 'deleteSpecialEvent', arguments: { eventId } })) as ToolResult;
    assert.equal(text(removed), 'HTTP 204');
    const gone = (await client.callTool({ name: 'getSpecialEvent', arguments: { eventId } })) as ToolResult;
    assert.equal(gone.isError, true);
    assert.equal(text(gone), `HTTP 404 from GET /museum/special-events/${eventId}: {"type":"https://example.com/errors/problem","title":"no special event ${eventId}"}`);

    assert.deepEqual(
      apis.museum.calls.map((c) => `${c.method} ${c.url}`),
      [
        'GET /museum/museum-hours?startDate=2023-09-13&page=1&limit=5',
        'GET /museum/special-events?startDate=2023-12-01&endDate=2023-12-31',
        'POST /museum/special-events',
        `GET /museum/special-events/${eventId}`,
        `PATCH /museum/special-events/${eventId}`,
        'POST /museum/tickets',
        `GET /museum/tickets/${ticket.ticketId}/qr`,
        `DELETE /museum/special-events/${eventId}`,
        `GET /museum/special-events/${eventId}`,
      ],
    );
    assert.deepEqual(JSON.parse(apis.museum.calls[4]!.body), { location: 'On the beach.', price: 15 });
    // Every call carried the route's credentials (else the server answers 401).
    assert.ok(apis.museum.calls.every((c) => c.headers.authorization === MUSEUM_AUTH));

    const exchanges = await tapwire.stop();
    const calls = exchanges.filter((e) => e.route === 'museum' && e.method === 'tools/call');
    assert.deepEqual(
      calls.map((call) => restCalls(exchanges, call).map((e) => [e.method, e.http_status, e.status, e.target])),
      [
        [['GET /museum/museum-hours', 200, 'ok', 'getMuseumHours']],
        [['GET /museum/special-events', 200, 'ok', 'listSpecialEvents']],
        [['POST /museum/special-events', 201, 'ok', 'createSpecialEvent']],
        [[`GET /museum/special-events/${eventId}`, 200, 'ok', 'getSpecialEvent']],
        [[`PATCH /museum/special-events/${eventId}`, 200, 'ok', 'updateSpecialEvent']],
        [['POST /museum/tickets', 201, 'ok', 'buyMuseumTickets']],
        [[`GET /museum/tickets/${ticket.ticketId}/qr`, 200, 'ok', 'getTicketCode']],
        [[`DELETE /museum/special-events/${eventId}`, 204, 'ok', 'deleteSpecialEvent']],
        [[`GET /museum/special-events/${eventId}`, 404, 'error', 'getSpecialEvent']],
      ],
    );
    const rest = exchanges.filter((e) => e.route === 'museum' && e.protocol === 'http');
    // The image is recorded byte for byte.
    assert.deepEqual(tapwire.record(rest.find((e) => e.target === 'getTicketCode')!.id).response?.body, TICKET_PNG);
    for (const e of rest) assert.equal(tapwire.record(e.id).request?.headers.authorization, '[redacted]');
    assert.ok(!readFileSync(tapwire.dbPath).includes(MUSEUM_AUTH.slice('Basic '.length)), 'the credentials are nowhere in the database');
  });

  test('parameter styles: path simple/label/matrix, query form/space/pipe/deepObject, header, cookie, a form body; a timeout and bad arguments as tool errors', async (t) => {
    const apis = await startApis(t);
    const tapwire = await start(t, apis);
    const client = await connectV1(t, `${tapwire.url}/styles`);
    const { tools } = await client.listTools();
    const search = tools.find((tool) => tool.name === 'querySearch')!;
    // The cookie "session" shares its name with the query parameter: it gets its location as a prefix.
    assert.ok('cookie_session' in (search.inputSchema.properties ?? {}));
    assert.deepEqual(search.inputSchema.required, ['X-Request-Id']);

    const paths = (await client.callTool({ name: 'pathStyles', arguments: { list: [1, 2, 3], label: ['a', 'b c'], matrix: { x: 1, y: 2 } } })) as ToolResult;
    assert.equal((paths.structuredContent as { url: string }).url, '/v1/paths/1,2,3/.a,b%20c/;x=1;y=2');

    const query = (await client.callTool({
      name: 'querySearch',
      arguments: {
        ids: [1, 2],
        tags: ['red', 'blue'],
        words: ['big', 'small'],
        codes: ['a', 'b'],
        filter: { color: 'red', size: 3 },
        point: { lat: 52.5, lon: 13.4 },
        session: 'q&a',
        'X-Request-Id': 'req-1',
        'X-Dims': [3, 4],
        cookie_session: 'abc',
        prefs: ['dark', 'compact'],
      },
    })) as ToolResult;
    const echoed = query.structuredContent as { url: string; headers: Record<string, string> };
    assert.equal(echoed.url, '/v1/search?ids=1&ids=2&tags=red,blue&words=big%20small&codes=a%7Cb&filter%5Bcolor%5D=red&filter%5Bsize%5D=3&lat=52.5&lon=13.4&session=q%26a');
    assert.deepEqual(echoed.headers, { 'x-request-id': 'req-1', 'x-dims': '3,4', cookie: 'session=abc; prefs=dark,compact' });

    const form = (await client.callTool({ name: 'submitForm', arguments: { body: { name: 'Ann Lee', note: 'a&b' } } })) as ToolResult;
    assert.deepEqual(form.structuredContent, { method: 'POST', url: '/v1/forms', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'name=Ann%20Lee&note=a%26b' });

    const slow = (await client.callTool({ name: 'slow', arguments: {} })) as ToolResult;
    assert.equal(slow.isError, true);
    assert.match(text(slow), new RegExp(`slow failed: upstream http://127\\.0\\.0\\.1:\\d+ \\(route styles\\) sent no response within ${STYLES_TIMEOUT_MS} ms`));
    const bad = (await client.callTool({ name: 'querySearch', arguments: { ids: [1] } })) as ToolResult;
    assert.equal(bad.isError, true);
    assert.equal(text(bad), 'tapwire could not call querySearch: missing argument X-Request-Id (the header parameter X-Request-Id)');
    const deep = (await client.callTool({ name: 'querySearch', arguments: { 'X-Request-Id': 'r', filter: 'flat' } })) as ToolResult;
    assert.equal(text(deep), 'tapwire could not call querySearch: argument filter must be an object (the query parameter filter has style deepObject)');

    const exchanges = await tapwire.stop();
    const timedOut = restCalls(exchanges, toolCalls(exchanges, 'styles', 'slow')[0]!);
    assert.deepEqual(timedOut.map((e) => [e.status, e.error_code, e.http_status]), [['error', 'upstream_timeout', null]]);
    // Arguments no request can be made from reach no server: no REST call is recorded.
    assert.equal(restCalls(exchanges, toolCalls(exchanges, 'styles', 'querySearch')[1]!).length, 0);
  });

  test('an answer over 16 MiB is a tool error; the REST call is recorded with its status and what was read, truncated', async (t) => {
    const apis = await startApis(t);
    const tapwire = await start(t, apis);
    const client = await connectV1(t, `${tapwire.url}/styles`);
    const big = (await client.callTool({ name: 'big', arguments: {} })) as ToolResult;
    assert.equal(big.isError, true);
    assert.equal(text(big), `big failed: the answer is larger than ${16 * 1024 * 1024} bytes`);

    const exchanges = await tapwire.stop();
    const [rest, ...others] = restCalls(exchanges, toolCalls(exchanges, 'styles', 'big')[0]!);
    assert.equal(others.length, 0);
    assert.deepEqual([rest!.method, rest!.status, rest!.error_code, rest!.http_status], ['GET /v1/big', 'error', 'answer_too_large', 200]);
    // What was read: past 16 MiB, short of the whole answer (tapwire stopped reading).
    assert.ok(rest!.response_bytes > 16 * 1024 * 1024 && rest!.response_bytes < BIG_ANSWER_BYTES, String(rest!.response_bytes));
    const response = tapwire.record(rest!.id).response!;
    assert.equal(response.truncated, true);
    assert.equal(response.body_size, rest!.response_bytes);
    assert.match(String(response.headers['content-type']), /^text\/plain/);
    // Stored cut to store.max_body_bytes (1 MiB by default).
    assert.equal(response.body!.length, 1024 * 1024);
    assert.ok(response.body!.every((byte) => byte === 0x78));
  });

  test('an openapi route as a member of a federated route: prefixed tools, the per-server MCP exchange between the agent\'s and the REST call', async (t) => {
    const apis = await startApis(t);
    const tapwire = await start(t, apis);
    const client = await connectV1(t, `${tapwire.url}/all`);
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    assert.ok(names.includes('pets_findPets') && names.includes('museum_listSpecialEvents'), names.join(', '));
    const pets = (await client.callTool({ name: 'pets_findPets', arguments: { tags: ['cat'] } })) as ToolResult;
    assert.deepEqual(pets.structuredContent, { result: [{ id: 2, name: 'Tom', tag: 'cat' }] });
    const events = (await client.callTool({ name: 'museum_listSpecialEvents', arguments: { endDate: '2023-11-30' } })) as ToolResult;
    assert.deepEqual((events.structuredContent as { result: { name: string }[] }).result.map((e) => e.name), ['The Great Parrot Debate']);

    const exchanges = await tapwire.stop();
    const agentCall = toolCalls(exchanges, 'all', 'pets_findPets')[0]!;
    const [serverCall, ...others] = restCalls(exchanges, agentCall);
    assert.equal(others.length, 0);
    assert.deepEqual([serverCall!.route, serverCall!.protocol, serverCall!.method, serverCall!.target], ['pets', 'mcp', 'tools/call', 'findPets']);
    assert.deepEqual(restCalls(exchanges, serverCall!).map((e) => [e.route, e.protocol, e.method, e.http_status]), [['pets', 'http', 'GET /api/pets', 200]]);
  });

  test('policies see the tool name and arguments as on any MCP route: a denied call never reaches the REST API', async (t) => {
    const apis = await startApis(t);
    const policy = writePolicyFile(t, ['rules:', '  - name: no-deleting-pets', '    when: mcp.tool == "deletePet" && mcp.arguments.id == 1', '    action: deny'].join('\n'));
    const tapwire = await start(t, apis, [`policies: [${JSON.stringify(policy)}]`]);
    const client = await connectV1(t, `${tapwire.url}/pets`);
    const denied = (await client.callTool({ name: 'deletePet', arguments: { id: 1 } })) as ToolResult;
    assert.equal(denied.isError, true);
    assert.match(text(denied), /no-deleting-pets/);
    const allowed = (await client.callTool({ name: 'deletePet', arguments: { id: 2 } })) as ToolResult;
    assert.equal(text(allowed), 'HTTP 204');
    assert.deepEqual(apis.pets.calls.map((c) => `${c.method} ${c.url}`), ['DELETE /api/pets/2']);
    const exchanges = await tapwire.stop();
    const [refused, allowedCall] = toolCalls(exchanges, 'pets', 'deletePet');
    assert.equal(refused!.status, 'denied');
    assert.equal(restCalls(exchanges, refused!).length, 0);
    assert.equal(restCalls(exchanges, allowedCall!).length, 1);
  });
});
